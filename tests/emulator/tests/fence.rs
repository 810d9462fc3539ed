//! The leavers fence (`LEAVERS_GROUP`, docs/contract.md): what each function does with
//! it on, what it costs, and that it is off by default. The race it exists for is
//! tested in tests/reliability (races.rs).

use std::collections::BTreeSet;

use serde_json::{Value, json};
use turnstile::{Deadline, Error, Service};

mod support;
use support::store::{Bench, STORE};

const LEAVERS: &str = "Leavers";

fn fenced(bench: &Bench) -> Service {
    bench.service(|c| c.leavers_group = Some(LEAVERS.to_owned()))
}

/// Display names of the groups `user_id` belongs to.
async fn groups_of(bench: &Bench, user_id: &str) -> BTreeSet<String> {
    let memberships = bench
        .client
        .list_group_memberships_for_member()
        .identity_store_id(STORE)
        .member_id(aws_sdk_identitystore::types::MemberId::UserId(user_id.to_owned()))
        .send()
        .await
        .expect("memberships")
        .group_memberships;
    let mut names = BTreeSet::new();
    for m in memberships {
        let group = bench
            .client
            .describe_group()
            .identity_store_id(STORE)
            .group_id(m.group_id.expect("group id"))
            .send()
            .await
            .expect("group");
        names.insert(group.display_name.expect("display name"));
    }
    names
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

async fn revoke(service: &Service, user_name: &str) -> turnstile::OffboardResult {
    let request = turnstile::decode(json!({ "userName": user_name, "mode": "revoke" })).unwrap();
    service.offboard(Deadline::unbounded(), request).await.unwrap()
}

async fn sync(service: &Service, mode: &str, members: &[&str]) -> Result<turnstile::SyncResult, Error> {
    let request = turnstile::decode(json!({ "group": { "displayName": "Team" }, "members": members, "mode": mode }))?;
    service.sync_group(Deadline::unbounded(), request).await
}

#[tokio::test]
async fn a_fenced_revoke_marks_the_leaver_and_removes_every_other_membership() {
    let bench = Bench::start().await;
    let leaver = bench.user("leaver").await;
    for name in ["g1", "g2"] {
        let group = bench.group(name).await;
        bench.member(&group, &leaver).await;
    }
    let service = fenced(&bench);

    let result = revoke(&service, "leaver").await;

    assert_eq!(result.status, turnstile::OffboardStatus::Revoked);
    assert_eq!(result.removed_memberships, 2, "the mark is not counted: {result:?}");
    assert_eq!(groups_of(&bench, &leaver).await, set(&[LEAVERS]));

    // Again: the mark is there already and nothing else is left to remove.
    bench.count_from_now().await;
    let again = revoke(&service, "leaver").await;
    assert_eq!(again.removed_memberships, 0);
    assert_eq!(groups_of(&bench, &leaver).await, set(&[LEAVERS]));
    let counters = bench.counters().await;
    assert_eq!(counters.get("CreateGroupMembership", "ok"), 0, "{counters:?}");
}

#[tokio::test]
async fn a_roster_never_adds_a_marked_leaver_and_removes_one_that_is_still_a_member() {
    let bench = Bench::start().await;
    let fence = fenced(&bench);
    let leaver = bench.user("leaver").await;
    let quitter = bench.user("quitter").await;
    let stayer = bench.user("stayer").await;
    bench.user("joiner").await;
    let team = bench.group("Team").await;
    for user in [&leaver, &stayer] {
        bench.member(&team, user).await;
    }
    revoke(&fence, "leaver").await;
    revoke(&fence, "quitter").await;
    // The race this guards against, left behind: a marked leaver in the group.
    bench.member(&team, &leaver).await;

    let result = sync(&fence, "replace", &["quitter", "stayer", "leaver", "joiner"])
        .await
        .unwrap();

    assert_eq!(result.added, ["joiner"]);
    assert_eq!(result.removed, ["leaver"]);
    assert_eq!(result.leavers, ["leaver", "quitter"]);
    assert_eq!(result.unchanged, 1);
    assert_eq!(groups_of(&bench, &leaver).await, set(&[LEAVERS]));
    assert_eq!(groups_of(&bench, &quitter).await, set(&[LEAVERS]));
    let shown: Value = serde_json::to_value(&result).unwrap();
    assert_eq!(shown["leavers"], json!(["leaver", "quitter"]));

    // add mode keeps them out too, and a repeat writes nothing.
    bench.count_from_now().await;
    let again = sync(&fence, "add", &["leaver", "quitter", "stayer", "joiner"])
        .await
        .unwrap();
    assert_eq!(again.status, turnstile::SyncStatus::Unchanged);
    assert_eq!(again.leavers, ["leaver", "quitter"]);
    assert_eq!(bench.counters().await.writes(), 0);
}

#[tokio::test]
async fn onboarding_a_marked_leaver_again_removes_the_mark() {
    let bench = Bench::start().await;
    let fence = fenced(&bench);
    let user = bench.user("returner").await;
    revoke(&fence, "returner").await;
    assert_eq!(groups_of(&bench, &user).await, set(&[LEAVERS]));

    let request = turnstile::decode(json!({
        "user": { "userName": "returner", "displayName": "returner", "name": { "givenName": "G", "familyName": "F" } },
        "groups": ["Team"]
    }))
    .unwrap();
    let result = fence.onboard(Deadline::unbounded(), request).await.unwrap();

    // The status is about the user's attributes, which did not change.
    assert_eq!(result.status, turnstile::OnboardStatus::Unchanged);
    assert_eq!(groups_of(&bench, &user).await, set(&["Team"]));
    let synced = sync(&fence, "add", &["returner"]).await.unwrap();
    assert!(synced.leavers.is_empty(), "{synced:?}");
}

#[tokio::test]
async fn no_request_may_name_the_leavers_group_and_such_a_request_makes_no_call() {
    let bench = Bench::start().await;
    let fence = fenced(&bench);
    bench.count_from_now().await;

    let request = turnstile::decode(json!({ "group": { "displayName": LEAVERS }, "members": [], "mode": "replace" }));
    let synced = fence
        .sync_group(Deadline::unbounded(), request.unwrap())
        .await
        .unwrap_err();
    let request = turnstile::decode(json!({
        "user": { "userName": "u", "displayName": "u", "name": { "givenName": "G", "familyName": "F" } },
        "groups": ["Team", LEAVERS]
    }));
    let onboarded = fence
        .onboard(Deadline::unbounded(), request.unwrap())
        .await
        .unwrap_err();

    for err in [synced, onboarded] {
        assert_eq!(err.error_type(), "InvalidEvent", "{err}");
        assert!(err.to_string().contains("LEAVERS_GROUP"), "{err}");
    }
    assert_eq!(bench.counters().await.total(), 0);
}

#[tokio::test]
async fn the_fence_costs_the_calls_the_contract_states_and_nothing_when_off() {
    let mut costs = Vec::new();
    for on in [false, true] {
        let bench = Bench::start().await;
        let service = if on { fenced(&bench) } else { bench.service(|_| {}) };
        let leaver = bench.user("leaver").await;
        bench.user("joiner").await;
        let team = bench.group("Team").await;
        bench.member(&team, &leaver).await;
        bench.group(LEAVERS).await;

        bench.count_from_now().await;
        revoke(&service, "leaver").await;
        let revoked = bench.counters().await;
        bench.count_from_now().await;
        sync(&service, "replace", &["joiner"]).await.unwrap();
        let synced = bench.counters().await;
        bench.count_from_now().await;
        sync(&service, "replace", &["joiner"]).await.unwrap();
        let unchanged = bench.counters().await;
        costs.push((revoked, synced, unchanged));
        if !on {
            for counters in [&costs[0].0, &costs[0].1, &costs[0].2] {
                assert_eq!(counters.calls("GetGroupMembershipId"), 0, "{counters:?}");
            }
        }
    }
    let (off, on) = (&costs[0], &costs[1]);
    // Revoke: GetGroupId and CreateGroupMembership for the mark.
    assert_eq!(on.0.total(), off.0.total() + 2, "{:?} vs {:?}", on.0, off.0);
    // A replace that adds: GetGroupId, one listing page before and one after the adds.
    assert_eq!(on.1.total(), off.1.total() + 3, "{:?} vs {:?}", on.1, off.1);
    // A replace with nothing to add: GetGroupId and one listing page.
    assert_eq!(on.2.total(), off.2.total() + 2, "{:?} vs {:?}", on.2, off.2);
    assert_eq!(off.2.writes(), 0);
    assert_eq!(on.2.writes(), 0);
}

#[tokio::test]
async fn a_fenced_delete_removes_the_mark_only_after_the_user_so_a_failed_delete_leaves_it_marked() {
    let bench = Bench::start().await;
    let fence = fenced(&bench);
    let user = bench.user("leaver").await;
    revoke(&fence, "leaver").await;
    let team = bench.group("Team").await;
    bench.member(&team, &user).await;
    let mut faults = turnstile_emulator::FaultConfig::default();
    faults.operations.insert(
        "DeleteUser".into(),
        turnstile_emulator::FaultSpec {
            error_probability: 1.0,
            ..turnstile_emulator::FaultSpec::default()
        },
    );
    bench.admin.set_faults(&faults).await.unwrap();
    let delete = || turnstile::decode(json!({ "userName": "leaver", "mode": "delete" })).unwrap();

    let failed = fence.offboard(Deadline::unbounded(), delete()).await.unwrap_err();

    assert_eq!(failed.error_type(), "ServiceUnavailable");
    assert_eq!(
        groups_of(&bench, &user).await,
        set(&[LEAVERS]),
        "still marked, nothing else"
    );
    bench
        .admin
        .set_faults(&turnstile_emulator::FaultConfig::default())
        .await
        .unwrap();
    let deleted = fence.offboard(Deadline::unbounded(), delete()).await.unwrap();
    assert_eq!(deleted.status, turnstile::OffboardStatus::Deleted);
    assert_eq!(deleted.removed_memberships, 0, "the mark is not counted: {deleted:?}");
    // The leavers group itself is read with the plain SDK client.
    let leavers = bench
        .client
        .get_group_id()
        .identity_store_id(STORE)
        .alternate_identifier(aws_sdk_identitystore::types::AlternateIdentifier::UniqueAttribute(
            aws_sdk_identitystore::types::UniqueAttribute::builder()
                .attribute_path("displayName")
                .attribute_value(aws_smithy_types::Document::String(LEAVERS.to_owned()))
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .unwrap()
        .group_id;
    let marks = bench
        .client
        .list_group_memberships()
        .identity_store_id(STORE)
        .group_id(leavers)
        .send()
        .await
        .unwrap()
        .group_memberships;
    assert!(marks.is_empty(), "the deleted user's mark is gone: {marks:?}");
}
