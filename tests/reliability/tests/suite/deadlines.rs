//! Deadlines (part 3 of the suite): with little time left and a service that asks for
//! more waiting than that (RetryAfterSeconds 30 against a 2.5 s budget and the default
//! 1 s DEADLINE_MARGIN_MS), every function returns its retryable error before the
//! deadline instead of timing out.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use turnstile_emulator::{FaultConfig, FaultSpec};
use turnstile_reliability::people::{self, person};
use turnstile_reliability::{Emu, Function, deliver, invoke, logs, sizing};

const BUDGET: Duration = Duration::from_millis(2500);

/// A throttle on `operation` (or every operation) with RetryAfterSeconds 30.
fn hinted_throttle(operation: Option<&str>) -> FaultConfig {
    let spec = FaultSpec {
        throttle_next: 1000,
        throttle_retry_after: Some(30),
        ..FaultSpec::default()
    };
    let mut config = FaultConfig::default();
    match operation {
        Some(op) => {
            config.operations.insert(op.to_owned(), spec);
        }
        None => config.default = spec,
    }
    config
}

/// The event each function gets, after a setup that gives it work to do.
async fn setup(emu: &Emu, function: Function) -> Value {
    people::register(3, 2);
    let service = emu.service().await;
    let joiner = person(0, 0);
    let groups = ["All Staff", "Team Aurora", "Team Borealis"];
    deliver(&service, Function::OnboardUser, &people::onboard(&joiner, &groups))
        .await
        .outcome
        .expect("setup");
    deliver(&service, Function::OnboardUser, &people::onboard(&person(1, 0), &[]))
        .await
        .outcome
        .expect("setup");
    match function {
        Function::OnboardUser => people::onboard(&person(0, 1), &["All Staff", "Team Cirrus"]),
        Function::OffboardUser => people::offboard(&joiner.user_name, Some("revoke")),
        Function::SyncGroup => people::sync(
            "Team Aurora",
            &[person(1, 0).user_name, "nobody.known".to_owned()],
            "replace",
        ),
    }
}

/// A later write of each function, to throttle once the job is under way.
const fn later_write(function: Function) -> &'static str {
    match function {
        Function::OnboardUser => "UpdateUser",
        Function::OffboardUser => "DeleteGroupMembership",
        Function::SyncGroup => "CreateGroupMembership",
    }
}

struct Case {
    name: &'static str,
    faults: FaultConfig,
    adjust: fn(&mut turnstile::Config),
    expected: &'static str,
}

fn cases(function: Function) -> Vec<Case> {
    vec![
        Case {
            name: "RetryAfterSeconds 30 on the first call",
            faults: hinted_throttle(None),
            adjust: |_| {},
            expected: "Throttled",
        },
        Case {
            name: "RetryAfterSeconds 30 on a later write",
            faults: hinted_throttle(Some(later_write(function))),
            adjust: |_| {},
            expected: "Throttled",
        },
        Case {
            name: "rate limit with RetryAfterSeconds 30",
            faults: FaultConfig {
                default: FaultSpec {
                    rate_limit: Some(0.1),
                    burst: Some(1.0),
                    rate_limit_retry_after: Some(30),
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            },
            adjust: |_| {},
            expected: "Throttled",
        },
        Case {
            name: "throttling without a hint and a long backoff",
            faults: FaultConfig {
                default: FaultSpec {
                    throttle_next: 1000,
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            },
            adjust: |c| {
                c.retry.base_delay = Duration::from_millis(1500);
                c.retry.max_delay = Duration::from_secs(20);
            },
            expected: "Throttled",
        },
        Case {
            name: "InternalServerException with RetryAfterSeconds 30",
            faults: FaultConfig {
                default: FaultSpec {
                    error_next: 1000,
                    error_retry_after: Some(30),
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            },
            adjust: |_| {},
            expected: "ServiceUnavailable",
        },
        Case {
            name: "a call slower than the time left",
            faults: FaultConfig {
                default: FaultSpec {
                    latency_ms: 10_000,
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            },
            adjust: |_| {},
            expected: "ServiceUnavailable",
        },
    ]
}

async fn check(function: Function) -> Vec<Value> {
    let mut figures = Vec::new();
    for (n, case) in cases(function).into_iter().enumerate() {
        let emu = Emu::start(200 + n as u64).await;
        let payload = setup(&emu, function).await;
        emu.set_faults(&case.faults).await;
        // Default margin (1 s): the mock helpers' configuration keeps it.
        let service = emu.service_with(case.adjust).await;
        assert_eq!(service.config().deadline_margin, Duration::from_secs(1));
        let started = Instant::now();
        let outcome = invoke(&service, function, payload, BUDGET).await;
        let elapsed = started.elapsed();
        let error = outcome.expect_err("the function gives up");
        assert_eq!(
            error.error_type,
            case.expected,
            "{} / {}: {error:?}",
            function.name(),
            case.name
        );
        assert!(
            elapsed < BUDGET,
            "{} / {}: returned after {elapsed:?}, past the {BUDGET:?} budget",
            function.name(),
            case.name
        );
        figures.push(json!({
            "function": function.name(),
            "case": case.name,
            "errorType": error.error_type,
            "elapsedMs": elapsed.as_millis(),
            "budgetMs": BUDGET.as_millis(),
        }));
        emu.clear_faults().await;
    }
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onboard_user_returns_a_retryable_error_before_its_deadline() {
    let figures = check(Function::OnboardUser).await;
    sizing::report("deadlines-onboard-user", &json!(figures));
    assert_eq!(logs::findings(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboard_user_returns_a_retryable_error_before_its_deadline() {
    let figures = check(Function::OffboardUser).await;
    sizing::report("deadlines-offboard-user", &json!(figures));
    assert_eq!(logs::findings(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_group_returns_a_retryable_error_before_its_deadline() {
    let figures = check(Function::SyncGroup).await;
    sizing::report("deadlines-sync-group", &json!(figures));
    assert_eq!(logs::findings(), vec![]);
}
