//! onboard-user and the HR attributes: the enterprise extension, photos, roles, website
//! and birthdate, against a mocked Identity Store client.

use std::collections::HashMap;

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::create_user::{CreateUserError, CreateUserInput};
use aws_sdk_identitystore::operation::get_user_id::{GetUserIdError, GetUserIdInput};
use aws_sdk_identitystore::types::{AttributeOperation, ConflictExceptionReason};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_types::Document;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use turnstile::testing::{self, out};

const ENTERPRISE: &str = "aws:identitystore:enterprise";

async fn invoke(rules: &[&Rule], fixture: &str) -> Value {
    let service = testing::service(rules);
    let event = testing::event(testing::fixture(fixture));
    let result = turnstile::handle::<turnstile::Onboard>(&service, event)
        .await
        .map_err(lambda_runtime::Diagnostic::from)
        .expect("the onboarding succeeds");
    serde_json::to_value(result).expect("serializable")
}

fn asked_name(request: &GetUserIdInput) -> Option<&str> {
    request
        .alternate_identifier()
        .and_then(|a| a.as_unique_attribute().ok())
        .and_then(|u| u.attribute_value().as_string())
}

/// GetUserId for `name`: `id`, or not found.
fn lookup(name: &'static str, id: Option<&'static str>) -> Rule {
    let rule = mock!(Client::get_user_id).match_requests(move |r| asked_name(r) == Some(name));
    match id {
        Some(id) => rule.then_output(move || out::user_id(id)),
        None => rule.then_error(|| GetUserIdError::ResourceNotFoundException(testing::not_found())),
    }
}

fn text(document: &HashMap<String, Document>, key: &str) -> Option<String> {
    document.get(key).and_then(Document::as_string).map(str::to_owned)
}

fn manager_of(document: &HashMap<String, Document>) -> Option<String> {
    document
        .get("manager")?
        .as_object()?
        .get("value")?
        .as_string()
        .map(str::to_owned)
}

fn enterprise_of(request: &CreateUserInput) -> Option<&HashMap<String, Document>> {
    request.extensions()?.get(ENTERPRISE)?.as_object()
}

fn groups() -> [Rule; 3] {
    [
        mock!(Client::get_group_id).then_output(|| out::group_id("group-any")),
        mock!(Client::create_group_membership).then_output(|| out::created_membership("m-1")),
        mock!(Client::is_member_in_groups).then_output(|| out::member_in(&[("group-any", false)])),
    ]
}

#[tokio::test]
async fn a_joiner_with_every_attribute_is_created_with_each_and_its_manager_as_a_user_id() {
    let manager = lookup("alice.archer", Some("user-alice"));
    let create = mock!(Client::create_user)
        .match_requests(|r| {
            let Some(enterprise) = enterprise_of(r) else {
                return false;
            };
            r.website() == Some("https://dana.example.com")
                && r.birthdate() == Some("1988-02-29")
                && r.photos().len() == 2
                && r.photos()[0].display() == Some("Badge photo")
                && r.photos()[0].primary()
                && !r.photos()[1].primary()
                && r.roles().len() == 1
                && r.roles()[0].value() == Some("Account Executive")
                && text(enterprise, "employeeNumber").as_deref() == Some("E-10442")
                && text(enterprise, "costCenter").as_deref() == Some("CC-4100")
                && text(enterprise, "organization").as_deref() == Some("Example Corp")
                && text(enterprise, "division").as_deref() == Some("Commercial")
                && text(enterprise, "department").as_deref() == Some("Sales")
                && manager_of(enterprise).as_deref() == Some("user-alice")
                && enterprise.len() == 6
        })
        .then_output(|| out::created_user("user-dana"));
    let describe = mock!(Client::describe_user).then_output(out::stored_alice);
    let [group, add, member_in] = groups();
    let rules = [&manager, &create, &describe, &group, &add, &member_in];

    let result = invoke(&rules, "onboard-user/joiner.every-attribute.json").await;

    assert_eq!(result["status"], "created");
    assert_eq!(result.get("unresolved"), None, "{result}");
    assert_eq!(
        (manager.num_calls(), create.num_calls(), describe.num_calls()),
        (1, 1, 0)
    );
}

/// dana.diaz as stored after `joiner.every-attribute.json`, with the extension when
/// DescribeUser asked for it.
fn stored_dana(asked: bool) -> aws_sdk_identitystore::operation::describe_user::DescribeUserOutput {
    let builder = out::described_user("user-dana", "dana.diaz")
        .display_name("Dana Diaz")
        .name(
            aws_sdk_identitystore::types::Name::builder()
                .given_name("Dana")
                .family_name("Diaz")
                .build(),
        )
        .title("Sales Manager");
    let builder = if asked {
        let document = |pairs: &[(&str, Document)]| {
            Document::Object(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
        };
        builder.extensions(
            ENTERPRISE,
            document(&[
                ("employeeNumber", Document::String("E-10442".into())),
                ("costCenter", Document::String("CC-4100".into())),
                ("department", Document::String("Sales".into())),
                ("manager", document(&[("value", Document::String("user-alice".into()))])),
            ]),
        )
    } else {
        builder
    };
    builder.build().expect("complete")
}

fn existing_dana() -> (Rule, Rule) {
    (
        mock!(Client::create_user).then_error(|| {
            CreateUserError::ConflictException(testing::conflict(
                ConflictExceptionReason::UniquenessConstraintViolation,
            ))
        }),
        lookup("dana.diaz", Some("user-dana")),
    )
}

#[tokio::test]
async fn a_department_move_sets_the_changed_enterprise_members_one_by_one_in_the_one_update() {
    let (create, own_id) = existing_dana();
    let manager = lookup("alice.archer", Some("user-alice"));
    let describe = mock!(Client::describe_user)
        .match_requests(|r| r.extensions() == [ENTERPRISE])
        .then_output(|| stored_dana(true));
    let update = mock!(Client::update_user)
        .match_requests(|r| {
            let operations: Vec<(&str, Option<&str>)> = r
                .operations()
                .iter()
                .map(|o| (o.attribute_path(), o.attribute_value().and_then(Document::as_string)))
                .collect();
            operations
                == [
                    ("title", Some("Engineering Manager")),
                    ("aws:identitystore:enterprise.costCenter", Some("CC-2200")),
                    ("aws:identitystore:enterprise.department", Some("Engineering")),
                ]
        })
        .then_output(|| out::updated_user("user-dana"));
    let [group, add, member_in] = groups();
    let rules = [&create, &own_id, &manager, &describe, &update, &group, &add, &member_in];

    let result = invoke(&rules, "onboard-user/department-move.json").await;

    assert_eq!(result["status"], "updated");
    assert_eq!(result["updatedAttributes"], json!(["title", "enterprise"]));
    assert_eq!(
        (manager.num_calls(), describe.num_calls(), update.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_new_manager_is_set_as_the_managers_user_id_structure() {
    let (create, own_id) = existing_dana();
    let manager = lookup("alice.archer", Some("user-alice-2"));
    let describe = mock!(Client::describe_user).then_output(|| stored_dana(true));
    let update = mock!(Client::update_user)
        .match_requests(|r| {
            r.operations().iter().any(|o: &AttributeOperation| {
                o.attribute_path() == "aws:identitystore:enterprise.manager"
                    && o.attribute_value()
                        .and_then(Document::as_object)
                        .and_then(|m| m.get("value"))
                        .and_then(Document::as_string)
                        == Some("user-alice-2")
            })
        })
        .then_output(|| out::updated_user("user-dana"));
    let [group, add, member_in] = groups();
    let rules = [&create, &own_id, &manager, &describe, &update, &group, &add, &member_in];

    let result = invoke(&rules, "onboard-user/department-move.json").await;

    assert_eq!(result["status"], "updated");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_manager_no_user_has_is_left_alone_and_named_in_unresolved_never_an_error() {
    let manager = lookup("frank.fox", None);
    let create = mock!(Client::create_user)
        .match_requests(|r| {
            enterprise_of(r)
                .is_some_and(|e| manager_of(e).is_none() && text(e, "department").as_deref() == Some("Engineering"))
        })
        .then_output(|| out::created_user("user-erin"));
    let rules = [&manager, &create];

    let result = invoke(&rules, "onboard-user/report-before-manager.json").await;

    assert_eq!(result["status"], "created");
    assert_eq!(result["unresolved"], json!(["frank.fox"]));
    assert_eq!((manager.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn an_event_without_enterprise_attributes_reads_no_extension_and_looks_up_no_manager() {
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::ConflictException(testing::conflict(
            ConflictExceptionReason::UniquenessConstraintViolation,
        ))
    });
    let own_id = mock!(Client::get_user_id).then_output(|| out::user_id("user-alice"));
    let describe = mock!(Client::describe_user)
        .match_requests(|r| r.extensions().is_empty())
        .then_output(out::stored_alice);
    let group = mock!(Client::get_group_id).then_output(|| out::group_id("group-any"));
    let member_in = mock!(Client::is_member_in_groups).then_output(|| out::member_in(&[("group-any", true)]));
    let rules = [&create, &own_id, &describe, &group, &member_in];

    let result = invoke(&rules, "onboard-user/unchanged.json").await;

    assert_eq!(result["status"], "unchanged");
    assert_eq!(
        (create.num_calls(), own_id.num_calls(), describe.num_calls()),
        (1, 1, 1)
    );
}
