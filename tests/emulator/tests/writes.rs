//! How sync-group schedules its writes: adds and removals go to different APIs, each
//! with its own quota, so neither waits behind the other.

use std::time::Duration;

use serde_json::json;
use turnstile::Deadline;
use turnstile_emulator::{FaultConfig, FaultSpec};

mod support;
use support::store::Bench;

#[tokio::test]
async fn a_removal_does_not_wait_behind_slow_adds() {
    let bench = Bench::start().await;
    for name in ["u0", "u1"] {
        bench.user(name).await;
    }
    let leaving = bench.user("u2").await;
    let roster = bench.group("roster").await;
    bench.member(&roster, &leaving).await;
    // One call in flight per stream; every add takes 3 s.
    let service = bench.service(|c| {
        c.write_concurrency = 1;
        c.calls_per_second = 0;
    });
    let mut faults = FaultConfig::default();
    faults.operations.insert(
        "CreateGroupMembership".into(),
        FaultSpec {
            latency_ms: 3000,
            ..FaultSpec::default()
        },
    );
    bench.admin.set_faults(&faults).await.unwrap();
    bench.count_from_now().await;
    let request = turnstile::decode(json!({ "group": { "displayName": "roster" }, "members": ["u0", "u1"] })).unwrap();

    let (result, early) = tokio::join!(service.sync_group(Deadline::unbounded(), request), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        bench.counters().await
    });
    let result = result.unwrap();

    // Had the removal queued behind the adds, it could not start before 3 s.
    assert_eq!(early.get("DeleteGroupMembership", "ok"), 1, "{early:?}");
    assert_eq!((result.added.len(), result.removed.len()), (2, 1));
}
