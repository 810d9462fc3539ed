//! offboard-user fed an SQS batch through the real binary: a leaver applied, a bad
//! record named as failed.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use turnstile_emulator::{FaultConfig, FaultSpec, ThrottleShape};
use turnstile_reliability::emf;
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

async fn admin(served: &Served, operation: &str, body: &Value) -> Value {
    let reply = served
        .emu
        .admin
        .call(operation, body)
        .await
        .expect("the emulator answers");
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invocation_writes_one_metrics_line_that_counts_its_writes_throttles_and_retries() {
    let served = Served::start(EXE, "offboard-user", &[]).await;
    let store = json!("d-1234567890");
    let user = admin(
        &served,
        "CreateUser",
        &json!({"IdentityStoreId": store, "UserName": "lee.leaver", "DisplayName": "Leaver",
                "Name": {"GivenName": "Lee", "FamilyName": "Leaver"}}),
    )
    .await;
    let group = admin(
        &served,
        "CreateGroup",
        &json!({"IdentityStoreId": store, "DisplayName": "Engineering"}),
    )
    .await;
    admin(
        &served,
        "CreateGroupMembership",
        &json!({"IdentityStoreId": store, "GroupId": group["GroupId"], "MemberId": {"UserId": user["UserId"]}}),
    )
    .await;
    // The next two requests are throttled as the real service was seen to throttle.
    let faults = FaultConfig {
        default: FaultSpec {
            throttle_next: 2,
            throttle_shape: ThrottleShape::Captured,
            ..FaultSpec::default()
        },
        ..FaultConfig::default()
    };
    served.emu.admin.set_faults(&faults).await.expect("faults set");

    let reply = served
        .invoke(&sqs::batch(vec![
            sqs::request("m-leaver", &json!({"userName": "lee.leaver"})),
            sqs::request("m-bad", &json!({"userName": ""})),
        ]))
        .await;
    assert_eq!(sqs::failures(&reply), ["m-bad".to_owned()].into());
    // A second invocation that writes nothing new.
    let reply = served
        .invoke(&sqs::batch(vec![sqs::request(
            "m-again",
            &json!({"userName": "lee.leaver"}),
        )]))
        .await;
    assert_eq!(sqs::failures(&reply), BTreeSet::new());
    let counters = served.emu.admin.counters().await.expect("counters");
    let lines = served.process.stop().await;

    let docs = emf::documents(&lines);
    let [first] = docs.as_slice() else {
        panic!("one metrics line for the invocation that did something, none for the other: {docs:#?}");
    };
    assert_eq!(first.namespace, "Turnstile");
    assert_eq!(
        first.dimensions,
        [("FunctionName".to_owned(), "offboard-user".to_owned())].into()
    );
    assert!(first.values.values().all(|(unit, _)| unit == "Count"), "{first:?}");
    assert_eq!(
        first.properties.keys().map(String::as_str).collect::<Vec<_>>(),
        ["requestId"],
        "only counts, the dimension and the request id: {first:?}"
    );
    let count = |name: &str| first.count(name);
    assert_eq!(count("UsersDeleted"), 1);
    assert_eq!(count("MembershipsRemoved"), 1);
    assert_eq!(count("FailedRecords"), 1);
    assert_eq!(counters.get("DeleteUser", "ok"), 1);
    assert_eq!(counters.get("DeleteGroupMembership", "ok"), 1);
    assert_eq!(counters.injected_total(), 2);
    assert_eq!(count("Throttles"), 2, "{first:?}");
    assert_eq!(count("Retries"), 2, "{first:?}");
}
