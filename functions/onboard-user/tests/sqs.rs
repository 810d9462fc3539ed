//! onboard-user fed SQS batches (the contract's third event form) through the real
//! binary, under a fake Lambda Runtime API, against the emulator: each record on its own,
//! and exactly the failed ones named in `batchItemFailures`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use turnstile_emulator::{FaultConfig, FaultSpec};
use turnstile_reliability::emf;
use turnstile_reliability::sqs::{self, Served};

const EXE: &str = env!("CARGO_BIN_EXE_onboard-user");

fn event(path: &str) -> Value {
    let path = format!("{}/../../events/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn joiner(user_name: &str, groups: &[&str]) -> Value {
    json!({
        "user": {
            "userName": user_name,
            "displayName": "Joiner",
            "name": {"givenName": "Join", "familyName": "Er"},
            "emails": [{"value": format!("{user_name}@example.com"), "primary": true}]
        },
        "groups": groups
    })
}

fn ids(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|&id| id.to_owned()).collect()
}

async fn create_group(served: &Served, name: &str) {
    let reply = served
        .emu
        .admin
        .call(
            "CreateGroup",
            &json!({"IdentityStoreId": "d-1234567890", "DisplayName": name}),
        )
        .await
        .expect("the emulator answers");
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_batch_applies_both_joiners_and_names_no_failure() {
    let served = Served::start(EXE, "onboard-user", &[]).await;
    let batch = serde_json::to_vec(&event("onboard-user.sqs.json")).expect("serializes");
    let reply = served.invoke(&batch).await;
    assert_eq!(sqs::failures(&reply), BTreeSet::new());
    let counters = served.emu.admin.counters().await.expect("counters");
    assert_eq!(counters.get("CreateUser", "ok"), 2);
    served.process.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_names_exactly_the_failed_records_and_applies_the_good_ones_once() {
    let served = Served::start(EXE, "onboard-user", &[("CREATE_MISSING_GROUPS", "true")]).await;
    create_group(&served, "Engineering").await;
    // Every CreateGroup fails: a joiner whose group is new fails retryably.
    let mut faults = FaultConfig::default();
    faults.operations.insert(
        "CreateGroup".into(),
        FaultSpec {
            error_probability: 1.0,
            ..FaultSpec::default()
        },
    );
    served.emu.admin.set_faults(&faults).await.expect("faults set");

    let envelope = json!({
        "version": "0", "id": "evt-ada", "detail-type": "Employee Hired", "source": "com.example.hr",
        "account": "111122223333", "time": "2026-12-01T09:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": joiner("ada.good", &["Engineering"])
    });
    let records = vec![
        sqs::request("m-envelope", &envelope),
        sqs::request("m-detail", &joiner("ben.good", &["Engineering"])),
        sqs::request("m-invalid", &json!({"user": {"displayName": "No Name"}})),
        sqs::record("m-not-json", r#"{"user": "#),
        sqs::request("m-retryable", &joiner("cy.newgroup", &["Contractors"])),
        // The same event again, as SQS may deliver it twice in one batch.
        sqs::request("m-again", &envelope),
    ];
    let reply = served.invoke(&sqs::batch(records.clone())).await;
    assert_eq!(sqs::failures(&reply), ids(&["m-invalid", "m-not-json", "m-retryable"]));
    let counters = served.emu.admin.counters().await.expect("counters");
    // ada, ben, and cy (created before its group failed); ada once for two deliveries.
    assert_eq!(counters.get("CreateUser", "ok"), 3);
    assert_eq!(counters.get("CreateGroupMembership", "ok"), 2);

    // The failed ones are delivered again once the fault is gone: only cy's group is
    // left to do, and nothing is created twice.
    served
        .emu
        .admin
        .set_faults(&FaultConfig::default())
        .await
        .expect("faults cleared");
    let again: Vec<_> = records
        .into_iter()
        .filter(|r| matches!(r.message_id.as_deref(), Some("m-envelope" | "m-retryable")))
        .collect();
    let reply = served.invoke(&sqs::batch(again)).await;
    assert_eq!(sqs::failures(&reply), BTreeSet::new());
    let counters = served.emu.admin.counters().await.expect("counters");
    assert_eq!(counters.get("CreateUser", "ok"), 3);
    assert_eq!(counters.get("CreateGroup", "ok"), 2);
    assert_eq!(counters.get("CreateGroupMembership", "ok"), 3);

    let lines = served.process.stop().await;
    let logged = sqs::logged_failures(&lines);
    assert_eq!(
        logged.get("m-invalid").map(String::as_str),
        Some("InvalidEvent"),
        "{lines:#?}"
    );
    assert_eq!(logged.get("m-not-json").map(String::as_str), Some("InvalidEvent"));
    assert_eq!(
        logged.get("m-retryable").map(String::as_str),
        Some("ServiceUnavailable")
    );
    assert_eq!(logged.len(), 3);

    // One metrics line per invocation, counting what the emulator saw written; every
    // CreateGroup fault but the last (which failed the record) was retried.
    let docs = emf::documents(&lines);
    assert_eq!(docs.len(), 2, "{docs:#?}");
    let totals = emf::totals(&lines, "Turnstile");
    let count = |name: &str| totals.get(name).copied().unwrap_or(0);
    assert_eq!(count("UsersCreated"), 3, "{totals:?}");
    assert_eq!(count("MembershipsAdded"), 3, "{totals:?}");
    assert_eq!(count("FailedRecords"), 3, "{totals:?}");
    let faulted = counters.injected_total();
    assert!(faulted >= 1, "the CreateGroup fault was injected");
    assert_eq!(count("Retries"), faulted - 1, "{totals:?}");
    assert_eq!(count("Throttles"), 0, "{totals:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_cannot_be_answered_record_by_record_fails_whole_and_writes_nothing() {
    let served = Served::start(EXE, "onboard-user", &[]).await;
    let mut nameless = sqs::request("m-1", &joiner("ada.good", &[]));
    nameless.message_id = None;
    let batch = sqs::batch(vec![sqs::request("m-0", &joiner("ben.good", &[])), nameless]);
    let reply = served.invoke(&batch).await;
    assert_eq!(reply.error_type().as_deref(), Some("InvalidEvent"), "{}", reply.body);
    assert!(
        reply.body.contains("Records[1]: messageId is missing"),
        "{}",
        reply.body
    );
    let counters = served.emu.admin.counters().await.expect("counters");
    assert_eq!(counters.writes(), 0);
    served.process.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn the_ledgers_stale_and_duplicate_answers_are_counted_as_metrics() {
    const TABLE: &str = "turnstile-ledger";
    let moto = turnstile_emulator::moto::Moto::start().await;
    let ledger = turnstile::testing::local_ledger_client(&moto.endpoint()).await;
    turnstile::testing::create_ledger_table(&ledger, TABLE).await;
    let endpoint = moto.endpoint();
    let served = Served::start(
        EXE,
        "onboard-user",
        &[("LEDGER_TABLE", TABLE), ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)],
    )
    .await;
    let event = |id: &str, time: &str| {
        json!({
            "version": "0", "id": id, "detail-type": "Employee Hired", "source": "com.example.hr",
            "account": "111122223333", "time": time, "region": "eu-west-1", "resources": [],
            "detail": joiner("ada.good", &[])
        })
    };
    let newer = event("evt-2", "2026-12-01T10:00:00Z");
    let reply = served.invoke(&sqs::batch(vec![sqs::request("m-1", &newer)])).await;
    assert_eq!(sqs::failures(&reply), BTreeSet::new());
    // The same event redelivered, and an older one delivered late.
    let reply = served
        .invoke(&sqs::batch(vec![
            sqs::request("m-2", &newer),
            sqs::request("m-3", &event("evt-1", "2026-12-01T09:00:00Z")),
        ]))
        .await;
    assert_eq!(sqs::failures(&reply), BTreeSet::new());
    let lines = served.process.stop().await;
    let totals = emf::totals(&lines, "Turnstile");
    let count = |name: &str| totals.get(name).copied().unwrap_or(0);
    assert_eq!(count("UsersCreated"), 1, "{totals:?}");
    assert_eq!(count("Duplicate"), 1, "{totals:?}");
    assert_eq!(count("Stale"), 1, "{totals:?}");
}
