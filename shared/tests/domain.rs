//! The jobs' decisions seen through the service: the ListUsers path of a roster sync.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::create_group_membership::CreateGroupMembershipError;
use aws_smithy_mocks::mock;
use pretty_assertions::assert_eq;
use turnstile::testing::{self, out};
use turnstile::{Deadline, SyncRequest};

#[tokio::test]
async fn a_roster_resolved_by_listing_users_names_removals_without_describe_user() {
    let group = mock!(Client::get_group_id).then_output(|| out::group_id("group-eng"));
    let members = mock!(Client::list_group_memberships).then_output(|| {
        out::memberships_of_group(
            vec![
                out::membership("m-a", "group-eng", "u-a"),
                out::membership("m-c", "group-eng", "u-c"),
            ],
            None,
        )
    });
    let users = mock!(Client::list_users).then_output(|| {
        out::users(
            &[("u-a", "alice.archer"), ("u-b", "bob.baker"), ("u-c", "carol.cook")],
            None,
        )
    });
    let lookup = mock!(Client::get_user_id).then_output(|| out::user_id("never"));
    let describe = mock!(Client::describe_user).then_output(|| out::described_user("x", "x").build().unwrap());
    let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-b"));
    let remove = mock!(Client::delete_group_membership).then_output(out::deleted_membership);
    let service = testing::service_with(&[&group, &members, &users, &lookup, &describe, &add, &remove], |c| {
        c.expected_store_users = 3;
    });
    let request: SyncRequest = turnstile::decode(serde_json::json!({
        "group": { "displayName": "Engineering" },
        "members": ["alice.archer", "bob.baker"]
    }))
    .unwrap();

    let result = service.sync_group(Deadline::unbounded(), request).await.unwrap();

    assert_eq!(
        (result.added, result.removed, result.unchanged),
        (vec!["bob.baker".to_owned()], vec!["carol.cook".to_owned()], 1)
    );
    // GetGroupId, one membership page, one user page, one add, one remove.
    assert_eq!(
        (
            group.num_calls(),
            members.num_calls(),
            users.num_calls(),
            lookup.num_calls(),
            describe.num_calls()
        ),
        (1, 1, 1, 0, 0)
    );
    assert_eq!((add.num_calls(), remove.num_calls()), (1, 1));
}

/// The display name a GetGroupId request asks for.
fn asked_name(request: &aws_sdk_identitystore::operation::get_group_id::GetGroupIdInput) -> Option<&str> {
    request
        .alternate_identifier()
        .and_then(|id| id.as_unique_attribute().ok())
        .and_then(|attribute| attribute.attribute_value().as_string())
}

/// The user a CreateGroupMembership request adds.
fn member(
    request: &aws_sdk_identitystore::operation::create_group_membership::CreateGroupMembershipInput,
) -> Option<&str> {
    request
        .member_id()
        .and_then(|m| m.as_user_id().ok())
        .map(String::as_str)
}

/// GetGroupId answers for the group `Team` and the leavers group `Leavers`.
fn team_and_leavers_groups() -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
    let team = mock!(Client::get_group_id)
        .match_requests(|r| asked_name(r) == Some("Team"))
        .then_output(|| out::group_id("group-team"));
    let fence = mock!(Client::get_group_id)
        .match_requests(|r| asked_name(r) == Some("Leavers"))
        .then_output(|| out::group_id("group-leavers"));
    (team, fence)
}

#[tokio::test]
async fn a_sync_that_fails_half_way_still_takes_back_adds_of_users_marked_meanwhile() {
    let (team, fence) = team_and_leavers_groups();
    let members = mock!(Client::list_group_memberships)
        .match_requests(|r| r.group_id() == Some("group-team"))
        .then_output(|| out::memberships_of_group(Vec::new(), None));
    // No mark when the sync plans; the revoke marks u-a before the sync reads again.
    let marks = mock!(Client::list_group_memberships)
        .match_requests(|r| r.group_id() == Some("group-leavers"))
        .sequence()
        .output(|| out::memberships_of_group(Vec::new(), None))
        .output(|| out::memberships_of_group(vec![out::membership("m-mark", "group-leavers", "u-a")], None))
        .build();
    let users =
        mock!(Client::list_users).then_output(|| out::users(&[("u-a", "alice.archer"), ("u-b", "bob.baker")], None));
    let add_a = mock!(Client::create_group_membership)
        .match_requests(|r| member(r) == Some("u-a"))
        .then_output(|| out::created_membership("m-a"));
    let add_b = mock!(Client::create_group_membership)
        .match_requests(|r| member(r) == Some("u-b"))
        .then_error(|| CreateGroupMembershipError::AccessDeniedException(testing::access_denied()));
    let take_back = mock!(Client::delete_group_membership)
        .match_requests(|r| r.membership_id() == Some("m-a"))
        .then_output(out::deleted_membership);
    let service = testing::service_with(
        &[&team, &fence, &members, &marks, &users, &add_a, &add_b, &take_back],
        |c| {
            c.leavers_group = Some("Leavers".into());
            c.expected_store_users = 2;
        },
    );
    let request: SyncRequest = turnstile::decode(serde_json::json!({
        "group": { "displayName": "Team" },
        "members": ["alice.archer", "bob.baker"],
        "mode": "add"
    }))
    .unwrap();

    let error = service.sync_group(Deadline::unbounded(), request).await.unwrap_err();

    assert_eq!(error.error_type(), "AccessDenied", "the sync's own error is returned");
    assert_eq!((add_a.num_calls(), add_b.num_calls()), (1, 1));
    assert_eq!(
        marks.num_calls(),
        2,
        "the marks were read again after the failed writes"
    );
    assert_eq!(take_back.num_calls(), 1, "the leaver's new membership was taken back");
}

#[tokio::test]
async fn removing_a_marked_leaver_is_never_blocked_by_max_removals() {
    let (team, fence) = team_and_leavers_groups();
    let members = mock!(Client::list_group_memberships)
        .match_requests(|r| r.group_id() == Some("group-team"))
        .then_output(|| out::memberships_of_group(vec![out::membership("m-x", "group-team", "u-x")], None));
    let marks = mock!(Client::list_group_memberships)
        .match_requests(|r| r.group_id() == Some("group-leavers"))
        .then_output(|| out::memberships_of_group(vec![out::membership("m-mark", "group-leavers", "u-x")], None));
    let describe = mock!(Client::describe_user).then_output(|| out::described_user("u-x", "xavier.x").build().unwrap());
    let remove = mock!(Client::delete_group_membership)
        .match_requests(|r| r.membership_id() == Some("m-x"))
        .then_output(out::deleted_membership);
    let service = testing::service_with(&[&team, &fence, &members, &marks, &describe, &remove], |c| {
        c.leavers_group = Some("Leavers".into());
        c.expected_store_users = 1;
    });
    let request: SyncRequest = turnstile::decode(serde_json::json!({
        "group": { "displayName": "Team" },
        "members": [],
        "mode": "add",
        "maxRemovals": 0
    }))
    .unwrap();

    let result = service.sync_group(Deadline::unbounded(), request).await.unwrap();

    assert_eq!(result.removed, ["xavier.x"]);
    assert_eq!(remove.num_calls(), 1);
}
