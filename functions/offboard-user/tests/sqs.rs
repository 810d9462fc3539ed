//! offboard-user fed an SQS batch through the real binary: a leaver applied, a bad
//! record named as failed.

use std::collections::BTreeSet;

use serde_json::json;
use turnstile_reliability::sqs::{self, Served};

const EXE: &str = env!("CARGO_BIN_EXE_offboard-user");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_deletes_the_leaver_and_names_only_the_invalid_record() {
    let served = Served::start(EXE, "offboard-user", &[]).await;
    let created = served
        .emu
        .admin
        .call(
            "CreateUser",
            &json!({"IdentityStoreId": "d-1234567890", "UserName": "lee.leaver", "DisplayName": "Leaver",
                    "Name": {"GivenName": "Lee", "FamilyName": "Leaver"}}),
        )
        .await
        .expect("the emulator answers");
    assert_eq!(created.status, 200, "{}", created.body);
    let batch = sqs::batch(vec![
        sqs::request("m-leaver", &json!({"userName": "lee.leaver"})),
        sqs::request("m-unknown-mode", &json!({"userName": "lee.leaver", "mode": "archive"})),
        sqs::request("m-nobody", &json!({"userName": "never.hired"})),
    ]);
    let reply = served.invoke(&batch).await;
    let failed: BTreeSet<String> = ["m-unknown-mode".to_owned()].into();
    assert_eq!(sqs::failures(&reply), failed);
    let counters = served.emu.admin.counters().await.expect("counters");
    assert_eq!(counters.get("DeleteUser", "ok"), 1);
    let lines = served.process.stop().await;
    assert_eq!(
        sqs::logged_failures(&lines).get("m-unknown-mode").map(String::as_str),
        Some("InvalidEvent")
    );
}
