//! onboard-user, driven by the JSON fixtures in both event forms, against a mocked
//! Identity Store client.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::create_group::CreateGroupError;
use aws_sdk_identitystore::operation::create_group_membership::CreateGroupMembershipError;
use aws_sdk_identitystore::operation::create_user::CreateUserError;
use aws_sdk_identitystore::operation::get_group_id::GetGroupIdError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_sdk_identitystore::operation::update_user::UpdateUserError;
use aws_sdk_identitystore::types::ConflictExceptionReason;
use aws_smithy_mocks::{Rule, mock};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use turnstile::testing::{self, out};

const FORMS: [&str; 2] = ["", ".envelope"];

async fn invoke(
    rules: &[&Rule],
    fixture: &str,
    adjust: impl FnOnce(&mut turnstile::Config),
) -> Result<Value, lambda_runtime::Diagnostic> {
    let service = testing::service_with(rules, adjust);
    let event = testing::event(testing::fixture(fixture));
    turnstile::handle::<turnstile::Onboard>(&service, event)
        .await
        .map(|result| serde_json::to_value(result).expect("serializable"))
        .map_err(Into::into)
}

fn group_lookup(name: &'static str, id: &'static str) -> Rule {
    mock!(Client::get_group_id)
        .match_requests(move |r| {
            r.alternate_identifier()
                .and_then(|a| a.as_unique_attribute().ok())
                .and_then(|u| u.attribute_value().as_string())
                == Some(name)
        })
        .then_output(move || out::group_id(id))
}

fn group_missing(name: &'static str) -> Rule {
    mock!(Client::get_group_id)
        .match_requests(move |r| {
            r.alternate_identifier()
                .and_then(|a| a.as_unique_attribute().ok())
                .and_then(|u| u.attribute_value().as_string())
                == Some(name)
        })
        .then_error(|| GetGroupIdError::ResourceNotFoundException(testing::not_found()))
}

#[tokio::test]
async fn a_joiner_is_created_with_its_groups_and_a_missing_group_is_created() {
    for form in FORMS {
        let create_user = mock!(Client::create_user)
            .match_requests(|r| {
                r.user_name() == Some("alice.archer")
                    && r.emails().len() == 1
                    && r.title() == Some("Software Engineer")
                    && r.addresses().len() == 1
            })
            .then_output(|| out::created_user("user-alice"));
        let engineering = group_lookup("Engineering", "group-eng");
        let all_staff = group_missing("All Staff");
        let create_group = mock!(Client::create_group)
            .match_requests(|r| r.display_name() == Some("All Staff"))
            .then_output(|| out::created_group("group-all"));
        let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-1"));
        let rules = [&create_user, &engineering, &all_staff, &create_group, &add];

        let result = invoke(&rules, &format!("onboard-user/joiner{form}.json"), |_| {})
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "userId": "user-alice",
                "userName": "alice.archer",
                "status": "created",
                "updatedAttributes": [],
                "groups": { "added": ["Engineering", "All Staff"], "alreadyMember": [], "created": ["All Staff"] }
            })
        );
        assert_eq!(
            (create_user.num_calls(), create_group.num_calls(), add.num_calls()),
            (1, 1, 2)
        );
    }
}

fn existing_alice() -> (Rule, Rule, Rule) {
    (
        mock!(Client::create_user).then_error(|| {
            CreateUserError::ConflictException(testing::conflict(
                ConflictExceptionReason::UniquenessConstraintViolation,
            ))
        }),
        mock!(Client::get_user_id).then_output(|| out::user_id("user-alice")),
        mock!(Client::describe_user).then_output(out::stored_alice),
    )
}

#[tokio::test]
async fn a_mover_gets_one_update_with_only_the_changed_attributes_and_the_new_group() {
    for form in FORMS {
        let (create_user, lookup, describe) = existing_alice();
        let update = mock!(Client::update_user)
            .match_requests(|r| {
                let paths: Vec<&str> = r
                    .operations()
                    .iter()
                    .map(aws_sdk_identitystore::types::AttributeOperation::attribute_path)
                    .collect();
                paths == ["emails", "title"]
            })
            .then_output(|| out::updated_user("user-alice"));
        let groups = [
            group_lookup("Engineering", "group-eng"),
            group_lookup("All Staff", "group-all"),
            group_lookup("Platform", "group-platform"),
        ];
        let member_in = mock!(Client::is_member_in_groups)
            .then_output(|| out::member_in(&[("group-eng", true), ("group-all", true), ("group-platform", false)]));
        let add = mock!(Client::create_group_membership)
            .match_requests(|r| r.group_id() == Some("group-platform"))
            .then_output(|| out::created_membership("m-9"));
        let rules = [
            &create_user,
            &lookup,
            &describe,
            &update,
            &groups[0],
            &groups[1],
            &groups[2],
            &member_in,
            &add,
        ];

        let result = invoke(&rules, &format!("onboard-user/mover{form}.json"), |_| {})
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "userId": "user-alice",
                "userName": "alice.archer",
                "status": "updated",
                "updatedAttributes": ["emails", "title"],
                "groups": { "added": ["Platform"], "alreadyMember": ["Engineering", "All Staff"], "created": [] }
            })
        );
        assert_eq!((update.num_calls(), member_in.num_calls(), add.num_calls()), (1, 1, 1));
    }
}

#[tokio::test]
async fn an_unchanged_user_in_all_its_groups_causes_no_write() {
    for form in FORMS {
        let (create_user, lookup, describe) = existing_alice();
        let update = mock!(Client::update_user).then_output(|| out::updated_user("user-alice"));
        let engineering = group_lookup("Engineering", "group-eng");
        let all_staff = group_lookup("All Staff", "group-all");
        let member_in = mock!(Client::is_member_in_groups)
            .then_output(|| out::member_in(&[("group-eng", true), ("group-all", true)]));
        let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-1"));
        let create_group = mock!(Client::create_group).then_output(|| out::created_group("g"));
        let rules = [
            &create_user,
            &lookup,
            &describe,
            &update,
            &engineering,
            &all_staff,
            &member_in,
            &add,
            &create_group,
        ];

        let result = invoke(&rules, &format!("onboard-user/unchanged{form}.json"), |_| {})
            .await
            .unwrap();

        assert_eq!(
            result,
            json!({
                "userId": "user-alice",
                "userName": "alice.archer",
                "status": "unchanged",
                "updatedAttributes": [],
                "groups": { "added": [], "alreadyMember": ["Engineering", "All Staff"], "created": [] }
            })
        );
        assert_eq!(
            (update.num_calls(), add.num_calls(), create_group.num_calls()),
            (0, 0, 0)
        );
        // The create-first probe is the only write attempted, and it wrote nothing.
        assert_eq!(create_user.num_calls(), 1);
    }
}

#[tokio::test]
async fn a_missing_group_with_group_creation_off_fails_before_any_write() {
    for form in FORMS {
        let engineering = group_lookup("Engineering", "group-eng");
        let all_staff = group_missing("All Staff");
        let create_user = mock!(Client::create_user).then_output(|| out::created_user("user-alice"));
        let create_group = mock!(Client::create_group).then_output(|| out::created_group("g"));
        let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-1"));
        let rules = [&engineering, &all_staff, &create_user, &create_group, &add];

        let error = invoke(&rules, &format!("onboard-user/joiner{form}.json"), |c| {
            c.create_missing_groups = false;
        })
        .await
        .unwrap_err();

        assert_eq!(error.error_type, "GroupNotFound");
        assert_eq!(
            error.error_message,
            "1 requested group(s) do not exist and CREATE_MISSING_GROUPS is false: All Staff"
        );
        assert_eq!(create_user.num_calls() + create_group.num_calls() + add.num_calls(), 0);
    }
}

#[tokio::test]
async fn a_rejected_update_surfaces_as_rejected_without_the_submitted_values() {
    let (create_user, lookup, describe) = existing_alice();
    let update = mock!(Client::update_user).then_error(|| {
        UpdateUserError::ValidationException(testing::validation(
            "Value 'alice.archer@platform.example.com' at 'emails' failed to satisfy constraint",
        ))
    });
    let rules = [&create_user, &lookup, &describe, &update];

    let error = invoke(&rules, "onboard-user/mover.json", |_| {}).await.unwrap_err();

    assert_eq!(error.error_type, "Rejected");
    assert_eq!(
        error.error_message,
        "UpdateUser was rejected by the Identity Store: ValidationException: Value … at … failed to satisfy constraint"
    );
}

#[tokio::test]
async fn a_membership_that_appeared_meanwhile_counts_as_already_member() {
    let create_user = mock!(Client::create_user).then_output(|| out::created_user("user-alice"));
    let engineering = group_lookup("Engineering", "group-eng");
    let all_staff = group_lookup("All Staff", "group-all");
    let add = mock!(Client::create_group_membership)
        .match_requests(|r| r.group_id() == Some("group-eng"))
        .then_error(|| {
            CreateGroupMembershipError::ConflictException(testing::conflict(
                ConflictExceptionReason::UniquenessConstraintViolation,
            ))
        });
    let add_all = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-2"));
    let existing = mock!(Client::get_group_membership_id).then_output(|| out::membership_id("m-1"));
    let never =
        mock!(Client::create_group).then_error(|| CreateGroupError::AccessDeniedException(testing::access_denied()));
    let rules = [
        &create_user,
        &engineering,
        &all_staff,
        &add,
        &add_all,
        &existing,
        &never,
    ];

    let result = invoke(&rules, "onboard-user/joiner.json", |_| {}).await.unwrap();

    assert_eq!(
        result["groups"],
        json!({ "added": ["All Staff"], "alreadyMember": ["Engineering"], "created": [] })
    );
    assert_eq!(existing.num_calls(), 1);
}

/// GetUserId by `path` (`userName` or `emails.value`): `id`, or not found.
fn user_lookup(path: &'static str, id: Option<&'static str>) -> Rule {
    let rule = mock!(Client::get_user_id).match_requests(move |r| {
        r.alternate_identifier()
            .and_then(|a| a.as_unique_attribute().ok())
            .map(aws_sdk_identitystore::types::UniqueAttribute::attribute_path)
            == Some(path)
    });
    match id {
        Some(id) => rule.then_output(move || out::user_id(id)),
        None => rule.then_error(|| GetUserIdError::ResourceNotFoundException(testing::not_found())),
    }
}

fn conflicting_create() -> Rule {
    mock!(Client::create_user).then_error(|| {
        CreateUserError::ConflictException(testing::conflict(
            ConflictExceptionReason::UniquenessConstraintViolation,
        ))
    })
}

#[tokio::test]
async fn a_joiner_whose_email_another_user_has_is_rejected_without_the_value_and_nothing_more_is_written() {
    for form in FORMS {
        let create_user = conflicting_create();
        let by_name = user_lookup("userName", None);
        let by_email = user_lookup("emails.value", Some("user-someone-else"));
        let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-1"));
        let create_group = mock!(Client::create_group).then_output(|| out::created_group("group-1"));
        let rules = [&create_user, &by_name, &by_email, &add, &create_group];

        let error = invoke(&rules, &format!("onboard-user/joiner{form}.json"), |_| {})
            .await
            .unwrap_err();

        assert_eq!(error.error_type, "Rejected");
        assert!(error.error_message.contains("user.emails"), "{}", error.error_message);
        assert!(!error.error_message.contains('@'), "{}", error.error_message);
        assert_eq!(
            (create_user.num_calls(), by_name.num_calls(), by_email.num_calls()),
            (1, 1, 1)
        );
        assert_eq!((add.num_calls(), create_group.num_calls()), (0, 0));
    }
}

#[tokio::test]
async fn a_uniqueness_conflict_that_no_lookup_explains_is_retried_as_a_concurrent_modification() {
    // The user named in the conflict was deleted meanwhile, or a concurrent create is
    // not visible yet: a later delivery converges.
    let create_user = conflicting_create();
    let by_name = user_lookup("userName", None);
    let by_email = user_lookup("emails.value", None);
    let rules = [&create_user, &by_name, &by_email];

    let error = invoke(&rules, "onboard-user/joiner.json", |_| {}).await.unwrap_err();

    assert_eq!(error.error_type, "ConcurrentModification");
    assert_eq!((by_name.num_calls(), by_email.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_mover_whose_new_email_another_user_has_is_rejected_naming_the_attribute_and_no_group_is_touched() {
    for form in FORMS {
        let (create_user, lookup, describe) = existing_alice();
        let update = mock!(Client::update_user).then_error(|| {
            UpdateUserError::ConflictException(testing::conflict(
                ConflictExceptionReason::UniquenessConstraintViolation,
            ))
        });
        let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-9"));
        let rules = [&create_user, &lookup, &describe, &update, &add];

        let error = invoke(&rules, &format!("onboard-user/mover{form}.json"), |_| {})
            .await
            .unwrap_err();

        assert_eq!(error.error_type, "Rejected");
        assert!(error.error_message.contains("(emails)"), "{}", error.error_message);
        assert!(
            !error.error_message.contains("platform.example.com"),
            "{}",
            error.error_message
        );
        assert_eq!((update.num_calls(), add.num_calls()), (1, 0));
    }
}

#[tokio::test]
async fn a_disabled_user_is_converged_and_reported_with_its_user_status() {
    for form in FORMS {
        let (create_user, lookup, _) = existing_alice();
        let describe = mock!(Client::describe_user).then_output(|| {
            out::stored_alice_builder()
                .user_status(aws_sdk_identitystore::types::UserStatus::Disabled)
                .build()
                .unwrap()
        });
        let groups = [
            group_lookup("Engineering", "group-eng"),
            group_lookup("All Staff", "group-all"),
        ];
        let member_in = mock!(Client::is_member_in_groups)
            .then_output(|| out::member_in(&[("group-eng", true), ("group-all", true)]));
        let rules = [&create_user, &lookup, &describe, &groups[0], &groups[1], &member_in];

        let result = invoke(&rules, &format!("onboard-user/unchanged{form}.json"), |_| {})
            .await
            .unwrap();

        assert_eq!(result["status"], "unchanged");
        assert_eq!(result["userStatus"], "DISABLED");
    }
}
