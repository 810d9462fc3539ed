//! The service's rules beyond the basics, driven by the unmodified Rust SDK client:
//! unique email addresses, case-insensitive names (a flag: AWS does not say), the
//! throttle as captured from the service, the identity-store operations and
//! UserStatus.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::config::http::HttpResponse;
use aws_sdk_identitystore::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_identitystore::operation::RequestId;
use aws_sdk_identitystore::operation::create_group::CreateGroupError;
use aws_sdk_identitystore::operation::create_user::CreateUserError;
use aws_sdk_identitystore::operation::describe_identity_store::DescribeIdentityStoreError;
use aws_sdk_identitystore::operation::list_users::ListUsersError;
use aws_sdk_identitystore::operation::update_identity_store::UpdateIdentityStoreError;
use aws_sdk_identitystore::operation::update_user::UpdateUserError;
use aws_sdk_identitystore::types::{
    AlternateIdentifier, AttributeOperation, ConflictExceptionReason, Email, Filter, Name, NetworkConfiguration,
    NetworkConfigurationDetails, ResourceType, UniqueAttribute, UserStatus,
};
use aws_smithy_types::Document;
use pretty_assertions::assert_eq;
use serde_json::json;
use turnstile_emulator::admin::Admin;
use turnstile_emulator::{Emulator, FaultConfig, FaultSpec, Options, Rules, ThrottleShape};

const STORE: &str = "d-1234567890";
const STORE_ARN: &str = "arn:aws:identitystore::123456789012:identitystore/d-1234567890";

async fn start_with(options: Options) -> (Emulator, Client, Admin) {
    let emulator = Emulator::start(options).await.expect("emulator starts");
    let client = turnstile::testing::local_client(&emulator.endpoint(), None).await;
    let admin = Admin::new(emulator.addr);
    (emulator, client, admin)
}

async fn start() -> (Emulator, Client, Admin) {
    start_with(Options::default()).await
}

fn email(value: &str) -> Email {
    Email::builder().value(value).r#type("work").primary(true).build()
}

async fn try_create_user(
    client: &Client,
    user_name: &str,
    address: &str,
) -> Result<String, SdkError<CreateUserError, HttpResponse>> {
    client
        .create_user()
        .identity_store_id(STORE)
        .user_name(user_name)
        .display_name(format!("{user_name} Display"))
        .name(Name::builder().given_name("Given").family_name("Family").build())
        .emails(email(address))
        .send()
        .await
        .map(|out| out.user_id)
}

/// DescribeUser of `user_id`, which must exist.
async fn describe(
    client: &Client,
    user_id: &str,
) -> aws_sdk_identitystore::operation::describe_user::DescribeUserOutput {
    client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(user_id)
        .send()
        .await
        .unwrap()
}

async fn create_user(client: &Client, user_name: &str, address: &str) -> String {
    try_create_user(client, user_name, address).await.expect("user created")
}

fn set(path: &str, value: Document) -> AttributeOperation {
    AttributeOperation::builder()
        .attribute_path(path)
        .attribute_value(value)
        .build()
        .unwrap()
}

fn emails_document(address: &str) -> Document {
    Document::Array(vec![Document::Object(
        [
            ("value".to_owned(), Document::String(address.into())),
            ("type".to_owned(), Document::String("work".into())),
            ("primary".to_owned(), Document::Bool(true)),
        ]
        .into(),
    )])
}

fn unique(path: &str, value: &str) -> AlternateIdentifier {
    AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path(path)
            .attribute_value(Document::String(value.into()))
            .build()
            .unwrap(),
    )
}

/// The uniqueness conflict, HTTP 400, with a message that does not carry `secret`.
fn assert_uniqueness_conflict<E: ProvideErrorMetadata + std::fmt::Debug>(
    error: &SdkError<E, HttpResponse>,
    secret: &str,
) {
    assert_eq!(
        error.raw_response().map(|r| r.status().as_u16()),
        Some(400),
        "{error:?}"
    );
    let body = error
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "ConflictException");
    assert_eq!(body["Reason"], "UNIQUENESS_CONSTRAINT_VIOLATION");
    let message = body["Message"].as_str().unwrap_or_default().to_lowercase();
    assert!(!message.is_empty());
    assert!(
        !message.contains(&secret.to_lowercase()),
        "the message echoes the value: {message}"
    );
    let text = body.to_string().to_lowercase();
    assert!(
        !text.contains(&secret.to_lowercase()),
        "the body echoes the value: {text}"
    );
}

// ---- unique email addresses ----

#[tokio::test]
async fn a_second_user_with_an_email_another_user_has_is_refused_whatever_its_case() {
    let (_emulator, client, _) = start().await;
    create_user(&client, "alice", "alice@example.com").await;
    let error = try_create_user(&client, "alice.two", "Alice@EXAMPLE.com")
        .await
        .unwrap_err();
    assert_uniqueness_conflict(&error, "alice@example.com");
    let CreateUserError::ConflictException(conflict) = error.into_service_error() else {
        panic!("not a conflict")
    };
    assert_eq!(
        conflict.reason(),
        Some(&ConflictExceptionReason::UniquenessConstraintViolation)
    );
    // Nothing was written.
    let users = client.list_users().identity_store_id(STORE).send().await.unwrap().users;
    assert_eq!(users.len(), 1);
}

#[tokio::test]
async fn an_update_that_sets_another_users_email_is_refused_and_changes_nothing() {
    let (_emulator, client, _) = start().await;
    create_user(&client, "alice", "alice@example.com").await;
    let bob = create_user(&client, "bob", "bob@example.com").await;
    let error = client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&bob)
        .operations(set("emails", emails_document("ALICE@example.com")))
        .operations(set("title", Document::String("Changed".into())))
        .send()
        .await
        .unwrap_err();
    assert_uniqueness_conflict(&error, "alice@example.com");
    assert!(matches!(
        error.into_service_error(),
        UpdateUserError::ConflictException(_)
    ));
    let bob = describe(&client, &bob).await;
    assert_eq!(bob.emails()[0].value(), Some("bob@example.com"));
    assert_eq!(bob.title(), None);
    assert_eq!(bob.revision(), "1");
}

#[tokio::test]
async fn a_user_may_keep_or_recase_its_own_email_and_a_deleted_user_frees_it() {
    let (_emulator, client, _) = start().await;
    let alice = create_user(&client, "alice", "alice@example.com").await;
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("emails", emails_document("Alice@Example.com")))
        .send()
        .await
        .expect("a user's own address is not a conflict");
    // An update that leaves the emails alone is no conflict either.
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("title", Document::String("Engineer".into())))
        .send()
        .await
        .unwrap();
    // An address given up by an update is free again.
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("emails", emails_document("alice@new.example.com")))
        .send()
        .await
        .unwrap();
    let bob = create_user(&client, "bob", "alice@example.com").await;
    // And so is the address of a deleted user.
    client
        .delete_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .send()
        .await
        .unwrap();
    create_user(&client, "carol", "alice@new.example.com").await;
    // An update that removes the emails frees them too.
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&bob)
        .operations(AttributeOperation::builder().attribute_path("emails").build().unwrap())
        .send()
        .await
        .unwrap();
    create_user(&client, "dave", "alice@example.com").await;
}

#[tokio::test]
async fn with_duplicate_emails_allowed_users_may_share_an_address() {
    let (_emulator, client, _) = start_with(Options {
        unique_emails: false,
        ..Options::default()
    })
    .await;
    create_user(&client, "alice", "shared@example.com").await;
    let bob = create_user(&client, "bob", "shared@example.com").await;
    let carol = create_user(&client, "carol", "carol@example.com").await;
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&carol)
        .operations(set("emails", emails_document("SHARED@example.com")))
        .send()
        .await
        .unwrap();
    // The first one with the address is found by it.
    let found = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("emails.value", "shared@example.com"))
        .send()
        .await
        .unwrap();
    assert_ne!(found.user_id, bob);
}

#[tokio::test]
async fn the_email_rule_can_be_switched_through_the_admin_api() {
    let (_emulator, client, admin) = start().await;
    assert_eq!(admin.rules().await.unwrap(), Rules::default());
    assert!(Rules::default().unique_emails);
    create_user(&client, "alice", "alice@example.com").await;
    admin
        .set_rules(&Rules {
            unique_emails: false,
            ..Rules::default()
        })
        .await
        .unwrap();
    create_user(&client, "bob", "alice@example.com").await;
    admin.set_rules(&Rules::default()).await.unwrap();
    try_create_user(&client, "carol", "alice@example.com")
        .await
        .unwrap_err();
    // Reset keeps the rules.
    admin.reset().await.unwrap();
    assert_eq!(admin.rules().await.unwrap(), Rules::default());
    // An unknown rule is refused.
    let reply = admin
        .request("PUT", "/_admin/rules", &[], br#"{"unique_email": false}"#)
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
}

// ---- case-insensitive names ----

#[tokio::test]
async fn by_default_names_that_differ_only_in_case_are_different_names() {
    let (_emulator, client, _) = start().await;
    create_user(&client, "alice", "a1@example.com").await;
    create_user(&client, "ALICE", "a2@example.com").await;
    client
        .create_group()
        .identity_store_id(STORE)
        .display_name("Engineers")
        .send()
        .await
        .unwrap();
    client
        .create_group()
        .identity_store_id(STORE)
        .display_name("engineers")
        .send()
        .await
        .unwrap();
    let missing = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("userName", "Alice"))
        .send()
        .await;
    assert!(missing.is_err());
}

#[tokio::test]
async fn with_case_insensitive_names_a_name_that_differs_only_in_case_is_a_conflict() {
    let (_emulator, client, _) = start_with(Options {
        case_insensitive_names: true,
        ..Options::default()
    })
    .await;
    create_user(&client, "alice", "a1@example.com").await;
    let error = try_create_user(&client, "ALICE", "a2@example.com").await.unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        CreateUserError::ConflictException(c) if c.reason() == Some(&ConflictExceptionReason::UniquenessConstraintViolation)
    ));
    let bob = create_user(&client, "bob", "b@example.com").await;
    let error = client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&bob)
        .operations(set("userName", Document::String("Alice".into())))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        UpdateUserError::ConflictException(_)
    ));
    // A user may change the case of its own name.
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&bob)
        .operations(set("userName", Document::String("Bob".into())))
        .send()
        .await
        .unwrap();

    client
        .create_group()
        .identity_store_id(STORE)
        .display_name("Engineers")
        .send()
        .await
        .unwrap();
    let error = client
        .create_group()
        .identity_store_id(STORE)
        .display_name("ENGINEERS")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        error.into_service_error(),
        CreateGroupError::ConflictException(_)
    ));
}

#[tokio::test]
async fn with_case_insensitive_names_lookups_and_filters_ignore_case_and_values_keep_theirs() {
    let (_emulator, client, _) = start_with(Options {
        case_insensitive_names: true,
        ..Options::default()
    })
    .await;
    let alice = create_user(&client, "Alice.Archer", "alice@example.com").await;
    let group = client
        .create_group()
        .identity_store_id(STORE)
        .display_name("Platform Engineers")
        .send()
        .await
        .unwrap()
        .group_id;

    let found = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("userName", "alice.archer"))
        .send()
        .await
        .unwrap();
    assert_eq!(found.user_id, alice);
    let found = client
        .get_group_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("displayName", "PLATFORM engineers"))
        .send()
        .await
        .unwrap();
    assert_eq!(found.group_id, group);

    #[allow(deprecated)]
    let users = client
        .list_users()
        .identity_store_id(STORE)
        .filters(
            Filter::builder()
                .attribute_path("UserName")
                .attribute_value("ALICE.ARCHER")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .users;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].user_name(), Some("Alice.Archer"));
    #[allow(deprecated)]
    let groups = client
        .list_groups()
        .identity_store_id(STORE)
        .filters(
            Filter::builder()
                .attribute_path("DisplayName")
                .attribute_value("platform ENGINEERS")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .groups;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].display_name(), Some("Platform Engineers"));

    let described = describe(&client, &alice).await;
    assert_eq!(described.user_name(), Some("Alice.Archer"));
}

#[tokio::test]
async fn case_insensitive_names_can_be_switched_on_at_runtime() {
    let (_emulator, client, admin) = start().await;
    let alice = create_user(&client, "Alice", "alice@example.com").await;
    admin
        .set_rules(&Rules {
            case_insensitive_names: true,
            ..Rules::default()
        })
        .await
        .unwrap();
    let found = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("userName", "ALICE"))
        .send()
        .await
        .unwrap();
    assert_eq!(found.user_id, alice);
    try_create_user(&client, "alice", "other@example.com")
        .await
        .unwrap_err();
}

// ---- the throttle as captured from the service ----

fn captured(mut spec: FaultSpec) -> Options {
    spec.throttle_shape = ThrottleShape::Captured;
    Options {
        faults: FaultConfig {
            default: spec,
            ..FaultConfig::default()
        },
        ..Options::default()
    }
}

#[tokio::test]
async fn a_captured_throttle_reaches_the_sdk_with_no_retry_after_and_no_request_id() {
    let (_emulator, client, _) = start_with(captured(FaultSpec {
        throttle_probability: 1.0,
        // The captured shape has no retry-after, whatever this says.
        throttle_retry_after: Some(7),
        ..FaultSpec::default()
    }))
    .await;
    let error = client.list_users().identity_store_id(STORE).send().await.unwrap_err();
    let raw = error.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 400);
    assert_eq!(raw.headers().get("x-amzn-RequestId"), None);
    assert_eq!(raw.headers().get("Retry-After"), None);
    let body: serde_json::Value = serde_json::from_slice(raw.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({ "__type": "ThrottlingException", "Message": "Rate exceeded" })
    );

    assert_eq!(error.code(), Some("ThrottlingException"));
    assert_eq!(error.message(), Some("Rate exceeded"));
    assert_eq!(error.request_id(), None);
    let ListUsersError::ThrottlingException(throttle) = error.into_service_error() else {
        panic!("not a throttle")
    };
    assert_eq!(throttle.retry_after_seconds(), 0, "no RetryAfterSeconds member");
    assert_eq!(throttle.request_id(), None);
    assert_eq!(throttle.meta().request_id(), None);
}

#[tokio::test]
async fn rate_limit_and_burst_throttles_take_the_captured_shape_too() {
    let (_emulator, _client, admin) = start_with(captured(FaultSpec {
        rate_limit: Some(0.001),
        burst: Some(1.0),
        rate_limit_retry_after: Some(3),
        ..FaultSpec::default()
    }))
    .await;
    let body = json!({ "IdentityStoreId": STORE });
    assert_eq!(admin.call("ListGroups", &body).await.unwrap().status, 200);
    let throttled = admin.call("ListGroups", &body).await.unwrap();
    assert_eq!(throttled.status, 400);
    assert_eq!(
        throttled.json(),
        json!({ "__type": "ThrottlingException", "Message": "Rate exceeded" })
    );
    assert_eq!(throttled.header("x-amzn-RequestId"), None);
    assert_eq!(throttled.header("Retry-After"), None);

    // A burst set at runtime through the admin API, as JSON.
    let reply = admin
        .request(
            "PUT",
            "/_admin/faults",
            &[("Content-Type", "application/json")],
            br#"{"default": {"throttle_next": 1, "throttle_shape": "captured"}}"#,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 204);
    let throttled = admin.call("ListUsers", &body).await.unwrap();
    assert_eq!(
        throttled.json(),
        json!({ "__type": "ThrottlingException", "Message": "Rate exceeded" })
    );
    assert_eq!(throttled.header("x-amzn-RequestId"), None);
    assert_eq!(admin.call("ListUsers", &body).await.unwrap().status, 200);
}

#[tokio::test]
async fn by_default_throttles_keep_their_request_id_and_retry_after() {
    let (_emulator, _client, admin) = start_with(Options {
        faults: FaultConfig {
            default: FaultSpec {
                throttle_next: 1,
                throttle_retry_after: Some(2),
                ..FaultSpec::default()
            },
            ..FaultConfig::default()
        },
        ..Options::default()
    })
    .await;
    let reply = admin
        .call("ListUsers", &json!({ "IdentityStoreId": STORE }))
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["RetryAfterSeconds"], 2);
    assert!(reply.json()["RequestId"].is_string());
    assert!(reply.header("x-amzn-RequestId").is_some());
    assert_eq!(reply.header("Retry-After"), Some("2"));
    // The fault configuration reads back with the shape named.
    let faults = admin.request("GET", "/_admin/faults", &[], b"").await.unwrap().json();
    assert_eq!(faults["default"]["throttle_shape"], "detailed");
}

// ---- DescribeIdentityStore, ListIdentityStores, UpdateIdentityStore ----

#[tokio::test]
async fn the_identity_store_is_described_by_id_or_arn_and_others_are_not_found() {
    let (_emulator, client, admin) = start().await;
    for id in [STORE, STORE_ARN] {
        let described = client
            .describe_identity_store()
            .identity_store_id(id)
            .send()
            .await
            .unwrap();
        assert_eq!(described.identity_store_id(), STORE);
        assert_eq!(described.identity_store_arn(), STORE_ARN);
        assert!(described.network_configuration().is_none());
    }
    let error = client
        .describe_identity_store()
        .identity_store_id("d-0000000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let DescribeIdentityStoreError::ResourceNotFoundException(e) = error else {
        panic!("{error:?}")
    };
    assert_eq!(e.resource_type(), Some(&ResourceType::IdentityStore));
    assert_eq!(e.resource_id(), Some("d-0000000000"));
    let error = client
        .describe_identity_store()
        .identity_store_id("not-a-store")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, DescribeIdentityStoreError::ValidationException(_)));
    let reply = admin.call("DescribeIdentityStore", &json!({})).await.unwrap();
    assert_eq!(reply.json()["__type"], "ValidationException");
}

#[tokio::test]
async fn the_one_identity_store_is_listed_and_pages_end() {
    let (_emulator, client, admin) = start().await;
    let listed = client.list_identity_stores().send().await.unwrap();
    assert_eq!(listed.identity_stores().len(), 1);
    assert_eq!(listed.identity_stores()[0].identity_store_id(), STORE);
    assert_eq!(listed.identity_stores()[0].identity_store_arn(), STORE_ARN);
    assert_eq!(listed.next_token(), None);
    let all: Vec<_> = client
        .list_identity_stores()
        .max_results(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(all.len(), 1);
    for bad in [
        json!({ "MaxResults": 0 }),
        json!({ "MaxResults": 101 }),
        json!({ "NextToken": "nope" }),
    ] {
        let reply = admin.call("ListIdentityStores", &bad).await.unwrap();
        assert_eq!(reply.json()["__type"], "ValidationException", "{bad}");
    }
}

#[tokio::test]
async fn updating_the_identity_store_replaces_its_network_configuration_whole() {
    let (_emulator, client, admin) = start().await;
    let updated = client
        .update_identity_store()
        .identity_store_id(STORE)
        .network_configuration(
            NetworkConfiguration::builder()
                .vpce_access_required(true)
                .api_restrict_source_vpcs("vpc-0123abcd")
                .api_allow_source_ips("10.0.0.0/8")
                .scim_allow_source_ips("0.0.0.0/0")
                .scim_allow_source_ips("2001:db8::/32")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.identity_store_id(), STORE);
    assert_eq!(updated.identity_store_arn(), STORE_ARN);
    let described = client
        .describe_identity_store()
        .identity_store_id(STORE)
        .send()
        .await
        .unwrap();
    let config = described.network_configuration().expect("configured");
    assert!(config.vpce_access_required());
    assert_eq!(config.api_restrict_source_vpcs(), ["vpc-0123abcd"]);
    assert_eq!(config.api_allow_source_ips(), ["10.0.0.0/8"]);
    assert_eq!(config.scim_allow_source_ips(), ["0.0.0.0/0", "2001:db8::/32"]);

    // Omitted lists are cleared.
    client
        .update_identity_store()
        .identity_store_id(STORE)
        .network_configuration(
            NetworkConfiguration::builder()
                .vpce_access_required(false)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let described = client
        .describe_identity_store()
        .identity_store_id(STORE)
        .send()
        .await
        .unwrap();
    let config = described.network_configuration().expect("configured");
    assert!(!config.vpce_access_required());
    assert!(config.api_allow_source_ips().is_empty());

    // Without a NetworkConfiguration nothing changes.
    client
        .update_identity_store()
        .identity_store_id(STORE)
        .send()
        .await
        .unwrap();
    assert!(
        client
            .describe_identity_store()
            .identity_store_id(STORE)
            .send()
            .await
            .unwrap()
            .network_configuration()
            .is_some()
    );

    let error = client
        .update_identity_store()
        .identity_store_id("d-0000000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, UpdateIdentityStoreError::ResourceNotFoundException(_)));

    for bad in [
        json!({}),
        json!({ "VpceAccessRequired": true, "ApiAllowSourceIps": [] }),
        json!({ "VpceAccessRequired": true, "ApiAllowSourceIps": ["10.0.0.0/33"] }),
        json!({ "VpceAccessRequired": true, "ApiRestrictSourceVpcs": ["subnet-0123abcd"] }),
        json!({ "VpceAccessRequired": true, "ScimAllowSourceIps": vec!["10.0.0.1"; 51] }),
    ] {
        let reply = admin
            .call(
                "UpdateIdentityStore",
                &json!({ "IdentityStoreId": STORE, "NetworkConfiguration": bad }),
            )
            .await
            .unwrap();
        assert_eq!(reply.json()["__type"], "ValidationException", "{bad}");
    }
}

// ---- UserStatus ----

#[tokio::test]
async fn a_new_user_is_enabled_and_an_operator_can_disable_it() {
    let (_emulator, client, admin) = start().await;
    let alice = create_user(&client, "alice", "alice@example.com").await;
    let described = describe(&client, &alice).await;
    assert_eq!(described.user_status(), Some(&UserStatus::Enabled));
    let listed = client.list_users().identity_store_id(STORE).send().await.unwrap();
    assert_eq!(listed.users()[0].user_status(), Some(&UserStatus::Enabled));

    assert_eq!(admin.set_user_status(&alice, "DISABLED").await.unwrap().status, 204);
    let described = describe(&client, &alice).await;
    assert_eq!(described.user_status(), Some(&UserStatus::Disabled));
    assert_eq!(described.revision(), "2", "disabling a user changes it");
    let listed = client.list_users().identity_store_id(STORE).send().await.unwrap();
    assert_eq!(listed.users()[0].user_status(), Some(&UserStatus::Disabled));
    // Other updates leave the status alone.
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("title", Document::String("Engineer".into())))
        .send()
        .await
        .unwrap();
    let described = describe(&client, &alice).await;
    assert_eq!(described.user_status(), Some(&UserStatus::Disabled));

    assert_eq!(admin.set_user_status(&alice, "ENABLED").await.unwrap().status, 204);
    let described = describe(&client, &alice).await;
    assert_eq!(described.user_status(), Some(&UserStatus::Enabled));

    assert_eq!(admin.set_user_status(&alice, "SUSPENDED").await.unwrap().status, 400);
    let unknown = "1234567890-00000000-0000-4000-8000-000000000000";
    assert_eq!(admin.set_user_status(unknown, "DISABLED").await.unwrap().status, 404);
}

#[tokio::test]
async fn update_user_cannot_set_the_status_unless_the_flag_allows_it() {
    let (_emulator, client, _) = start().await;
    let alice = create_user(&client, "alice", "alice@example.com").await;
    let error = client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("userStatus", Document::String("DISABLED".into())))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, UpdateUserError::ValidationException(_)), "{error:?}");

    let (_emulator, client, _) = start_with(Options {
        user_status_updatable: true,
        ..Options::default()
    })
    .await;
    let alice = create_user(&client, "alice", "alice@example.com").await;
    client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("userStatus", Document::String("DISABLED".into())))
        .send()
        .await
        .unwrap();
    let described = describe(&client, &alice).await;
    assert_eq!(described.user_status(), Some(&UserStatus::Disabled));
    let error = client
        .update_user()
        .identity_store_id(STORE)
        .user_id(&alice)
        .operations(set("userStatus", Document::String("GONE".into())))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(matches!(error, UpdateUserError::ValidationException(_)));
}

// ---- ids, deletes and messages ----

#[tokio::test]
async fn ids_are_prefixed_by_default_and_bare_uuids_when_asked() {
    let (_emulator, client, _) = start().await;
    let id = create_user(&client, "alice", "alice@example.com").await;
    assert!(id.starts_with("1234567890-"), "{id}");
    assert_eq!(id.len(), 10 + 1 + 36);

    let (_emulator, client, _) = start_with(Options {
        plain_uuid_ids: true,
        ..Options::default()
    })
    .await;
    let id = create_user(&client, "alice", "alice@example.com").await;
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.matches('-').count(), 4);
    let described = describe(&client, &id).await;
    assert_eq!(described.user_id(), id);
}

#[tokio::test]
async fn deleting_what_does_not_exist_is_not_found_unless_deletes_are_idempotent() {
    let absent = "1234567890-00000000-0000-4000-8000-000000000000";
    let (_emulator, _client, admin) = start().await;
    for (operation, member) in [
        ("DeleteUser", "UserId"),
        ("DeleteGroup", "GroupId"),
        ("DeleteGroupMembership", "MembershipId"),
    ] {
        let reply = admin
            .call(operation, &json!({ "IdentityStoreId": STORE, member: absent }))
            .await
            .unwrap();
        assert_eq!(reply.json()["__type"], "ResourceNotFoundException", "{operation}");
    }

    let (_emulator, client, admin) = start_with(Options {
        idempotent_deletes: true,
        ..Options::default()
    })
    .await;
    for (operation, member) in [
        ("DeleteUser", "UserId"),
        ("DeleteGroup", "GroupId"),
        ("DeleteGroupMembership", "MembershipId"),
    ] {
        let reply = admin
            .call(operation, &json!({ "IdentityStoreId": STORE, member: absent }))
            .await
            .unwrap();
        assert_eq!((reply.status, reply.json()), (200, json!({})), "{operation}");
    }
    // Still a not-found store, and still a validation error for a malformed id.
    let error = client
        .delete_user()
        .identity_store_id("d-0000000000")
        .user_id(absent)
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ResourceNotFoundException"));
    let error = client
        .delete_user()
        .identity_store_id(STORE)
        .user_id("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ValidationException"));
}

#[tokio::test]
async fn missing_required_user_attributes_are_named_as_the_service_names_them() {
    let (_emulator, _client, admin) = start().await;
    let cases = [
        (json!({}), "userName is a required attribute"),
        (
            json!({ "UserName": "u", "Name": {} }),
            "displayname: The attribute displayname is required, name: The attribute name is required",
        ),
        (
            json!({ "UserName": "u", "DisplayName": "d", "Name": { "GivenName": "g" } }),
            "familyname: The attribute familyname is required",
        ),
        (
            json!({ "UserName": "u", "DisplayName": "d", "Name": { "FamilyName": "f" } }),
            "givenname: The attribute givenname is required",
        ),
    ];
    for (mut body, message) in cases {
        body["IdentityStoreId"] = json!(STORE);
        let reply = admin.call("CreateUser", &body).await.unwrap();
        assert_eq!(reply.json()["__type"], "ValidationException", "{body}");
        assert_eq!(reply.json()["Message"], message, "{body}");
    }
}

#[tokio::test]
async fn a_lookup_by_an_empty_value_or_a_path_that_is_not_unique_is_a_validation_error() {
    let (_emulator, client, _) = start().await;
    let error = client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("userName", ""))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("ValidationException"));
    assert_eq!(
        error.message(),
        Some("attribute value cannot be empty or null for attribute path")
    );
    let error = client
        .get_group_id()
        .identity_store_id(STORE)
        .alternate_identifier(unique("description", "x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.message(),
        Some("The attribute description is not a unique attribute")
    );
}

#[tokio::test]
async fn a_user_status_and_the_network_configuration_survive_a_restart_from_the_state_file() {
    let path = std::env::temp_dir().join(format!("emulator-rules-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let options = || Options {
        state_file: Some(path.clone()),
        ..Options::default()
    };
    let (emulator, client, admin) = start_with(options()).await;
    let alice = create_user(&client, "alice", "alice@example.com").await;
    admin.set_user_status(&alice, "DISABLED").await.unwrap();
    client
        .update_identity_store()
        .identity_store_id(STORE)
        .network_configuration(
            NetworkConfiguration::builder()
                .vpce_access_required(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    emulator.stop().await;

    let (_emulator, client, _) = start_with(options()).await;
    let described = describe(&client, &alice).await;
    assert_eq!(described.user_status(), Some(&UserStatus::Disabled));
    let store = client
        .describe_identity_store()
        .identity_store_id(STORE)
        .send()
        .await
        .unwrap();
    assert!(
        store
            .network_configuration()
            .is_some_and(NetworkConfigurationDetails::vpce_access_required)
    );
    // The email index is rebuilt from the snapshot too.
    try_create_user(&client, "alice.two", "ALICE@example.com")
        .await
        .unwrap_err();
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_second_emulator_on_a_busy_port_fails_naming_the_address() {
    let first = Emulator::start(Options::default()).await.expect("the first starts");
    let error = Emulator::start(Options {
        bind: first.addr,
        ..Options::default()
    })
    .await
    .expect_err("the port is taken");
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    assert!(error.to_string().contains(&first.addr.to_string()), "{error}");
}
