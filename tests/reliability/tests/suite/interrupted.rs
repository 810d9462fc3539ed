//! Interrupted work (part 4 of the suite): an offboard-user or sync-group dropped
//! half-way (its future dropped once the emulator has counted K successful writes, as
//! when an execution environment is killed), then the same event delivered again: the
//! store converges, and a leaver never keeps a membership after the re-run.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use turnstile::Service;
use turnstile_emulator::{FaultConfig, FaultSpec};
use turnstile_reliability::harness::{BUDGET, Outcome};
use turnstile_reliability::people::{self, person};
use turnstile_reliability::{Emu, Function, deliver, invoke, logs, sizing};

/// Runs the invocation until it ends or the emulator counts `k` more successful writes;
/// in the second case the invocation's future is dropped and `None` returned.
async fn run_until_writes(
    emu: &Emu,
    service: &Service,
    function: Function,
    payload: &Value,
    k: u64,
) -> Option<Outcome> {
    let before = emu.writes().await;
    let work = invoke(service, function, payload.clone(), BUDGET);
    tokio::pin!(work);
    loop {
        tokio::select! {
            outcome = &mut work => return Some(outcome),
            () = tokio::time::sleep(Duration::from_millis(1)) => {
                if emu.writes().await - before >= k {
                    return None;
                }
            }
        }
    }
}

/// Writes take a while, so that K writes can be observed before the rest are done.
fn slow_writes() -> FaultConfig {
    let mut config = FaultConfig::default();
    for op in [
        "CreateGroupMembership",
        "DeleteGroupMembership",
        "DeleteUser",
        "CreateGroup",
    ] {
        config.operations.insert(
            op.to_owned(),
            FaultSpec {
                latency_ms: 15,
                ..FaultSpec::default()
            },
        );
    }
    config
}

/// The first ten of the people's groups.
const TEN_GROUPS: &[&str] = people::GROUPS.split_at(10).0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_offboarding_finishes_when_the_event_is_delivered_again() {
    people::register(2, 1);
    let leaver = person(0, 0);
    let colleague = person(1, 0);
    let mut runs = 0;
    let mut interrupted = 0;
    for mode in [None, Some("revoke")] {
        for concurrency in [1, 8] {
            for k in [1u64, 4, 7, 9] {
                let emu = Emu::start(300 + k).await;
                let setup = emu.service().await;
                for p in [&leaver, &colleague] {
                    deliver(&setup, Function::OnboardUser, &people::onboard(p, TEN_GROUPS))
                        .await
                        .outcome
                        .expect("setup");
                }
                emu.set_faults(&slow_writes()).await;
                let service = emu.service_with(|c| c.write_concurrency = concurrency).await;
                let event = people::offboard(&leaver.user_name, mode);
                let label = format!("mode {mode:?}, concurrency {concurrency}, K {k}");
                runs += 1;
                if run_until_writes(&emu, &service, Function::OffboardUser, &event, k)
                    .await
                    .is_none()
                {
                    interrupted += 1;
                }
                let mid = emu.snapshot().await;
                let counters = emu.counters().await;
                if !mid.users.contains_key(&leaver.user_name) {
                    assert!(
                        counters.get("DeleteGroupMembership", "ok") >= 10,
                        "{label}: the user was deleted before its memberships were removed"
                    );
                }
                // The event again, from a fresh execution environment.
                let again = emu.service().await;
                let result = deliver(&again, Function::OffboardUser, &event)
                    .await
                    .outcome
                    .expect("the re-run succeeds");
                emu.clear_faults().await;
                let end = emu.snapshot().await;
                assert!(
                    end.groups_of(&leaver.user_name).is_empty(),
                    "{label}: the leaver kept {:?} ({result})",
                    end.groups_of(&leaver.user_name)
                );
                assert_eq!(
                    end.users.contains_key(&leaver.user_name),
                    mode == Some("revoke"),
                    "{label}: {result}"
                );
                assert_eq!(
                    end.groups_of(&colleague.user_name),
                    TEN_GROUPS.iter().map(|g| (*g).to_owned()).collect::<BTreeSet<_>>(),
                    "{label}: the colleague is untouched"
                );
                assert_eq!(end.anomalies(), 0);
            }
        }
    }
    assert!(
        interrupted > runs / 2,
        "most runs were cut half-way ({interrupted}/{runs})"
    );
    sizing::report(
        "interrupted-offboarding",
        &json!({ "runs": runs, "interruptedHalfWay": interrupted, "membershipsLeftAfterRerun": 0 }),
    );
    assert_eq!(logs::findings(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_roster_sync_converges_when_the_event_is_delivered_again() {
    people::register(16, 1);
    let names = |range: std::ops::Range<usize>| range.map(|i| person(i, 0).user_name).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        // (mode, roster, expected members after; the group starts with people 0..10)
        ("replace", names(5..15), names(5..15)),
        ("add", names(10..15), names(0..15)),
        ("remove", names(0..6), names(6..10)),
    ];
    let mut runs = 0;
    let mut interrupted = 0;
    for (mode, roster, expected) in &cases {
        for concurrency in [1, 8] {
            for k in [1u64, 2, 4, 7] {
                let emu = Emu::start(400 + k).await;
                let setup = emu.service().await;
                for i in 0..15 {
                    deliver(&setup, Function::OnboardUser, &people::onboard(&person(i, 0), &[]))
                        .await
                        .outcome
                        .expect("setup");
                }
                deliver(
                    &setup,
                    Function::SyncGroup,
                    &people::sync("Payments Platform", &names(0..10), "replace"),
                )
                .await
                .outcome
                .expect("setup");
                emu.set_faults(&slow_writes()).await;
                let service = emu.service_with(|c| c.write_concurrency = concurrency).await;
                let event = people::sync("Payments Platform", roster, mode);
                let label = format!("{mode}, concurrency {concurrency}, K {k}");
                runs += 1;
                if run_until_writes(&emu, &service, Function::SyncGroup, &event, k)
                    .await
                    .is_none()
                {
                    interrupted += 1;
                }
                let again = emu.service().await;
                deliver(&again, Function::SyncGroup, &event)
                    .await
                    .outcome
                    .expect("the re-run succeeds");
                emu.clear_faults().await;
                let end = emu.snapshot().await;
                assert_eq!(
                    end.members("Payments Platform"),
                    expected.iter().cloned().collect::<BTreeSet<_>>(),
                    "{label}"
                );
                assert_eq!(end.anomalies(), 0);
            }
        }
    }
    assert!(
        interrupted > runs / 2,
        "most runs were cut half-way ({interrupted}/{runs})"
    );
    sizing::report(
        "interrupted-roster-sync",
        &json!({ "runs": runs, "interruptedHalfWay": interrupted, "convergedAfterRerun": runs }),
    );
    assert_eq!(logs::findings(), vec![]);
}
