//! No personal data in logs or error messages.
//!
//! Every fixture (the project's `tests/fixtures/` and this crate's `fixtures/`, valid
//! and invalid, both event forms) is run through its function against the emulator
//! (plain, and with faults so that retries log WARN lines and exhausted retries return
//! errors) and against mocked Identity Stores whose every error message echoes personal
//! values, as real service messages can ("Value 'x' at 'userName' failed ..."). The
//! capture (see `turnstile_reliability::logs`) scans every log line of the test binary
//! and every errorMessage for the fixtures' userNames, personal names, email
//! addresses, phone numbers and street addresses. Then the same through the real
//! lambda_runtime (the probe binary, JSON logs), whose own error log lines are scanned.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::error::ErrorMetadata;
use aws_sdk_identitystore::operation as op;
use aws_sdk_identitystore::types::ConflictExceptionReason;
use aws_sdk_identitystore::types::error::{
    AccessDeniedException, ConflictException, InternalServerException, ResourceNotFoundException, ThrottlingException,
    ValidationException,
};
use aws_smithy_mocks::{Rule, mock};
use serde_json::{Value, json};
use turnstile::testing;
use turnstile_emulator::{FaultConfig, FaultSpec};
use turnstile_reliability::harness::kind;
use turnstile_reliability::runtime_api::{FakeRuntime, Probe};
use turnstile_reliability::{Emu, Function, invoke, logs, sizing};

/// Keys whose string values are personal data.
const PERSONAL_KEYS: [&str; 17] = [
    "userName",
    "givenName",
    "familyName",
    "middleName",
    "formatted",
    "nickName",
    "profileUrl",
    "value",
    "streetAddress",
    "locality",
    "postalCode",
    "region",
    "email",
    "owner",
    // The enterprise extension's and the newer model's: an employee number identifies a
    // person, the manager is another person's userName.
    "employeeNumber",
    "manager",
    "website",
];

fn personal_values(value: &Value, key: Option<&str>, in_user: bool, out: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let personal = key.is_some_and(|k| PERSONAL_KEYS.contains(&k) || (k == "displayName" && in_user))
                || key == Some("members")
                || key == Some("resources");
            // Invalid fixtures hold strings like "aaaa…" or "Administrator": not
            // personal, and too generic to look for.
            if personal && s.chars().any(char::is_alphabetic) && !s.chars().all(|c| c == s.chars().next().unwrap_or(c))
            {
                out.push(s.clone());
                // The local part and the phone digits alone too.
                if let Some((local, _)) = s.split_once('@') {
                    out.push(local.to_owned());
                }
            }
            // A birthdate has no letters, and is personal all the same.
            if key == Some("birthdate") && s.len() >= 8 {
                out.push(s.clone());
            }
            if s.starts_with('+') {
                out.push(s.chars().filter(char::is_ascii_digit).collect());
            }
        }
        Value::Number(n) if n.as_u64().is_some_and(|n| n > 1_000_000) => out.push(n.to_string()),
        // Lists longer than a roster's worth are generated filler (over-the-cap fixtures).
        Value::Array(items) if items.len() <= 50 => items.iter().for_each(|v| personal_values(v, key, in_user, out)),
        Value::Object(map) => {
            for (k, v) in map {
                personal_values(v, Some(k), in_user || k == "user", out);
            }
        }
        _ => {}
    }
}

struct Fixture {
    path: PathBuf,
    function: Function,
    payload: Value,
    invalid: bool,
}

fn fixtures() -> Vec<Fixture> {
    let roots = [
        testing::fixtures_dir(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
    ];
    let mut out = Vec::new();
    for root in roots {
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("fixtures readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let text = path.to_string_lossy().into_owned();
                let function = if text.contains("onboard-user") {
                    Function::OnboardUser
                } else if text.contains("offboard-user") {
                    Function::OffboardUser
                } else if text.contains("sync-group") {
                    Function::SyncGroup
                } else if text.contains("/e2e/") {
                    Function::OnboardUser
                } else {
                    continue;
                };
                let payload: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable"))
                    .expect("fixtures are JSON");
                out.push(Fixture {
                    invalid: text.contains("/invalid/"),
                    path,
                    function,
                    payload,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn register(fixtures: &[Fixture]) -> usize {
    let mut values = Vec::new();
    for fixture in fixtures {
        personal_values(&fixture.payload, None, false, &mut values);
    }
    values.sort();
    values.dedup();
    let count = values.len();
    logs::register_pii(values);
    count
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

/// Service error messages that echo personal values the way service messages do:
/// quoted ('…', "…", `…`), and email addresses and phone numbers also bare.
fn echo(fixture: &Value) -> String {
    let mut values = Vec::new();
    personal_values(fixture, None, false, &mut values);
    let mut clauses = vec!["1 validation error detected".to_owned()];
    for (i, value) in values.iter().enumerate() {
        clauses.push(match i % 3 {
            0 => format!("Value '{value}' at 'userName' failed to satisfy constraint"),
            1 => format!("invalid value \"{value}\" for member"),
            _ => format!("`{value}` already exists"),
        });
        let phone = value.starts_with('+') || value.chars().all(|c| c.is_ascii_digit() || " -()".contains(c));
        let bare_ok = value.contains('@') || (phone && value.chars().filter(char::is_ascii_digit).count() >= 7);
        if bare_ok {
            clauses.push(format!("contact {value} for details"));
        }
    }
    clauses.join("; ")
}

#[derive(Debug, Clone, Copy)]
enum Echo {
    Validation,
    Denied,
    Throttled,
    Internal,
    Conflict,
    Uniqueness,
    NotFound,
}

/// Every operation failing with `kind`, its message `message`.
fn echoing(kind: Echo, message: &str) -> Vec<Rule> {
    let m = message.to_owned();
    macro_rules! every {
        ($variant:ident, $value:expr) => {
            vec![
                mock!(Client::create_user).then_error({
                    let m = m.clone();
                    move || op::create_user::CreateUserError::$variant($value(&m))
                }),
                mock!(Client::describe_user).then_error({
                    let m = m.clone();
                    move || op::describe_user::DescribeUserError::$variant($value(&m))
                }),
                mock!(Client::update_user).then_error({
                    let m = m.clone();
                    move || op::update_user::UpdateUserError::$variant($value(&m))
                }),
                mock!(Client::delete_user).then_error({
                    let m = m.clone();
                    move || op::delete_user::DeleteUserError::$variant($value(&m))
                }),
                mock!(Client::get_user_id).then_error({
                    let m = m.clone();
                    move || op::get_user_id::GetUserIdError::$variant($value(&m))
                }),
                mock!(Client::list_users).then_error({
                    let m = m.clone();
                    move || op::list_users::ListUsersError::$variant($value(&m))
                }),
                mock!(Client::create_group).then_error({
                    let m = m.clone();
                    move || op::create_group::CreateGroupError::$variant($value(&m))
                }),
                mock!(Client::describe_group).then_error({
                    let m = m.clone();
                    move || op::describe_group::DescribeGroupError::$variant($value(&m))
                }),
                mock!(Client::update_group).then_error({
                    let m = m.clone();
                    move || op::update_group::UpdateGroupError::$variant($value(&m))
                }),
                mock!(Client::get_group_id).then_error({
                    let m = m.clone();
                    move || op::get_group_id::GetGroupIdError::$variant($value(&m))
                }),
                mock!(Client::create_group_membership).then_error({
                    let m = m.clone();
                    move || op::create_group_membership::CreateGroupMembershipError::$variant($value(&m))
                }),
                mock!(Client::delete_group_membership).then_error({
                    let m = m.clone();
                    move || op::delete_group_membership::DeleteGroupMembershipError::$variant($value(&m))
                }),
                mock!(Client::get_group_membership_id).then_error({
                    let m = m.clone();
                    move || op::get_group_membership_id::GetGroupMembershipIdError::$variant($value(&m))
                }),
                mock!(Client::list_group_memberships).then_error({
                    let m = m.clone();
                    move || op::list_group_memberships::ListGroupMembershipsError::$variant($value(&m))
                }),
                mock!(Client::list_group_memberships_for_member).then_error({
                    let m = m.clone();
                    move || {
                        op::list_group_memberships_for_member::ListGroupMembershipsForMemberError::$variant($value(&m))
                    }
                }),
                mock!(Client::is_member_in_groups).then_error({
                    let m = m.clone();
                    move || op::is_member_in_groups::IsMemberInGroupsError::$variant($value(&m))
                }),
            ]
        };
    }
    macro_rules! writes {
        ($variant:ident, $value:expr) => {
            vec![
                mock!(Client::create_user).then_error({
                    let m = m.clone();
                    move || op::create_user::CreateUserError::$variant($value(&m))
                }),
                mock!(Client::update_user).then_error({
                    let m = m.clone();
                    move || op::update_user::UpdateUserError::$variant($value(&m))
                }),
                mock!(Client::delete_user).then_error({
                    let m = m.clone();
                    move || op::delete_user::DeleteUserError::$variant($value(&m))
                }),
                mock!(Client::create_group).then_error({
                    let m = m.clone();
                    move || op::create_group::CreateGroupError::$variant($value(&m))
                }),
                mock!(Client::update_group).then_error({
                    let m = m.clone();
                    move || op::update_group::UpdateGroupError::$variant($value(&m))
                }),
                mock!(Client::create_group_membership).then_error({
                    let m = m.clone();
                    move || op::create_group_membership::CreateGroupMembershipError::$variant($value(&m))
                }),
                mock!(Client::delete_group_membership).then_error({
                    let m = m.clone();
                    move || op::delete_group_membership::DeleteGroupMembershipError::$variant($value(&m))
                }),
            ]
        };
    }
    match kind {
        Echo::Validation => every!(ValidationException, validation),
        Echo::Denied => every!(AccessDeniedException, denied),
        Echo::Throttled => every!(ThrottlingException, throttled),
        Echo::Internal => every!(InternalServerException, internal),
        Echo::NotFound => every!(ResourceNotFoundException, not_found),
        Echo::Conflict => {
            let mut rules = writes!(ConflictException, concurrent);
            rules.extend(every!(ValidationException, validation));
            rules
        }
        Echo::Uniqueness => {
            let mut rules = writes!(ConflictException, uniqueness);
            rules.extend(every!(ValidationException, validation));
            rules
        }
    }
}

/// Service errors whose message (and metadata) is `m`, as the service sends them.
macro_rules! echoing {
    ($($name:ident: $error:ident $(($reason:ident))?;)*) => {$(
        fn $name(m: &str) -> $error {
            $error::builder()
                .message(m)
                $(.reason(ConflictExceptionReason::$reason))?
                .meta(meta(stringify!($error), m))
                .build()
        }
    )*};
}

echoing! {
    validation: ValidationException;
    denied: AccessDeniedException;
    throttled: ThrottlingException;
    internal: InternalServerException;
    not_found: ResourceNotFoundException;
    concurrent: ConflictException(ConcurrentModification);
    uniqueness: ConflictException(UniquenessConstraintViolation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_personal_data_reaches_a_log_line_or_an_error_message() {
    logs::install();
    let fixtures = fixtures();
    let registered = register(&fixtures);
    assert!(
        registered >= 40,
        "the fixtures carry personal data ({registered} values)"
    );
    let lines_before = logs::lines();
    let mut invocations = 0u64;
    let mut error_types = std::collections::BTreeMap::<String, u64>::new();
    let mut count = |outcome: &turnstile_reliability::Outcome| {
        *error_types.entry(kind(outcome)).or_default() += 1;
    };

    // Against the emulator: plain, then with throttling, server errors and conflicts
    // that retries absorb (WARN lines) or that outlast two attempts (errors).
    let emu = Emu::start(600).await;
    let plain = emu.service().await;
    let short = emu.service_with(|c| c.retry.max_attempts = 2).await;
    for fixture in &fixtures {
        let outcome = invoke(
            &plain,
            fixture.function,
            fixture.payload.clone(),
            Duration::from_secs(30),
        )
        .await;
        invocations += 1;
        if fixture.invalid {
            assert_eq!(
                kind(&outcome),
                "InvalidEvent",
                "{}: {outcome:?}",
                fixture.path.display()
            );
        }
        count(&outcome);
    }
    for (n, spec) in [
        FaultSpec {
            throttle_next: 3,
            ..FaultSpec::default()
        },
        FaultSpec {
            error_next: 5,
            ..FaultSpec::default()
        },
        FaultSpec {
            conflict_probability: 0.7,
            ..FaultSpec::default()
        },
        FaultSpec {
            throttle_probability: 0.5,
            ..FaultSpec::default()
        },
    ]
    .into_iter()
    .enumerate()
    {
        for fixture in fixtures.iter().filter(|f| !f.invalid) {
            emu.set_faults(&FaultConfig {
                seed: n as u64,
                default: spec.clone(),
                ..FaultConfig::default()
            })
            .await;
            let service = if n % 2 == 0 { &plain } else { &short };
            let outcome = invoke(
                service,
                fixture.function,
                fixture.payload.clone(),
                Duration::from_secs(30),
            )
            .await;
            invocations += 1;
            count(&outcome);
        }
    }
    emu.clear_faults().await;

    // Against stores whose every error echoes the fixture's personal values.
    for fixture in fixtures.iter().filter(|f| !f.invalid) {
        let message = echo(&fixture.payload);
        for echo_kind in [
            Echo::Validation,
            Echo::Denied,
            Echo::Throttled,
            Echo::Internal,
            Echo::Conflict,
            Echo::Uniqueness,
            Echo::NotFound,
        ] {
            let rules = echoing(echo_kind, &message);
            let refs: Vec<&Rule> = rules.iter().collect();
            let service = testing::service_with(&refs, |c| c.retry.max_attempts = 2);
            let outcome = invoke(
                &service,
                fixture.function,
                fixture.payload.clone(),
                Duration::from_secs(30),
            )
            .await;
            invocations += 1;
            count(&outcome);
            // And with CREATE_MISSING_GROUPS=false: GroupNotFound names groups only.
            if fixture.function == Function::OnboardUser {
                let service = testing::service_with(&refs, |c| c.create_missing_groups = false);
                let outcome = invoke(
                    &service,
                    fixture.function,
                    fixture.payload.clone(),
                    Duration::from_secs(30),
                )
                .await;
                invocations += 1;
                count(&outcome);
            }
        }
    }

    // The same events through the real runtime: its own ERROR lines carry the error's
    // Debug form, and its decoding failures.
    let runtime_lines = through_the_runtime(&emu, &fixtures).await;
    for line in &runtime_lines {
        logs::scan("log", line);
    }

    let levels = logs::levels();
    let findings = logs::findings();
    sizing::report(
        "personal-data",
        &json!({
            "fixtures": fixtures.len(),
            "personalValuesRegistered": logs::registered(),
            "invocations": invocations,
            "outcomes": error_types,
            "logLinesScannedInProcess": logs::lines() - lines_before,
            "logLinesScannedInThisBinary": logs::lines(),
            "linesByLevel": levels,
            "runtimeProbeLinesScanned": runtime_lines.len(),
            "errorMessagesScanned": logs::error_messages(),
            "findings": findings.len(),
        }),
    );
    assert!(logs::lines() > lines_before, "log lines were captured");
    for level in ["INFO", "WARN", "ERROR"] {
        assert!(
            levels.get(level).copied().unwrap_or(0) > 0,
            "{level} lines were captured: {levels:?}"
        );
    }
    assert!(
        error_types.contains_key("Rejected") && error_types.contains_key("Throttled"),
        "{error_types:?}"
    );
    assert!(!runtime_lines.is_empty());
    assert_eq!(findings, vec![], "personal data in logs or error messages");
}

async fn through_the_runtime(emu: &Emu, fixtures: &[Fixture]) -> Vec<String> {
    let mut lines = Vec::new();
    for function in Function::ALL {
        let runtime = FakeRuntime::start().await;
        let probe = Probe::spawn(
            Path::new(env!("CARGO_BIN_EXE_turnstile-runtime-probe")),
            function.name(),
            runtime.addr,
            &emu.endpoint(),
            &[("MAX_ATTEMPTS", "2")],
        );
        for fixture in fixtures.iter().filter(|f| f.function == function) {
            // Every other event meets throttling that outlasts the two attempts.
            emu.set_faults(&FaultConfig {
                default: FaultSpec {
                    throttle_probability: 0.6,
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            })
            .await;
            let body = serde_json::to_vec(&fixture.payload).expect("serializable");
            let reply = runtime
                .invoke(&body, Duration::from_secs(20))
                .await
                .expect("the runtime answers");
            if let Some(message) = reply.json().get("errorMessage").and_then(Value::as_str) {
                logs::scan("errorMessage", message);
            }
        }
        // And payloads the runtime itself refuses, holding personal data.
        for raw in [
            &br#"{"userName": "ottilie.vandersloot", "mode": "revoke""#[..],
            b"{\"userName\": \"Ottilie Vandersloot \xff\"}",
        ] {
            let reply = runtime.invoke(raw, Duration::from_secs(20)).await.expect("answered");
            if let Some(message) = reply.json().get("errorMessage").and_then(Value::as_str) {
                logs::scan("errorMessage", message);
            }
        }
        emu.clear_faults().await;
        lines.extend(probe.stop().await);
    }
    lines
}
