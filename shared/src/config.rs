//! Function configuration from the environment, validated once at init.

use std::time::Duration;

use crate::Error;
use crate::RetryPolicy;

/// Everything the functions read from their environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `IDENTITY_STORE_ID` (required).
    pub identity_store_id: String,
    /// `MAX_ATTEMPTS` and the backoff bounds.
    pub retry: RetryPolicy,
    /// `CREATE_MISSING_GROUPS` (default true).
    pub create_missing_groups: bool,
    /// `MAX_REMOVALS` (default 50).
    pub max_removals: usize,
    /// `MAX_CONCURRENCY` (default 8): Identity Store calls in flight at once within
    /// one invocation.
    pub write_concurrency: usize,
    /// `EXPECTED_STORE_USERS` (default 1000): how many users the store holds, to price
    /// resolving a roster by ListUsers against one GetUserId per name.
    pub expected_store_users: usize,
    /// `CALLS_PER_SECOND` (default 20): the calls per second this execution
    /// environment may always send to any one Identity Store API, its guaranteed floor;
    /// 0 turns pacing off.
    pub calls_per_second: u32,
    /// `MAX_CALLS_PER_SECOND` (default `CALLS_PER_SECOND`): the most it borrows above
    /// the floor while the service does not throttle it.
    pub max_calls_per_second: u32,
    /// `DEADLINE_MARGIN_MS` (default 1000): time kept back from the Lambda deadline to
    /// return an error instead of being killed by the timeout.
    pub deadline_margin: Duration,
    /// `AWS_CA_BUNDLE`: a PEM file of CA roots to trust besides the Amazon roots.
    pub ca_bundle: Option<String>,
    /// `LEAVERS_GROUP` (default `turnstile-leavers`; empty turns the fence off):
    /// display name of the group that marks revoked leavers (see `fence`). The default
    /// applies to the environment: [`Config::new`], for callers that build one in code,
    /// leaves the fence off.
    pub leavers_group: Option<String>,
    /// `LISTING_LAG_MS` (default 0): how far behind completed writes the store's
    /// look-ups and listings may be, which no AWS document rules out. offboard-user and
    /// sync-group wait this long before their first read, and the leavers fence before
    /// each read that must see the other side's write (docs/contract.md, "Writes that
    /// look-ups see late").
    pub listing_lag: Duration,
    /// `LEDGER_TABLE` (default unset): the DynamoDB table of the event ledger, which
    /// turns the order and duplicate checks on (see `jobs/ledger.rs`).
    pub ledger_table: Option<String>,
    /// `LEDGER_RETENTION_DAYS` (default 400): how long the ledger keeps each subject's
    /// history of applied events.
    pub ledger_retention_days: u32,
}

impl Config {
    /// The leavers group when `LEAVERS_GROUP` is unset: the contract turns the fence on by
    /// default, so that a revoke racing a roster sync never leaves a membership behind.
    /// Public for `cargo xtask describe`, which the template's default is checked against.
    pub const DEFAULT_LEAVERS_GROUP: &'static str = "turnstile-leavers";

    /// A configuration with defaults for everything but the store and the leavers
    /// fence, which it leaves off: code that builds one (the tests, the benchmark's
    /// budgets) turns the fence on by naming its group, so that it is on only where asked.
    pub fn new(identity_store_id: impl Into<String>) -> Self {
        Self {
            identity_store_id: identity_store_id.into(),
            retry: RetryPolicy::default(),
            create_missing_groups: true,
            max_removals: 50,
            write_concurrency: 8,
            expected_store_users: 1000,
            calls_per_second: 20,
            max_calls_per_second: 20,
            deadline_margin: Duration::from_secs(1),
            ca_bundle: None,
            leavers_group: None,
            listing_lag: Duration::ZERO,
            ledger_table: None,
            ledger_retention_days: 400,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the process
    /// environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        // Every variable is checked, and every problem named at once: an operator fixes a
        // stack's environment in one deploy, not one variable per deploy.
        let mut problems = Problems::default();
        let id = match lookup("IDENTITY_STORE_ID").map(|v| v.trim().to_owned()) {
            None => problems.add("IDENTITY_STORE_ID is not set"),
            Some(id) if id.is_empty() => problems.add("IDENTITY_STORE_ID is not set"),
            Some(id) if !is_identity_store_id(&id) => problems.add(
                "IDENTITY_STORE_ID must be d- followed by 10 lowercase hex digits, a UUID, or an identity store ARN",
            ),
            Some(id) => id,
        };
        let mut config = Self::new(id);
        let defaults = RetryPolicy::default();
        let mut number = |key: &str, default: u64, range: std::ops::RangeInclusive<u64>| {
            problems.take(number(&lookup, key, default, range), default)
        };
        config.retry = RetryPolicy {
            max_attempts: u32::try_from(number("MAX_ATTEMPTS", u64::from(defaults.max_attempts), 1..=20))
                .unwrap_or(defaults.max_attempts),
            base_delay: Duration::from_millis(number("BACKOFF_BASE_MS", 100, 1..=10_000)),
            max_delay: Duration::from_millis(number("BACKOFF_MAX_MS", 10_000, 1..=300_000)),
        };
        config.max_removals = usize::try_from(number("MAX_REMOVALS", 50, 0..=1_000_000)).unwrap_or(50);
        config.write_concurrency = usize::try_from(number("MAX_CONCURRENCY", 8, 1..=64)).unwrap_or(8);
        config.calls_per_second = u32::try_from(number("CALLS_PER_SECOND", 20, 0..=1000)).unwrap_or(20);
        config.max_calls_per_second = u32::try_from(number(
            "MAX_CALLS_PER_SECOND",
            u64::from(config.calls_per_second),
            0..=1000,
        ))
        .unwrap_or(config.calls_per_second);
        config.expected_store_users =
            usize::try_from(number("EXPECTED_STORE_USERS", 1000, 0..=100_000_000)).unwrap_or(1000);
        config.deadline_margin = Duration::from_millis(number("DEADLINE_MARGIN_MS", 1000, 0..=60_000));
        config.listing_lag = Duration::from_millis(number("LISTING_LAG_MS", 0, 0..=60_000));
        config.ledger_retention_days = u32::try_from(number("LEDGER_RETENTION_DAYS", 400, 1..=36_500)).unwrap_or(400);
        config.create_missing_groups = problems.take(boolean(&lookup, "CREATE_MISSING_GROUPS", true), true);
        if config.calls_per_second > 0 && config.max_calls_per_second < config.calls_per_second {
            problems.add::<()>(&format!(
                "MAX_CALLS_PER_SECOND ({}) must be at least CALLS_PER_SECOND ({}), the floor it borrows above",
                config.max_calls_per_second, config.calls_per_second
            ));
        }
        config.ca_bundle = lookup("AWS_CA_BUNDLE").filter(|v| !v.trim().is_empty());
        config.leavers_group = match lookup("LEAVERS_GROUP") {
            None => Some(Self::DEFAULT_LEAVERS_GROUP.to_owned()),
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name),
        };
        if let Some(name) = &config.leavers_group {
            // The service checks the full pattern; a regex here would cost every cold start.
            let chars = name.chars().count();
            if chars > 1024 || name.trim().is_empty() || name.chars().any(|c| c.is_control() && !"\t\n\r".contains(c)) {
                problems.add::<()>(
                    "LEAVERS_GROUP must be a group display name: 1 to 1024 characters, not blank, no control characters",
                );
            }
        }
        config.ledger_table = lookup("LEDGER_TABLE")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if config
            .ledger_table
            .as_deref()
            .is_some_and(|table| !is_table_name(table))
        {
            problems.add::<()>(
                "LEDGER_TABLE must be a DynamoDB table name (3 to 255 letters, digits, '_', '-', '.') or a table ARN",
            );
        }
        problems.into_result(config)
    }
}

/// The configuration's problems, each naming its variable and why.
#[derive(Debug, Default)]
struct Problems(Vec<String>);

impl Problems {
    /// Notes a problem; the empty value stands in for the missing one.
    fn add<T: Default>(&mut self, problem: &str) -> T {
        self.0.push(problem.to_owned());
        T::default()
    }

    /// The value, or `fallback` with the problem noted.
    fn take<T>(&mut self, value: Result<T, String>, fallback: T) -> T {
        value.unwrap_or_else(|problem| {
            self.0.push(problem);
            fallback
        })
    }

    fn into_result<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(Error::Configuration(self.0.join("; ")))
        }
    }
}

/// DynamoDB's TableName: a name (`[a-zA-Z0-9_.-]{3,255}`) or a table's ARN, which the
/// API also takes.
fn is_table_name(value: &str) -> bool {
    let name = match value.strip_prefix("arn:") {
        Some(rest) => match rest.rsplit_once(":table/") {
            Some((_, name)) => name,
            None => return false,
        },
        None => value,
    };
    (3..=255).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// The API model's pattern for an identity store id: `d-` and 10 lowercase hex digits or
/// a UUID, optionally inside the identity store ARN
/// (`arn:aws[a-z-]*:identitystore::\d{12}:identitystore/`). Checked by hand rather than
/// with a regex: compiling one costs about a millisecond of every cold start.
fn is_identity_store_id(value: &str) -> bool {
    let id = match value.strip_prefix("arn:aws") {
        None => value,
        Some(rest) => {
            let Some((partition, rest)) = rest.split_once(':') else {
                return false;
            };
            let Some((account, id)) = rest
                .strip_prefix("identitystore::")
                .and_then(|r| r.split_once(":identitystore/"))
            else {
                return false;
            };
            if !partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                || account.len() != 12
                || !account.bytes().all(|b| b.is_ascii_digit())
            {
                return false;
            }
            id
        }
    };
    let hex =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if let Some(digits) = id.strip_prefix("d-") {
        return hex(digits, 10);
    }
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5 && parts.iter().zip([8, 4, 4, 4, 12]).all(|(part, len)| hex(part, len))
}

fn number<T>(
    lookup: &impl Fn(&str) -> Option<String>,
    key: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = lookup(key).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(format!(
            "{key} must be an integer from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

fn boolean(lookup: &impl Fn(&str) -> Option<String>, key: &str, default: bool) -> Result<bool, String> {
    match lookup(key).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(format!("{key} must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let error = Config::from_lookup(env(&[
            ("IDENTITY_STORE_ID", "d-123"),
            ("MAX_ATTEMPTS", "99"),
            ("CREATE_MISSING_GROUPS", "maybe"),
            ("LEDGER_TABLE", "x"),
        ]))
        .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.error_type(), "Configuration");
        for variable in [
            "IDENTITY_STORE_ID",
            "MAX_ATTEMPTS",
            "CREATE_MISSING_GROUPS",
            "LEDGER_TABLE",
        ] {
            assert!(message.contains(variable), "{variable} is not named: {message}");
        }
    }

    #[test]
    fn the_listing_lag_is_read_in_milliseconds_and_none_by_default() {
        let store = ("IDENTITY_STORE_ID", "d-1234567890");
        assert_eq!(Config::from_lookup(env(&[store])).unwrap().listing_lag, Duration::ZERO);
        let config = Config::from_lookup(env(&[store, ("LISTING_LAG_MS", "1500")])).unwrap();
        assert_eq!(config.listing_lag, Duration::from_millis(1500));
        let error = Config::from_lookup(env(&[store, ("LISTING_LAG_MS", "60001")])).unwrap_err();
        assert!(error.to_string().contains("LISTING_LAG_MS"), "{error}");
    }

    #[test]
    fn the_ceiling_defaults_to_the_floor_and_may_not_lie_below_it() {
        let store = ("IDENTITY_STORE_ID", "d-1234567890");
        let config = Config::from_lookup(env(&[store, ("CALLS_PER_SECOND", "4")])).unwrap();
        assert_eq!((config.calls_per_second, config.max_calls_per_second), (4, 4));
        let config =
            Config::from_lookup(env(&[store, ("CALLS_PER_SECOND", "4"), ("MAX_CALLS_PER_SECOND", "20")])).unwrap();
        assert_eq!((config.calls_per_second, config.max_calls_per_second), (4, 20));
        let error =
            Config::from_lookup(env(&[store, ("CALLS_PER_SECOND", "6"), ("MAX_CALLS_PER_SECOND", "3")])).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("MAX_CALLS_PER_SECOND (3) must be at least CALLS_PER_SECOND (6)"),
            "{error}"
        );
    }

    #[test]
    fn defaults_apply_when_only_the_store_is_set() {
        let config = Config::from_lookup(env(&[("IDENTITY_STORE_ID", "d-1234567890")])).unwrap();
        // The environment's one default that `Config::new` does not share: the fence.
        let mut expected = Config::new("d-1234567890");
        expected.leavers_group = Some(Config::DEFAULT_LEAVERS_GROUP.to_owned());
        assert_eq!(config, expected);
    }

    #[test]
    fn the_leavers_fence_is_on_unless_leavers_group_is_set_empty() {
        let fence = |value: Option<&str>| {
            let mut vars = vec![("IDENTITY_STORE_ID", "d-1234567890")];
            vars.extend(value.map(|v| ("LEAVERS_GROUP", v)));
            Config::from_lookup(env(&vars)).unwrap().leavers_group
        };
        assert_eq!(fence(None).as_deref(), Some("turnstile-leavers"));
        assert_eq!(fence(Some("")), None);
        assert_eq!(fence(Some("Revoked leavers")).as_deref(), Some("Revoked leavers"));
    }

    #[test]
    fn every_accepted_store_id_form_is_accepted() {
        for id in [
            "d-1234567890",
            "d-abcdef0123",
            "12345678-1234-1234-1234-123456789012",
            "arn:aws:identitystore::111122223333:identitystore/d-1234567890",
            "arn:aws-us-gov:identitystore::111122223333:identitystore/12345678-1234-1234-1234-123456789012",
        ] {
            assert!(Config::from_lookup(env(&[("IDENTITY_STORE_ID", id)])).is_ok(), "{id}");
        }
    }

    #[test]
    fn a_missing_or_malformed_store_id_is_a_configuration_error() {
        for id in [
            "",
            "d-123",
            "d-ABCDEF0123",
            "store",
            "arn:aws:identitystore::1:identitystore/d-1234567890",
            "arn:aws:identitystore::111122223333:identitystore/",
            "arn:aws:iam::111122223333:identitystore/d-1234567890",
            "arn:AWS:identitystore::111122223333:identitystore/d-1234567890",
            "d-12345678901",
            "12345678-1234-1234-1234-12345678901",
            "12345678-1234-1234-1234-123456789012-",
            "12345678123412341234123456789012",
        ] {
            let err = Config::from_lookup(env(&[("IDENTITY_STORE_ID", id)])).unwrap_err();
            assert_eq!(err.error_type(), "Configuration", "{id}");
        }
        let err = Config::from_lookup(env(&[])).unwrap_err();
        assert_eq!(err, Error::Configuration("IDENTITY_STORE_ID is not set".into()));
    }

    #[test]
    fn bad_numbers_and_booleans_are_configuration_errors() {
        for (key, value) in [
            ("MAX_ATTEMPTS", "0"),
            ("MAX_ATTEMPTS", "many"),
            ("MAX_REMOVALS", "-1"),
            ("CREATE_MISSING_GROUPS", "yes"),
            ("MAX_CONCURRENCY", "1000"),
            ("LEAVERS_GROUP", "   "),
            ("LEAVERS_GROUP", "Leavers\u{7}"),
        ] {
            let err = Config::from_lookup(env(&[("IDENTITY_STORE_ID", "d-1234567890"), (key, value)])).unwrap_err();
            assert_eq!(err.error_type(), "Configuration", "{key}={value}");
            assert!(err.to_string().contains(key));
        }
    }

    #[test]
    fn explicit_settings_are_read() {
        let config = Config::from_lookup(env(&[
            ("IDENTITY_STORE_ID", "d-1234567890"),
            ("MAX_ATTEMPTS", "3"),
            ("CREATE_MISSING_GROUPS", "FALSE"),
            ("MAX_REMOVALS", "7"),
            ("LEAVERS_GROUP", "Revoked leavers"),
            ("AWS_CA_BUNDLE", "/etc/ssl/corporate.pem"),
        ]))
        .unwrap();
        assert_eq!(config.retry.max_attempts, 3);
        assert!(!config.create_missing_groups);
        assert_eq!(config.max_removals, 7);
        assert_eq!(config.leavers_group.as_deref(), Some("Revoked leavers"));
        assert_eq!(config.ca_bundle.as_deref(), Some("/etc/ssl/corporate.pem"));
    }

    proptest::proptest! {
        /// The hand-written check accepts exactly what the API model's pattern does.
        #[test]
        fn the_store_id_check_agrees_with_the_api_models_pattern(
            id in "(arn:aws[a-z-]{0,3}:identitystore::[0-9]{11,13}:identitystore/)?(d-[0-9a-fA-F]{9,11}|[0-9a-f]{7,9}-[0-9a-f]{4}-[0-9a-f]{3,4}-[0-9a-f]{4}-[0-9a-f]{12}|[ -~]{0,12})"
        ) {
            let pattern = regex::Regex::new(
                r"^(arn:aws[a-z-]*:identitystore::\d{12}:identitystore/)?(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
            )
            .unwrap();
            proptest::prop_assert_eq!(is_identity_store_id(&id), pattern.is_match(&id), "{}", id);
        }
    }
}
