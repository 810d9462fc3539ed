//! sync-group fed an SQS batch through the real binary: a roster applied, a bad record
//! named as failed.

use std::collections::BTreeSet;

use serde_json::json;
use turnstile_reliability::sqs::{self, Served};

const EXE: &str = env!("CARGO_BIN_EXE_sync-group");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_applies_the_roster_and_names_only_the_invalid_record() {
    let served = Served::start(EXE, "sync-group", &[]).await;
    let batch = sqs::batch(vec![
        sqs::request(
            "m-roster",
            &json!({"group": {"displayName": "Auditors"}, "members": [], "mode": "replace"}),
        ),
        sqs::request("m-no-group", &json!({"members": ["a"], "mode": "add"})),
    ]);
    let reply = served.invoke(&batch).await;
    let failed: BTreeSet<String> = ["m-no-group".to_owned()].into();
    assert_eq!(sqs::failures(&reply), failed);
    let counters = served.emu.admin.counters().await.expect("counters");
    assert_eq!(counters.get("CreateGroup", "ok"), 1);
    let lines = served.process.stop().await;
    assert_eq!(
        sqs::logged_failures(&lines).get("m-no-group").map(String::as_str),
        Some("InvalidEvent")
    );
}
