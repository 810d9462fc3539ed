//! offboard-user, driven by the JSON fixtures in both event forms, against a mocked
//! Identity Store client.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::delete_group_membership::DeleteGroupMembershipError;
use aws_sdk_identitystore::operation::delete_user::DeleteUserError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_smithy_mocks::{Rule, mock};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use turnstile::testing::{self, out};

const FORMS: [&str; 2] = ["", ".envelope"];

async fn invoke(rules: &[&Rule], fixture: &str) -> Result<Value, lambda_runtime::Diagnostic> {
    let service = testing::service(rules);
    offboard(&service, fixture).await
}

async fn offboard(service: &turnstile::Service, fixture: &str) -> Result<Value, lambda_runtime::Diagnostic> {
    turnstile::handle::<turnstile::Offboard>(service, testing::event(testing::fixture(fixture)))
        .await
        .map(|result| serde_json::to_value(result).expect("serializable"))
        .map_err(Into::into)
}

fn alice_with_two_memberships() -> (Rule, Rule) {
    (
        mock!(Client::get_user_id).then_output(|| out::user_id("user-alice")),
        mock!(Client::list_group_memberships_for_member)
            .match_requests(|r| r.max_results() == Some(100))
            .sequence()
            .output(|| {
                out::memberships_for_member(
                    vec![
                        out::membership("m-1", "group-eng", "user-alice"),
                        out::membership("m-2", "group-all", "user-alice"),
                    ],
                    None,
                )
            })
            .output(|| out::memberships_for_member(vec![], None))
            .build(),
    )
}

#[tokio::test]
async fn a_leaver_loses_every_membership_before_the_user_is_deleted() {
    for form in FORMS {
        let (lookup, list) = alice_with_two_memberships();
        let remove = mock!(Client::delete_group_membership).then_output(out::deleted_membership);
        let delete = mock!(Client::delete_user).then_output(out::deleted_user);
        let rules = [&lookup, &list, &remove, &delete];

        let result = invoke(&rules, &format!("offboard-user/delete{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "userName": "alice.archer",
                "userId": "user-alice",
                "status": "deleted",
                "removedMemberships": 2,
                "groupIds": ["group-eng", "group-all"]
            })
        );
        // GetUserId, one page of memberships, two removals, DeleteUser: M + 3 calls.
        assert_eq!(
            (
                lookup.num_calls(),
                list.num_calls(),
                remove.num_calls(),
                delete.num_calls()
            ),
            (1, 1, 2, 1)
        );
    }
}

#[tokio::test]
async fn revoke_removes_every_membership_and_keeps_the_user() {
    for form in FORMS {
        let (lookup, list) = alice_with_two_memberships();
        let remove = mock!(Client::delete_group_membership).then_output(out::deleted_membership);
        let delete = mock!(Client::delete_user).then_output(out::deleted_user);
        let rules = [&lookup, &list, &remove, &delete];

        let result = invoke(&rules, &format!("offboard-user/revoke{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "userName": "alice.archer",
                "userId": "user-alice",
                "status": "revoked",
                "removedMemberships": 2,
                "groupIds": ["group-eng", "group-all"]
            })
        );
        // The second listing confirms nothing was added meanwhile.
        assert_eq!((list.num_calls(), remove.num_calls(), delete.num_calls()), (2, 2, 0));
    }
}

#[tokio::test]
async fn a_user_that_does_not_exist_is_not_found_and_nothing_is_written() {
    for form in FORMS {
        let lookup =
            mock!(Client::get_user_id).then_error(|| GetUserIdError::ResourceNotFoundException(testing::not_found()));
        let writes = testing::every_operation();
        let mut rules: Vec<&Rule> = vec![&lookup];
        rules.extend(writes.iter());

        let result = invoke(&rules, &format!("offboard-user/default-mode{form}.json"))
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({ "userName": "bob.baker", "userId": null, "status": "notFound", "removedMemberships": 0, "groupIds": [] })
        );
        assert_eq!(testing::total_calls(&writes), 0);
    }
}

#[tokio::test]
async fn memberships_and_a_user_already_gone_count_as_removed() {
    let (lookup, list) = alice_with_two_memberships();
    let remove = mock!(Client::delete_group_membership)
        .then_error(|| DeleteGroupMembershipError::ResourceNotFoundException(testing::not_found()));
    let delete =
        mock!(Client::delete_user).then_error(|| DeleteUserError::ResourceNotFoundException(testing::not_found()));
    let rules = [&lookup, &list, &remove, &delete];

    let result = invoke(&rules, "offboard-user/delete.json").await.unwrap();

    assert_eq!(result["status"], "deleted");
    assert_eq!(result["removedMemberships"], 2);
    assert_eq!((remove.num_calls(), delete.num_calls()), (2, 1));
}

#[tokio::test]
async fn a_leaver_whose_memberships_cannot_be_removed_is_never_deleted() {
    let (lookup, list) = alice_with_two_memberships();
    let remove = mock!(Client::delete_group_membership)
        .then_error(|| DeleteGroupMembershipError::AccessDeniedException(testing::access_denied()));
    let delete = mock!(Client::delete_user).then_output(out::deleted_user);
    let rules = [&lookup, &list, &remove, &delete];

    let error = invoke(&rules, "offboard-user/delete.json").await.unwrap_err();

    assert_eq!(error.error_type, "AccessDenied");
    assert_eq!(delete.num_calls(), 0);
}

#[tokio::test]
async fn a_store_that_does_not_exist_is_configuration_never_not_found() {
    let lookup =
        mock!(Client::get_user_id).then_error(|| GetUserIdError::ResourceNotFoundException(testing::store_not_found()));
    for form in FORMS {
        let error = invoke(&[&lookup], &format!("offboard-user/delete{form}.json"))
            .await
            .expect_err("a missing store is no success");
        assert_eq!(error.error_type, "Configuration", "{}", error.error_message);
        assert!(
            error.error_message.contains("IDENTITY_STORE_ID"),
            "{}",
            error.error_message
        );
    }
    assert_eq!(lookup.num_calls(), 2, "not retried: a configuration error is final");
}

#[tokio::test]
async fn a_membership_delete_answered_store_not_found_is_configuration_not_already_gone() {
    let (lookup, listing) = alice_with_two_memberships();
    let delete = mock!(Client::delete_group_membership)
        .then_error(|| DeleteGroupMembershipError::ResourceNotFoundException(testing::store_not_found()));
    let error = invoke(&[&lookup, &listing, &delete], "offboard-user/delete.json")
        .await
        .expect_err("the leaver is not reported gone");
    assert_eq!(error.error_type, "Configuration", "{}", error.error_message);
}
