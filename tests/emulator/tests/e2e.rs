//! End to end: the function binaries, run by `cargo lambda watch` and invoked with
//! `cargo lambda invoke`, against the emulator. Needs cargo-lambda in `.venv/`
//! (`./scripts/bootstrap.sh` installs it; `./scripts/test.sh` runs these tests).

// Scenario tests read top to bottom, one step after another.
#![allow(clippy::too_many_lines)]

mod support;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use support::{Watch, fixture};
use turnstile_emulator::admin::Admin;
use turnstile_emulator::{Emulator, Options};

async fn writes(admin: &Admin) -> u64 {
    admin.counters().await.expect("counters").writes()
}

/// Invokes `function` with `event`, then again, and checks the repeat wrote nothing
/// and answered the same (bar the status, which a repeat reports as settled).
async fn invoke_twice(watch: &Watch, admin: &Admin, function: &str, event: &Value) -> (Value, Value) {
    let first = watch.invoke(function, event).await.expect("first invocation succeeds");
    let before = writes(admin).await;
    let second = watch.invoke(function, event).await.expect("repeat succeeds");
    assert_eq!(writes(admin).await, before, "repeating {function} wrote something");
    (first, second)
}

fn members(state: &Value, group: &str) -> Vec<String> {
    let mut members: Vec<String> = state["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["displayName"] == group)
        .flat_map(|g| g["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    members.sort();
    members
}

fn user_names(state: &Value) -> Vec<String> {
    state["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["userName"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
#[ignore = "needs cargo-lambda from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn joiner_mover_roster_and_leavers_run_through_cargo_lambda_against_the_emulator() {
    let emulator = Emulator::start(Options::default()).await.expect("emulator");
    let admin = Admin::new(emulator.addr);
    let watch = Watch::start(&emulator.endpoint(), &[]).await;

    // Joiner with groups (the example event), repeated.
    let (joined, repeat) = invoke_twice(
        &watch,
        &admin,
        "onboard-user",
        &fixture("../../events/onboard-user.json"),
    )
    .await;
    assert_eq!(joined["status"], "created");
    assert_eq!(
        joined["groups"],
        json!({ "added": ["Engineering", "All Staff"], "alreadyMember": [], "created": ["Engineering", "All Staff"] })
    );
    assert_eq!(repeat["status"], "unchanged");
    assert_eq!(repeat["groups"]["alreadyMember"], json!(["Engineering", "All Staff"]));
    let alice = joined["userId"].clone();

    // The envelope form of the same event is the same request.
    let envelope = watch
        .invoke("onboard-user", &fixture("../../events/onboard-user.envelope.json"))
        .await
        .unwrap();
    assert_eq!(envelope["status"], "unchanged");

    // Mover: title and email change, a group added; repeated.
    let (moved, repeat) = invoke_twice(&watch, &admin, "onboard-user", &fixture("e2e/mover.json")).await;
    assert_eq!(
        moved,
        json!({
            "userId": alice,
            "userName": "alice.archer",
            "status": "updated",
            "userStatus": "ENABLED",
            "updatedAttributes": ["emails", "title"],
            "groups": { "added": ["Platform"], "alreadyMember": ["Engineering", "All Staff"], "created": ["Platform"] }
        })
    );
    assert_eq!(repeat["status"], "unchanged");

    // Two more people; carol is in Engineering, bob is not.
    watch.invoke("onboard-user", &fixture("e2e/bob.json")).await.unwrap();
    watch.invoke("onboard-user", &fixture("e2e/carol.json")).await.unwrap();
    assert_eq!(
        members(&admin.state().await.unwrap(), "Engineering"),
        ["alice.archer", "carol.cook"]
    );

    // Roster replace: add bob, remove carol, one name nobody has; repeated.
    let (synced, repeat) = invoke_twice(&watch, &admin, "sync-group", &fixture("../../events/sync-group.json")).await;
    assert_eq!(synced["status"], "updated");
    assert_eq!(synced["added"], json!(["bob.baker"]));
    assert_eq!(synced["removed"], json!(["carol.cook"]));
    assert_eq!(synced["unchanged"], 1);
    assert_eq!(synced["unresolved"], json!(["nobody.known"]));
    assert_eq!(repeat["status"], "unchanged");
    assert_eq!(repeat["added"], json!([]));
    assert_eq!(
        members(&admin.state().await.unwrap(), "Engineering"),
        ["alice.archer", "bob.baker"]
    );

    // Leaver, revoke: every membership goes, the user stays; repeated.
    let (revoked, repeat) = invoke_twice(
        &watch,
        &admin,
        "offboard-user",
        &json!({ "userName": "bob.baker", "mode": "revoke" }),
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["removedMemberships"], 2);
    assert_eq!(repeat["removedMemberships"], 0);
    let state = admin.state().await.unwrap();
    assert!(user_names(&state).contains(&"bob.baker".to_owned()));
    assert_eq!(members(&state, "Engineering"), ["alice.archer"]);
    assert_eq!(members(&state, "All Staff"), ["alice.archer"]);

    // Leaver, delete (the example event, envelope form); repeated.
    let (deleted, repeat) = invoke_twice(
        &watch,
        &admin,
        "offboard-user",
        &fixture("../../events/offboard-user.envelope.json"),
    )
    .await;
    assert_eq!(deleted["status"], "deleted");
    assert_eq!(deleted["removedMemberships"], 3);
    assert_eq!(
        repeat,
        json!({ "userName": "alice.archer", "userId": null, "status": "notFound", "removedMemberships": 0, "groupIds": [] })
    );
    let state = admin.state().await.unwrap();
    assert_eq!(user_names(&state), ["bob.baker", "carol.cook"]);
    assert!(members(&state, "Engineering").is_empty());

    // Invalid events: InvalidEvent, and nothing written.
    let before = admin.counters().await.unwrap();
    for (function, event) in [
        ("onboard-user", json!({ "user": { "userName": "" } })),
        ("offboard-user", json!({ "userName": "x", "mode": "archive" })),
        (
            "sync-group",
            json!({ "group": { "displayName": "Engineering" }, "members": "alice" }),
        ),
    ] {
        let error = watch.invoke(function, &event).await.expect_err("invalid");
        assert_eq!(error.0, "InvalidEvent", "{function}: {error:?}");
    }
    assert_eq!(
        admin.counters().await.unwrap().total(),
        before.total(),
        "an invalid event reached the store"
    );

    watch.stop().await;
    emulator.stop().await;
}

#[tokio::test]
#[ignore = "needs cargo-lambda from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_bad_configuration_fails_every_invocation_as_configuration() {
    let emulator = Emulator::start(Options::default()).await.expect("emulator");
    let admin = Admin::new(emulator.addr);
    let watch = Watch::start(&emulator.endpoint(), &[("IDENTITY_STORE_ID", "not-a-store")]).await;
    for function in turnstile::Function::ALL.map(turnstile::Function::name) {
        let error = watch.invoke(function, &json!({})).await.expect_err("misconfigured");
        assert_eq!(error.0, "Configuration", "{function}: {error:?}");
        assert!(error.1.contains("IDENTITY_STORE_ID"), "{error:?}");
    }
    assert_eq!(admin.counters().await.unwrap().total(), 0);
    watch.stop().await;
    emulator.stop().await;
}
