//! Scrubbing of text that may echo request values.
//!
//! The Identity Store's messages and serde's decoding errors can quote the offending
//! value ("Value 'alice@example.com' at 'userName' failed ..."). Those values are
//! personal data, and errors end up in Step Functions histories and alarms, so every
//! quoted span and anything shaped like an email address is replaced before the text
//! leaves the crate.

use std::sync::LazyLock;

use regex::Regex;

static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""(?:[^"\\]|\\.)*"|'[^']*'|`[^`]*`"#).expect("static regex is valid"));
static EMAIL_LIKE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\S+@\S+").expect("static regex is valid"));
static DIGIT_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\d[\d \-().]{5,}\d").expect("static regex is valid"));

/// Replaces quoted spans, email-like tokens and phone-like digit runs with `…`.
pub(crate) fn redact(text: &str) -> String {
    let text = QUOTED.replace_all(text, "…");
    let text = EMAIL_LIKE.replace_all(&text, "…");
    DIGIT_RUN.replace_all(&text, "…").into_owned()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn quoted_values_emails_and_phone_numbers_are_removed() {
        let message = r#"Value 'alice@example.com' at 'userName' failed; invalid type: string "Alice Archer", expected a map; call +1 (555) 010-9999 or mail bob@example.org"#;
        let redacted = redact(message);
        assert_eq!(
            redacted,
            "Value … at … failed; invalid type: string …, expected a map; call … or mail …"
        );
    }

    #[test]
    fn text_without_values_is_kept() {
        assert_eq!(
            redact("missing field at line 1 column 2"),
            "missing field at line 1 column 2"
        );
    }
}
