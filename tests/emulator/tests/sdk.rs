//! Every operation of the emulator driven by the unmodified Rust SDK client: success,
//! each error shape as the SDK parses it, pagination, and each fault knob.

// Scenario tests read top to bottom, one step after another.
#![allow(clippy::too_many_lines)]

use std::time::{Duration, Instant};

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::create_group_membership::CreateGroupMembershipError;
use aws_sdk_identitystore::operation::create_user::CreateUserError;
use aws_sdk_identitystore::operation::describe_user::DescribeUserError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_sdk_identitystore::operation::list_users::ListUsersError;
use aws_sdk_identitystore::types::{
    AlternateIdentifier, AttributeOperation, ConflictExceptionReason, Email, ExternalId, MemberId, Name, ResourceType,
    UniqueAttribute,
};
use aws_smithy_types::Document;
use pretty_assertions::assert_eq;
use serde_json::json;
use turnstile_emulator::admin::Admin;
use turnstile_emulator::{Emulator, FaultConfig, FaultSpec, Options};

const STORE: &str = "d-1234567890";

async fn start() -> (Emulator, Client, Admin) {
    start_with(Options::default()).await
}

async fn start_with(options: Options) -> (Emulator, Client, Admin) {
    let emulator = Emulator::start(options).await.expect("emulator starts");
    let client = client(&emulator.endpoint()).await;
    let admin = Admin::new(emulator.addr);
    (emulator, client, admin)
}

async fn client(endpoint: &str) -> Client {
    turnstile::testing::local_client(endpoint, None).await
}

fn by_user_name(name: &str) -> AlternateIdentifier {
    AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path("userName")
            .attribute_value(Document::String(name.into()))
            .build()
            .unwrap(),
    )
}

async fn create_user(client: &Client, name: &str) -> String {
    client
        .create_user()
        .identity_store_id(STORE)
        .user_name(name)
        .display_name(format!("{name} Display"))
        .name(Name::builder().given_name("Given").family_name("Family").build())
        .emails(
            Email::builder()
                .value(format!("{name}@example.com"))
                .r#type("work")
                .primary(true)
                .build(),
        )
        .send()
        .await
        .expect("user created")
        .user_id
}

async fn create_group(client: &Client, name: &str) -> String {
    client
        .create_group()
        .identity_store_id(STORE)
        .display_name(name)
        .send()
        .await
        .expect("group created")
        .group_id
}

#[tokio::test]
async fn a_user_is_created_described_updated_found_and_deleted() {
    let (_emulator, client, _) = start().await;
    let created = client
        .create_user()
        .identity_store_id(STORE)
        .user_name("alice.archer")
        .display_name("Alice Archer")
        .name(Name::builder().given_name("Alice").family_name("Archer").build())
        .emails(
            Email::builder()
                .value("alice@example.com")
                .r#type("work")
                .primary(true)
                .build(),
        )
        .title("Engineer")
        .send()
        .await
        .unwrap();
    assert!(created.user_arn.ends_with(&created.user_id));
    assert_eq!(created.revision, "1");
    let id = created.user_id;

    let described = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.user_name(), Some("alice.archer"));
    assert_eq!(described.name().and_then(Name::given_name), Some("Alice"));
    assert_eq!(described.emails()[0].value(), Some("alice@example.com"));
    assert_eq!(described.title(), Some("Engineer"));

    let updated = client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .operations(
            AttributeOperation::builder()
                .attribute_path("title")
                .attribute_value(Document::String("Staff".into()))
                .build()
                .unwrap(),
        )
        .operations(
            AttributeOperation::builder()
                .attribute_path("name.familyName")
                .attribute_value(Document::String("Bow".into()))
                .build()
                .unwrap(),
        )
        .operations(
            AttributeOperation::builder()
                .attribute_path("emails")
                .attribute_value(Document::Array(vec![Document::Object(
                    [
                        ("Value".to_owned(), Document::String("alice@new.example.com".into())),
                        ("Primary".to_owned(), Document::Bool(true)),
                    ]
                    .into_iter()
                    .collect(),
                )]))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.revision, "2");
    let described = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.title(), Some("Staff"));
    assert_eq!(described.name().and_then(Name::family_name), Some("Bow"));
    assert_eq!(described.name().and_then(Name::given_name), Some("Alice"));
    assert_eq!(described.emails()[0].value(), Some("alice@new.example.com"));

    // An operation without a value removes the attribute.
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .operations(AttributeOperation::builder().attribute_path("title").build().unwrap())
        .send()
        .await
        .unwrap();
    let described = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.title(), None);

    let found = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(by_user_name("alice.archer"))
        .send()
        .await
        .unwrap();
    assert_eq!(found.user_id, id);
    let by_email = AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path("emails.value")
            .attribute_value(Document::String("alice@new.example.com".into()))
            .build()
            .unwrap(),
    );
    let found = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(by_email)
        .send()
        .await
        .unwrap();
    assert_eq!(found.user_id, id);

    client
        .delete_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .send()
        .await
        .unwrap();
    let error = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let DescribeUserError::ResourceNotFoundException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(e.resource_type(), Some(&ResourceType::User));
    assert_eq!(e.resource_id(), Some(id.as_str()));
}

#[tokio::test]
async fn a_second_user_with_the_same_user_name_is_a_uniqueness_conflict() {
    let (_emulator, client, _) = start().await;
    create_user(&client, "alice.archer").await;
    let error = client
        .create_user()
        .identity_store_id(STORE)
        .user_name("alice.archer")
        .display_name("Other")
        .name(Name::builder().given_name("O").family_name("T").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let CreateUserError::ConflictException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        e.reason(),
        Some(&ConflictExceptionReason::UniquenessConstraintViolation)
    );
}

#[tokio::test]
async fn an_unknown_user_name_is_not_found_and_a_bad_one_is_invalid() {
    let (_emulator, client, _) = start().await;
    let error = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(by_user_name("nobody"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let GetUserIdError::ResourceNotFoundException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(e.resource_type(), Some(&ResourceType::User));

    let error = client
        .create_user()
        .identity_store_id(STORE)
        .user_name("x".repeat(129))
        .display_name("X")
        .name(Name::builder().given_name("X").family_name("Y").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, CreateUserError::ValidationException(_)), "{error:?}");

    let error = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id("not-an-id")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, DescribeUserError::ValidationException(_)), "{error:?}");

    let error = client
        .list_users()
        .identity_store_id(STORE)
        .max_results(101)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, ListUsersError::ValidationException(_)), "{error:?}");

    // Another identity store is not this one.
    let error = client
        .list_users()
        .identity_store_id("d-0000000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let ListUsersError::ResourceNotFoundException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(e.resource_type(), Some(&ResourceType::IdentityStore));
}

#[tokio::test]
async fn listings_page_with_opaque_tokens_through_the_sdk_paginator() {
    let (_emulator, client, _) = start().await;
    for i in 0..250 {
        create_user(&client, &format!("user{i:03}")).await;
    }
    let first = client
        .list_users()
        .identity_store_id(STORE)
        .max_results(100)
        .send()
        .await
        .unwrap();
    assert_eq!(first.users.len(), 100);
    assert!(first.next_token.is_some());
    let mut pages = client
        .list_users()
        .identity_store_id(STORE)
        .max_results(100)
        .into_paginator()
        .send();
    let mut sizes = Vec::new();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        sizes.push(page.users.len());
        names.extend(page.users.into_iter().filter_map(|u| u.user_name));
    }
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(names.len(), 250);
    assert_eq!(names[0], "user000");
    assert_eq!(names[249], "user249");

    let error = client
        .list_users()
        .identity_store_id(STORE)
        .next_token("garbage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, ListUsersError::ValidationException(_)), "{error:?}");
}

#[tokio::test]
async fn groups_and_memberships_follow_the_service_rules() {
    let (_emulator, client, admin) = start().await;
    let alice = create_user(&client, "alice").await;
    let bob = create_user(&client, "bob").await;
    let eng = create_group(&client, "Engineering").await;
    let ops = create_group(&client, "Operations").await;

    let duplicate = client
        .create_group()
        .identity_store_id(STORE)
        .display_name("Engineering")
        .send()
        .await
        .unwrap_err();
    assert_eq!(duplicate.into_service_error().meta().code(), Some("ConflictException"));

    client
        .update_group()
        .identity_store_id(STORE)
        .group_id(&eng)
        .operations(
            AttributeOperation::builder()
                .attribute_path("description")
                .attribute_value(Document::String("Builders".into()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let described = client
        .describe_group()
        .identity_store_id(STORE)
        .group_id(&eng)
        .send()
        .await
        .unwrap();
    assert_eq!(described.description(), Some("Builders"));
    assert_eq!(described.revision, "2");

    let by_name = AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path("displayName")
            .attribute_value(Document::String("Operations".into()))
            .build()
            .unwrap(),
    );
    assert_eq!(
        client
            .get_group_id()
            .identity_store_id(STORE)
            .alternate_identifier(by_name)
            .send()
            .await
            .unwrap()
            .group_id,
        ops
    );

    let membership = client
        .create_group_membership()
        .identity_store_id(STORE)
        .group_id(&eng)
        .member_id(MemberId::UserId(alice.clone()))
        .send()
        .await
        .unwrap();
    assert!(membership.membership_arn.ends_with(&membership.membership_id));
    let error = client
        .create_group_membership()
        .identity_store_id(STORE)
        .group_id(&eng)
        .member_id(MemberId::UserId(alice.clone()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let CreateGroupMembershipError::ConflictException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(
        e.reason(),
        Some(&ConflictExceptionReason::UniquenessConstraintViolation)
    );

    let found = client
        .get_group_membership_id()
        .identity_store_id(STORE)
        .group_id(&eng)
        .member_id(MemberId::UserId(alice.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(found.membership_id, membership.membership_id);
    let described = client
        .describe_group_membership()
        .identity_store_id(STORE)
        .membership_id(&found.membership_id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.group_id, eng);
    assert_eq!(described.member_id, Some(MemberId::UserId(alice.clone())));

    client
        .create_group_membership()
        .identity_store_id(STORE)
        .group_id(&ops)
        .member_id(MemberId::UserId(alice.clone()))
        .send()
        .await
        .unwrap();
    client
        .create_group_membership()
        .identity_store_id(STORE)
        .group_id(&eng)
        .member_id(MemberId::UserId(bob.clone()))
        .send()
        .await
        .unwrap();

    let in_eng = client
        .list_group_memberships()
        .identity_store_id(STORE)
        .group_id(&eng)
        .send()
        .await
        .unwrap();
    assert_eq!(in_eng.group_memberships.len(), 2);
    let of_alice = client
        .list_group_memberships_for_member()
        .identity_store_id(STORE)
        .member_id(MemberId::UserId(alice.clone()))
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(of_alice.group_memberships.len(), 1);
    assert!(of_alice.next_token.is_some());

    let check = client
        .is_member_in_groups()
        .identity_store_id(STORE)
        .member_id(MemberId::UserId(bob.clone()))
        .group_ids(&eng)
        .group_ids(&ops)
        .send()
        .await
        .unwrap();
    let exists: Vec<(String, bool)> = check
        .results
        .into_iter()
        .map(|r| (r.group_id.unwrap(), r.membership_exists))
        .collect();
    assert_eq!(exists, [(eng.clone(), true), (ops.clone(), false)]);

    client
        .delete_group_membership()
        .identity_store_id(STORE)
        .membership_id(&found.membership_id)
        .send()
        .await
        .unwrap();
    let again = client
        .delete_group_membership()
        .identity_store_id(STORE)
        .membership_id(&found.membership_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        again.into_service_error().meta().code(),
        Some("ResourceNotFoundException")
    );

    // Deleting a group takes its memberships with it.
    client
        .delete_group()
        .identity_store_id(STORE)
        .group_id(&eng)
        .send()
        .await
        .unwrap();
    let of_bob = client
        .list_group_memberships_for_member()
        .identity_store_id(STORE)
        .member_id(MemberId::UserId(bob))
        .send()
        .await
        .unwrap();
    assert!(of_bob.group_memberships.is_empty());
    let groups = client.list_groups().identity_store_id(STORE).send().await.unwrap();
    assert_eq!(groups.groups.len(), 1);
    assert_eq!(
        admin
            .counters()
            .await
            .unwrap()
            .get("CreateGroup", "ConflictException/UNIQUENESS_CONSTRAINT_VIOLATION"),
        1
    );
}

#[tokio::test]
async fn external_ids_given_through_the_admin_api_find_users_and_groups() {
    let (_emulator, client, admin) = start().await;
    let alice = create_user(&client, "alice").await;
    let eng = create_group(&client, "Engineering").await;
    let reply = admin
        .set_external_ids("user", &alice, json!([{ "Issuer": "okta", "Id": "00u1" }]))
        .await
        .unwrap();
    assert_eq!(reply.status, 204);
    admin
        .set_external_ids("group", &eng, json!([{ "Issuer": "okta", "Id": "00g1" }]))
        .await
        .unwrap();

    let external =
        |id: &str| AlternateIdentifier::ExternalId(ExternalId::builder().issuer("okta").id(id).build().unwrap());
    let user = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(external("00u1"))
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_id, alice);
    let group = client
        .get_group_id()
        .identity_store_id(STORE)
        .alternate_identifier(external("00g1"))
        .send()
        .await
        .unwrap();
    assert_eq!(group.group_id, eng);
    let described = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(described.external_ids()[0].id(), "00u1");
}

#[tokio::test]
async fn an_alternate_identifier_must_set_exactly_one_member() {
    let (_emulator, _, admin) = start().await;
    for alternate in [
        json!({}),
        json!({ "ExternalId": { "Issuer": "a", "Id": "b" }, "UniqueAttribute": { "AttributePath": "userName", "AttributeValue": "x" } }),
    ] {
        let reply = admin
            .call(
                "GetUserId",
                &json!({ "IdentityStoreId": STORE, "AlternateIdentifier": alternate }),
            )
            .await
            .unwrap();
        assert_eq!(reply.status, 400);
        assert_eq!(reply.json()["__type"], "ValidationException");
    }
}

#[tokio::test]
async fn a_throttle_carries_retry_after_seconds_and_counts_as_injected() {
    let mut faults = FaultConfig::default();
    faults.operations.insert(
        "GetUserId".into(),
        FaultSpec {
            throttle_next: 2,
            throttle_retry_after: Some(3),
            ..FaultSpec::default()
        },
    );
    let (_emulator, client, admin) = start().await;
    admin.set_faults(&faults).await.unwrap();
    for _ in 0..2 {
        let error = client
            .get_user_id()
            .identity_store_id(STORE)
            .alternate_identifier(by_user_name("x"))
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        let GetUserIdError::ThrottlingException(e) = error else {
            panic!("{error:?}")
        };
        assert_eq!(e.retry_after_seconds(), 3);
    }
    // The burst is over: the next call reaches the store.
    let error = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(by_user_name("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, GetUserIdError::ResourceNotFoundException(_)));
    let counters = admin.counters().await.unwrap();
    assert_eq!(counters.get("GetUserId", "ThrottlingException"), 2);
    assert_eq!(counters.injected_total(), 2);
}

#[tokio::test]
async fn server_errors_and_concurrent_modification_conflicts_fail_on_demand() {
    let (_emulator, client, admin) = start().await;
    let mut faults = FaultConfig::default();
    faults.operations.insert(
        "ListUsers".into(),
        FaultSpec {
            error_next: 1,
            error_retry_after: Some(2),
            ..FaultSpec::default()
        },
    );
    faults.operations.insert(
        "CreateUser".into(),
        FaultSpec {
            conflict_next: 1,
            ..FaultSpec::default()
        },
    );
    admin.set_faults(&faults).await.unwrap();

    let error = client.list_users().identity_store_id(STORE).send().await.unwrap_err();
    assert_eq!(error.raw_response().map(|r| r.status().as_u16()), Some(500));
    let ListUsersError::InternalServerException(e) = error.into_service_error() else {
        panic!()
    };
    assert_eq!(e.retry_after_seconds(), 2);

    let error = client
        .create_user()
        .identity_store_id(STORE)
        .user_name("alice")
        .display_name("A")
        .name(Name::builder().given_name("A").family_name("B").build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let CreateUserError::ConflictException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(e.reason(), Some(&ConflictExceptionReason::ConcurrentModification));
    // The conflict wrote nothing.
    assert_eq!(
        client
            .list_users()
            .identity_store_id(STORE)
            .send()
            .await
            .unwrap()
            .users
            .len(),
        0
    );
}

#[tokio::test]
async fn the_rate_limit_is_a_token_bucket_per_api() {
    let faults = FaultConfig {
        default: FaultSpec {
            rate_limit: Some(2.0),
            burst: Some(2.0),
            rate_limit_retry_after: Some(1),
            ..FaultSpec::default()
        },
        ..FaultConfig::default()
    };
    let (_emulator, client, admin) = start_with(Options {
        faults,
        ..Options::default()
    })
    .await;
    let mut throttled = 0;
    for _ in 0..4 {
        if let Err(e) = client.list_users().identity_store_id(STORE).send().await {
            let ListUsersError::ThrottlingException(t) = e.into_service_error() else {
                panic!()
            };
            assert_eq!(t.retry_after_seconds(), 1);
            throttled += 1;
        }
    }
    assert!(throttled >= 1, "a burst of 4 against a bucket of 2 must be throttled");
    // Another API has its own bucket.
    client.list_groups().identity_store_id(STORE).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    client.list_users().identity_store_id(STORE).send().await.unwrap();
    assert_eq!(
        admin.counters().await.unwrap().get("ListUsers", "ThrottlingException"),
        throttled
    );
}

#[tokio::test]
async fn added_latency_delays_every_answer() {
    let faults = FaultConfig {
        default: FaultSpec {
            latency_ms: 150,
            ..FaultSpec::default()
        },
        ..FaultConfig::default()
    };
    let (_emulator, client, _) = start_with(Options {
        faults,
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    client.list_users().identity_store_id(STORE).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn random_faults_repeat_exactly_for_the_same_seed() {
    async fn outcomes(seed: u64) -> Vec<bool> {
        let faults = FaultConfig {
            seed,
            default: FaultSpec {
                throttle_probability: 0.3,
                error_probability: 0.2,
                ..FaultSpec::default()
            },
            ..FaultConfig::default()
        };
        let (_emulator, client, _) = start_with(Options {
            faults,
            ..Options::default()
        })
        .await;
        let mut seen = Vec::new();
        for _ in 0..60 {
            seen.push(client.list_groups().identity_store_id(STORE).send().await.is_ok());
        }
        seen
    }
    let a = outcomes(7).await;
    assert_eq!(a, outcomes(7).await);
    assert_ne!(a, outcomes(8).await);
    let failures = a.iter().filter(|ok| !**ok).count();
    // 1 - 0.7 * 0.8 = 44% expected; 60 draws stay well inside these bounds.
    assert!((10..=45).contains(&failures), "{failures} failures");
}

#[tokio::test]
async fn malformed_requests_get_the_services_errors_and_do_not_stop_it() {
    let (_emulator, client, admin) = start().await;
    let reply = admin
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AWSIdentityStore.ListUsers"),
            ],
            b"{not json",
        )
        .await
        .unwrap();
    assert_eq!(
        (reply.status, reply.json()["__type"].clone()),
        (400, json!("SerializationException"))
    );

    let reply = admin
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "AWSIdentityStore.DropTables"),
            ],
            b"{}",
        )
        .await
        .unwrap();
    assert_eq!(
        (reply.status, reply.json()["__type"].clone()),
        (404, json!("UnknownOperationException"))
    );

    let reply = admin
        .request(
            "POST",
            "/",
            &[
                ("Content-Type", "text/plain"),
                ("X-Amz-Target", "AWSIdentityStore.ListUsers"),
            ],
            b"{}",
        )
        .await
        .unwrap();
    assert_eq!(
        (reply.status, reply.json()["__type"].clone()),
        (404, json!("UnknownOperationException"))
    );

    let reply = admin.call("ListUsers", &json!({ "IdentityStoreId": 5 })).await.unwrap();
    assert_eq!(reply.json()["__type"], "SerializationException");
    assert_eq!(reply.header("x-amzn-ErrorType"), Some("SerializationException"));

    client.list_users().identity_store_id(STORE).send().await.unwrap();
}

#[tokio::test]
async fn a_state_file_keeps_the_store_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("turnstile-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    let _ = std::fs::remove_file(&path);
    let options = Options {
        state_file: Some(path.clone()),
        ..Options::default()
    };
    let (emulator, client, _) = start_with(options.clone()).await;
    let alice = create_user(&client, "alice").await;
    emulator.stop().await;

    let (_emulator, client, _) = start_with(options).await;
    let found = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(by_user_name("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(found.user_id, alice);
    // Ids keep coming from the same sequence: no clash with the restored user.
    let bob = create_user(&client, "bob").await;
    assert_ne!(bob, alice);
    std::fs::remove_dir_all(&dir).unwrap();
}
