//! The contract's requests: decoding from either event form, and validation.
//!
//! Decoding is strict about types and limits and lenient about unknown fields, as the
//! contract asks. Limits are the Identity Store API's own (botocore's model), so a
//! request that passes here is one the service accepts, and a bad one is refused before
//! any call is made.

use std::sync::LazyLock;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use regex::Regex;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::event::{self, EventMeta};
use super::redact::redact;
use super::user::{Attribute, Items, MANAGER, Text, UserSpec};
use crate::Error;

/// Most group names one onboard-user request may list.
pub(crate) const MAX_GROUPS: usize = 100;
/// Most userNames one sync-group request may list. A roster this size is about 200 KB,
/// close to EventBridge's 256 KB event limit.
pub(crate) const MAX_MEMBERS: usize = 10_000;

/// `UserName` in the API model: 1–128 letters, marks, symbols, numbers, punctuation.
static USER_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").expect("static regex is valid"));
/// `SensitiveStringType` and `GroupDisplayName`: the same plus tab, newlines and spaces.
static TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\t\n\r \u{a0}\u{3000}]+$").expect("static regex is valid")
});
/// Names the service reserves for itself.
const RESERVED_NAMES: [&str; 2] = ["Administrator", "AWSAdministrators"];

/// Turns a Lambda payload, as the raw JSON text the runtime received, into a validated
/// request.
///
/// The functions take the payload raw (`Box<RawValue>`, which the runtime reads without
/// a nesting limit) and parse it here, so that a payload serde_json refuses (nested past
/// its recursion limit, say) is this function's `InvalidEvent`, not the runtime's own
/// deserialization error, whose `errorType` would be a Rust type name.
pub fn decode_json<T: DeserializeOwned + Validate>(text: &str) -> Result<(T, EventMeta), Error> {
    decode_event(parse_json(text)?)
}

/// The payload as JSON, or `InvalidEvent`.
pub(crate) fn parse_json(text: &str) -> Result<Value, Error> {
    serde_json::from_str(text).map_err(|err| {
        Error::InvalidEvent(format!(
            "the event is not JSON this function can read: {}",
            redact(&err.to_string())
        ))
    })
}

/// Turns a Lambda payload into a validated request: the `detail` of an EventBridge
/// envelope, or the detail itself.
pub fn decode<T: DeserializeOwned + Validate>(event: Value) -> Result<T, Error> {
    decode_event(event).map(|(request, _)| request)
}

/// [`decode`], with the event's time and id (see [`EventMeta`]).
pub fn decode_event<T: DeserializeOwned + Validate>(event: Value) -> Result<(T, EventMeta), Error> {
    let (detail, meta) = detail_of(event)?;
    // serde also reads a struct from an array of its values in field order; the
    // contract's objects are objects.
    for path in T::OBJECTS {
        require_objects(&detail, path, path)?;
    }
    let request: T = serde_path_to_error::deserialize(detail).map_err(|err| {
        let path = err.path().to_string();
        let message = redact_decoding(&err.into_inner().to_string());
        if path == "." {
            Error::InvalidEvent(message)
        } else {
            Error::InvalidEvent(format!("{path}: {message}"))
        }
    })?;
    let mut problems = Problems::default();
    request.validate(&mut problems);
    problems.into_result((request, meta))
}

/// serde's messages quote the offending value ("invalid type: string \"…\"",
/// "unknown variant `…`") but also field names and expectations, which are worth
/// keeping ("missing field `userName`", "expected `delete` or `revoke`"). Only the
/// value is dropped; whatever else is left goes through the general redaction.
fn redact_decoding(message: &str) -> String {
    static VALUE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"^(invalid (?:type|value|length): [a-z ]+?) (?:"(?:[^"\\]|\\.)*"|`[^`]*`)|^(unknown variant) `[^`]*`"#,
        )
        .expect("static regex is valid")
    });
    let without_value = VALUE.replace(message, "$1$2");
    let (head, expected) = match without_value.split_once(", expected ") {
        Some((head, expected)) => (head.to_owned(), format!(", expected {expected}")),
        None => (without_value.into_owned(), String::new()),
    };
    if let Some(field) = head.strip_prefix("missing field ") {
        return format!("missing field {field}{expected}");
    }
    format!("{}{expected}", redact(&head))
}

fn detail_of(event: Value) -> Result<(Value, EventMeta), Error> {
    let Value::Object(map) = &event else {
        return Err(Error::InvalidEvent("the event must be a JSON object".into()));
    };
    // An envelope is recognised by the two members EventBridge always sets; the
    // function never branches on what `detail-type` says.
    if !(map.contains_key("detail-type") && map.contains_key("detail")) {
        let meta = event::meta(None, &event)?;
        return Ok((event, meta));
    }
    let fields = map.clone();
    let envelope: EventBridgeEvent<Value> = serde_json::from_value(event)
        .map_err(|err| Error::InvalidEvent(format!("malformed EventBridge envelope: {}", redact(&err.to_string()))))?;
    match envelope.detail {
        detail @ Value::Object(_) => {
            let meta = event::meta(Some(&fields), &detail)?;
            Ok((detail, meta))
        }
        _ => Err(Error::InvalidEvent("detail: must be a JSON object".into())),
    }
}

/// Checks a decoded request against the contract's and the API's limits.
pub trait Validate {
    /// Paths (`a.b`, `a[]` for every item) that must hold JSON objects when present.
    const OBJECTS: &'static [&'static str];

    fn validate(&self, problems: &mut Problems);
}

fn require_objects(value: &Value, rest: &str, path: &str) -> Result<(), Error> {
    let (head, tail) = rest.split_once('.').unwrap_or((rest, ""));
    let (key, every_item) = head.strip_suffix("[]").map_or((head, false), |k| (k, true));
    let Some(child) = value.get(key).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let targets: Vec<&Value> = match (every_item, child) {
        (true, Value::Array(items)) => items.iter().collect(),
        (true, _) => return Ok(()),
        (false, child) => vec![child],
    };
    for target in targets {
        if tail.is_empty() {
            if !target.is_object() {
                return Err(Error::InvalidEvent(format!("{path}: must be a JSON object")));
            }
        } else {
            require_objects(target, tail, path)?;
        }
    }
    Ok(())
}

/// Reads an enum from its JSON string only (serde would also take `{"name": null}`).
fn from_string<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + std::str::FromStr<Err = String>,
{
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(T::default()),
        Some(Value::String(s)) => s.parse().map_err(serde::de::Error::custom),
        Some(_) => Err(serde::de::Error::custom("invalid type, expected a string")),
    }
}

/// How many validation findings an error message lists.
const SHOWN_PROBLEMS: usize = 5;

/// Validation findings, as field paths and rules (never values).
#[derive(Debug, Default)]
pub struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, path: &str, rule: &str) {
        self.0.push(format!("{path}: {rule}"));
    }

    fn into_result<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let mut message = self
            .0
            .iter()
            .take(SHOWN_PROBLEMS)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if self.0.len() > SHOWN_PROBLEMS {
            message = format!("{message}; and {} more", self.0.len() - SHOWN_PROBLEMS);
        }
        Err(Error::InvalidEvent(message))
    }

    fn user_name(&mut self, path: &str, value: &str) {
        let chars = value.chars().count();
        if !(1..=128).contains(&chars) {
            self.push(path, "must be 1 to 128 characters");
        } else if !USER_NAME.is_match(value) {
            self.push(
                path,
                "may hold only letters, marks, symbols, numbers and punctuation (no spaces or control characters)",
            );
        } else if RESERVED_NAMES.contains(&value) {
            self.push(path, "is a name the Identity Store reserves");
        }
    }

    fn text(&mut self, path: &str, value: &str, max: usize) {
        let chars = value.chars().count();
        if chars == 0 || chars > max {
            self.push(path, &format!("must be 1 to {max} characters"));
        } else if !TEXT.is_match(value) {
            self.push(path, "may not hold control characters other than tab and newlines");
        } else if value.trim().is_empty() {
            self.push(path, "may not be blank");
        }
    }

    fn opt_text(&mut self, path: &str, value: Option<&String>) {
        if let Some(value) = value {
            self.text(path, value, 1024);
        }
    }

    /// Every attribute of [`super::user::ATTRIBUTES`], with the API's limits.
    fn user(&mut self, user: &UserSpec) {
        for attribute in super::user::ATTRIBUTES {
            match attribute {
                Attribute::Text(t) => self.attribute(&format!("user.{}", t.field), t, user),
                Attribute::Name(parts) => {
                    for part in *parts {
                        self.attribute(&format!("user.{}", part.path), &part.text, &user.name);
                    }
                }
                Attribute::Contacts(items) => self.items(items, user),
                Attribute::Addresses(items) => self.items(items, user),
                Attribute::Photos(items) => self.items(items, user),
                Attribute::Roles(items) => self.items(items, user),
                Attribute::Enterprise(members) => {
                    let Some(enterprise) = &user.enterprise else { continue };
                    for member in *members {
                        let path = format!("user.enterprise.{}", member.field);
                        match (member.get)(enterprise) {
                            Some(manager) if member.field == MANAGER => self.user_name(&path, manager),
                            Some(value) => self.text(&path, value, 1024),
                            None => {}
                        }
                    }
                }
            }
        }
        if let Some(birthdate) = &user.birthdate {
            if !is_date(birthdate) {
                self.push("user.birthdate", "must be a date as YYYY-MM-DD");
            }
        }
    }

    fn attribute<T>(&mut self, path: &str, text: &Text<T>, holder: &T) {
        if let Some(value) = (text.get)(holder) {
            self.text(path, value, 1024);
        }
    }

    fn items<T>(&mut self, items: &Items<T>, user: &UserSpec) {
        let path = format!("user.{}", items.field);
        let Some(list) = (items.get)(user) else { return };
        if items.max == 1 && list.len() != 1 {
            self.push(
                &path,
                "must hold exactly one item (the Identity Store keeps one per user)",
            );
            return;
        }
        if !(1..=items.max).contains(&list.len()) {
            self.push(&path, &format!("must hold 1 to {} items", items.max));
            return;
        }
        if list.iter().filter(|item| (items.primary)(item) == Some(true)).count() > 1 {
            self.push(&path, "may mark at most one item as primary");
        }
        for (i, item) in list.iter().enumerate() {
            if items.needs_a_field && items.fields.iter().all(|f| (f.text.get)(item).is_none()) {
                self.push(&format!("{path}[{i}]"), "must set at least one field");
            }
            for field in items.fields {
                self.attribute(&format!("{path}[{i}].{}", field.text.field), &field.text, item);
            }
        }
    }

    fn names(&mut self, path: &str, names: &[String], max: usize, check: impl Fn(&mut Self, &str, &str)) {
        if names.len() > max {
            self.push(path, &format!("may list at most {max} names"));
            return;
        }
        // Repeats are allowed (HR exports repeat people); the jobs act on each name once.
        for (i, name) in names.iter().enumerate() {
            check(self, &format!("{path}[{i}]"), name);
        }
    }
}

/// Whether `text` is a calendar date written `YYYY-MM-DD`, the form the API reference
/// gives for `birthdate` (its model only limits it as text).
fn is_date(text: &str) -> bool {
    // `%Y` alone would also take a sign or more than four digits.
    text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// onboard-user's request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardRequest {
    pub user: UserSpec,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

impl Validate for OnboardRequest {
    const OBJECTS: &'static [&'static str] = &[
        "user",
        "user.name",
        "user.emails[]",
        "user.phoneNumbers[]",
        "user.addresses[]",
        "user.photos[]",
        "user.roles[]",
        "user.enterprise",
    ];

    fn validate(&self, p: &mut Problems) {
        p.user_name("user.userName", &self.user.user_name);
        p.user(&self.user);
        if let Some(groups) = &self.groups {
            p.names("groups", groups, MAX_GROUPS, |p, path, name| p.text(path, name, 1024));
        }
    }
}

/// offboard-user's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OffboardMode {
    /// Remove every membership, then delete the user.
    #[default]
    Delete,
    /// Remove every membership, keep the user.
    Revoke,
}

/// offboard-user's request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffboardRequest {
    pub user_name: String,
    #[serde(default, deserialize_with = "from_string")]
    pub mode: OffboardMode,
}

impl Validate for OffboardRequest {
    const OBJECTS: &'static [&'static str] = &[];

    fn validate(&self, p: &mut Problems) {
        p.user_name("userName", &self.user_name);
    }
}

impl std::str::FromStr for OffboardMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "delete" => Ok(Self::Delete),
            "revoke" => Ok(Self::Revoke),
            _ => Err("unknown variant, expected `delete` or `revoke`".into()),
        }
    }
}

impl std::str::FromStr for SyncMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "replace" => Ok(Self::Replace),
            "add" => Ok(Self::Add),
            "remove" => Ok(Self::Remove),
            _ => Err("unknown variant, expected `replace`, `add` or `remove`".into()),
        }
    }
}

/// sync-group's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncMode {
    /// The group ends with exactly the listed members that exist.
    #[default]
    Replace,
    /// Only add the listed members.
    Add,
    /// Only remove the listed members.
    Remove,
}

/// sync-group's `group`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSpec {
    pub display_name: String,
    pub description: Option<String>,
}

/// sync-group's request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRequest {
    pub group: GroupSpec,
    pub members: Vec<String>,
    #[serde(default, deserialize_with = "from_string")]
    pub mode: SyncMode,
    #[serde(default, deserialize_with = "null_is_default")]
    pub dry_run: bool,
    pub max_removals: Option<u32>,
}

impl Validate for SyncRequest {
    const OBJECTS: &'static [&'static str] = &["group"];

    fn validate(&self, p: &mut Problems) {
        p.text("group.displayName", &self.group.display_name, 1024);
        p.opt_text("group.description", self.group.description.as_ref());
        p.names("members", &self.members, MAX_MEMBERS, Problems::user_name);
    }
}

fn null_is_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
