//! Helpers for tests against a mocked `aws_sdk_identitystore::Client`
//! (aws-smithy-mocks), shared by this crate's tests and the functions'.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::config::Credentials;
use aws_sdk_identitystore::types::ConflictExceptionReason;
use aws_sdk_identitystore::types::error::{
    AccessDeniedException, ConflictException, InternalServerException, ResourceNotFoundException, ThrottlingException,
    ValidationException,
};
use aws_smithy_mocks::{Rule, RuleMode, mock_client};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::{Config, Service};

/// The identity store id every test uses.
pub const STORE_ID: &str = "d-1234567890";

/// A client answering from `rules` (first matching, non-exhausted rule wins) with the
/// SDK's own retries off, as in production.
pub fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_identitystore, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_config::retry::RetryConfig::disabled()))
}

/// A ledger client answering from `rules`, with the SDK's retries off so that each
/// rule's answer is the call's (the functions keep DynamoDB's standard retries).
pub fn ledger_client(rules: &[&Rule]) -> aws_sdk_dynamodb::Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_config::retry::RetryConfig::disabled()))
}

/// The real SDK client for a server on 127.0.0.1 (the emulator, moto, a TLS test
/// server), built as the functions build theirs, with a fixed
/// region and static test credentials. `http` replaces the SDK's default HTTPS client.
pub async fn local_client(endpoint: &str, http: Option<SharedHttpClient>) -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint);
    if let Some(http) = http {
        loader = loader.http_client(http);
    }
    crate::identitystore::client(&loader.load().await)
}

/// The ledger's DynamoDB client for a server on 127.0.0.1 (moto's), built as the
/// functions build theirs, with the region and credentials of [`local_client`].
pub async fn local_ledger_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let loaded = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint)
        .load()
        .await;
    crate::dynamodb::client(&loaded)
}

/// Creates the ledger table as the SAM template does: string `pk` and `sk`, on demand.
pub async fn create_ledger_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("name and type are set")
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("name and type are set")
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .send()
        .await
        .expect("the ledger table is created");
}

/// Deletes a ledger table [`create_ledger_table`] made, so that a long run does not keep
/// every table in the local server's memory.
pub async fn drop_ledger_table(client: &aws_sdk_dynamodb::Client, table: &str) {
    client
        .delete_table()
        .table_name(table)
        .send()
        .await
        .expect("the ledger table is deleted");
}

/// Default configuration, quick backoff, no pacing (a mock has no quota).
pub fn config() -> Config {
    let mut config = Config::new(STORE_ID);
    config.calls_per_second = 0;
    config.retry.base_delay = Duration::from_millis(1);
    config.retry.max_delay = Duration::from_millis(5);
    config
}

/// A service over a mocked client.
pub fn service(rules: &[&Rule]) -> Service {
    Service::new(client(rules), config())
}

/// A service over a mocked client with an adjusted configuration.
pub fn service_with(rules: &[&Rule], adjust: impl FnOnce(&mut Config)) -> Service {
    let mut config = config();
    adjust(&mut config);
    Service::new(client(rules), config)
}

/// A Lambda context whose deadline is `budget` from now.
pub fn context(budget: Duration) -> Context {
    let deadline = SystemTime::now() + budget;
    let mut context = Context::default();
    context.deadline =
        u64::try_from(deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX);
    context.request_id = "test-request".into();
    context
}

/// An invocation with a minute to run, its payload raw as the functions take it.
#[allow(clippy::needless_pass_by_value, reason = "callers build the payload in the call")]
pub fn event(payload: Value) -> LambdaEvent<Box<RawValue>> {
    raw_event(&payload.to_string(), context(Duration::from_secs(60)))
}

/// An invocation of any JSON text the runtime would accept, with `context`.
pub fn raw_event(text: &str, context: Context) -> LambdaEvent<Box<RawValue>> {
    let payload = RawValue::from_string(text.to_owned()).expect("the runtime hands over valid JSON only");
    LambdaEvent::new(payload, context)
}

/// The workspace's `tests/fixtures` folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A JSON fixture from `tests/fixtures`, by relative path.
pub fn fixture(path: &str) -> Value {
    let full = fixtures_dir().join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", full.display()))
}

/// Error metadata as the SDK's deserializer would record it from a real response.
fn meta(code: &str, message: &str) -> aws_sdk_identitystore::error::ErrorMetadata {
    aws_sdk_identitystore::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}

/// ThrottlingException, with `RetryAfterSeconds` when `retry_after > 0`.
pub fn throttling(retry_after: i32) -> ThrottlingException {
    ThrottlingException::builder()
        .message("Rate exceeded")
        .meta(meta("ThrottlingException", "Rate exceeded"))
        .retry_after_seconds(retry_after)
        .build()
}

/// InternalServerException.
pub fn internal() -> InternalServerException {
    InternalServerException::builder()
        .message("internal failure")
        .meta(meta("InternalServerException", "internal failure"))
        .build()
}

/// ConflictException with `reason`.
pub fn conflict(reason: ConflictExceptionReason) -> ConflictException {
    ConflictException::builder()
        .message("conflict")
        .meta(meta("ConflictException", "conflict"))
        .reason(reason)
        .build()
}

/// ResourceNotFoundException.
pub fn not_found() -> ResourceNotFoundException {
    ResourceNotFoundException::builder()
        .message("resource not found")
        .meta(meta("ResourceNotFoundException", "resource not found"))
        .build()
}

/// ResourceNotFoundException about the identity store itself (a wrong id or region).
pub fn store_not_found() -> ResourceNotFoundException {
    ResourceNotFoundException::builder()
        .message("identity store not found")
        .resource_type(aws_sdk_identitystore::types::ResourceType::IdentityStore)
        .resource_id(STORE_ID)
        .meta(meta("ResourceNotFoundException", "identity store not found"))
        .build()
}

/// AccessDeniedException.
pub fn access_denied() -> AccessDeniedException {
    AccessDeniedException::builder()
        .message("not authorized")
        .meta(meta("AccessDeniedException", "not authorized"))
        .build()
}

/// ValidationException.
pub fn validation(message: &str) -> ValidationException {
    ValidationException::builder()
        .message(message)
        .meta(meta("ValidationException", message))
        .build()
}

/// Modelled outputs with every field the SDK requires, for mock rules.
pub mod out {
    use aws_sdk_identitystore::operation::create_group::CreateGroupOutput;
    use aws_sdk_identitystore::operation::create_group_membership::CreateGroupMembershipOutput;
    use aws_sdk_identitystore::operation::create_user::CreateUserOutput;
    use aws_sdk_identitystore::operation::delete_group_membership::DeleteGroupMembershipOutput;
    use aws_sdk_identitystore::operation::delete_user::DeleteUserOutput;
    use aws_sdk_identitystore::operation::describe_group::DescribeGroupOutput;
    use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
    use aws_sdk_identitystore::operation::describe_user::builders::DescribeUserOutputBuilder;
    use aws_sdk_identitystore::operation::get_group_id::GetGroupIdOutput;
    use aws_sdk_identitystore::operation::get_group_membership_id::GetGroupMembershipIdOutput;
    use aws_sdk_identitystore::operation::get_user_id::GetUserIdOutput;
    use aws_sdk_identitystore::operation::is_member_in_groups::IsMemberInGroupsOutput;
    use aws_sdk_identitystore::operation::list_group_memberships::ListGroupMembershipsOutput;
    use aws_sdk_identitystore::operation::list_group_memberships_for_member::ListGroupMembershipsForMemberOutput;
    use aws_sdk_identitystore::operation::list_users::ListUsersOutput;
    use aws_sdk_identitystore::operation::update_group::UpdateGroupOutput;
    use aws_sdk_identitystore::operation::update_user::UpdateUserOutput;
    use aws_sdk_identitystore::types::{Email, GroupMembership, GroupMembershipExistenceResult, MemberId, Name, User};

    use super::STORE_ID;

    fn arn(kind: &str, id: &str) -> String {
        format!("arn:aws:identitystore:::{kind}/{id}")
    }

    pub fn created_user(user_id: &str) -> CreateUserOutput {
        CreateUserOutput::builder()
            .identity_store_id(STORE_ID)
            .user_id(user_id)
            .user_arn(arn("user", user_id))
            .revision("1")
            .build()
            .expect("complete")
    }

    pub fn user_id(user_id: &str) -> GetUserIdOutput {
        GetUserIdOutput::builder()
            .identity_store_id(STORE_ID)
            .user_id(user_id)
            .user_arn(arn("user", user_id))
            .build()
            .expect("complete")
    }

    /// A DescribeUser answer to fill with attributes; `build` it with `.build().unwrap()`.
    pub fn described_user(user_id: &str, user_name: &str) -> DescribeUserOutputBuilder {
        DescribeUserOutput::builder()
            .identity_store_id(STORE_ID)
            .user_id(user_id)
            .user_name(user_name)
            .user_arn(arn("user", user_id))
            .revision("1")
    }

    /// alice.archer as stored after `onboard-user/unchanged.json`: the attributes the
    /// fixtures give her, and nothing else.
    pub fn stored_alice() -> DescribeUserOutput {
        stored_alice_builder().build().expect("the required members are set")
    }

    /// [`stored_alice`], to add to.
    pub fn stored_alice_builder() -> DescribeUserOutputBuilder {
        described_user("user-alice", "alice.archer")
            .display_name("Alice Archer")
            .name(Name::builder().given_name("Alice").family_name("Archer").build())
            .emails(
                Email::builder()
                    .value("alice.archer@example.com")
                    .r#type("work")
                    .primary(true)
                    .build(),
            )
            .title("Software Engineer")
    }

    pub fn updated_user(user_id: &str) -> UpdateUserOutput {
        UpdateUserOutput::builder()
            .identity_store_id(STORE_ID)
            .user_id(user_id)
            .user_arn(arn("user", user_id))
            .revision("2")
            .build()
            .expect("complete")
    }

    pub fn deleted_user() -> DeleteUserOutput {
        DeleteUserOutput::builder().build()
    }

    pub fn group_id(group_id: &str) -> GetGroupIdOutput {
        GetGroupIdOutput::builder()
            .identity_store_id(STORE_ID)
            .group_id(group_id)
            .group_arn(arn("group", group_id))
            .build()
            .expect("complete")
    }

    pub fn created_group(group_id: &str) -> CreateGroupOutput {
        CreateGroupOutput::builder()
            .identity_store_id(STORE_ID)
            .group_id(group_id)
            .group_arn(arn("group", group_id))
            .revision("1")
            .build()
            .expect("complete")
    }

    pub fn described_group(group_id: &str, display_name: &str, description: Option<&str>) -> DescribeGroupOutput {
        DescribeGroupOutput::builder()
            .identity_store_id(STORE_ID)
            .group_id(group_id)
            .group_arn(arn("group", group_id))
            .revision("1")
            .display_name(display_name)
            .set_description(description.map(str::to_owned))
            .build()
            .expect("complete")
    }

    pub fn updated_group(group_id: &str) -> UpdateGroupOutput {
        UpdateGroupOutput::builder()
            .identity_store_id(STORE_ID)
            .group_id(group_id)
            .group_arn(arn("group", group_id))
            .revision("2")
            .build()
            .expect("complete")
    }

    pub fn created_membership(membership_id: &str) -> CreateGroupMembershipOutput {
        CreateGroupMembershipOutput::builder()
            .identity_store_id(STORE_ID)
            .membership_id(membership_id)
            .membership_arn(arn("membership", membership_id))
            .build()
            .expect("complete")
    }

    pub fn membership_id(membership_id: &str) -> GetGroupMembershipIdOutput {
        GetGroupMembershipIdOutput::builder()
            .identity_store_id(STORE_ID)
            .membership_id(membership_id)
            .membership_arn(arn("membership", membership_id))
            .build()
            .expect("complete")
    }

    pub fn deleted_membership() -> DeleteGroupMembershipOutput {
        DeleteGroupMembershipOutput::builder().build()
    }

    /// IsMemberInGroups: `(group id, is a member)` pairs.
    pub fn member_in(pairs: &[(&str, bool)]) -> IsMemberInGroupsOutput {
        IsMemberInGroupsOutput::builder()
            .set_results(Some(
                pairs
                    .iter()
                    .map(|(group, exists)| {
                        GroupMembershipExistenceResult::builder()
                            .group_id(*group)
                            .member_id(MemberId::UserId("ignored".into()))
                            .membership_exists(*exists)
                            .build()
                    })
                    .collect(),
            ))
            .build()
            .expect("complete")
    }

    /// A listed membership.
    pub fn membership(membership_id: &str, group_id: &str, user_id: &str) -> GroupMembership {
        GroupMembership::builder()
            .identity_store_id(STORE_ID)
            .membership_id(membership_id)
            .membership_arn(arn("membership", membership_id))
            .group_id(group_id)
            .member_id(MemberId::UserId(user_id.to_owned()))
            .build()
            .expect("complete")
    }

    pub fn memberships_for_member(
        items: Vec<GroupMembership>,
        next: Option<&str>,
    ) -> ListGroupMembershipsForMemberOutput {
        ListGroupMembershipsForMemberOutput::builder()
            .set_group_memberships(Some(items))
            .set_next_token(next.map(str::to_owned))
            .build()
            .expect("complete")
    }

    pub fn memberships_of_group(items: Vec<GroupMembership>, next: Option<&str>) -> ListGroupMembershipsOutput {
        ListGroupMembershipsOutput::builder()
            .set_group_memberships(Some(items))
            .set_next_token(next.map(str::to_owned))
            .build()
            .expect("complete")
    }

    /// A ListUsers page of `(user id, userName)`.
    pub fn users(items: &[(&str, &str)], next: Option<&str>) -> ListUsersOutput {
        ListUsersOutput::builder()
            .set_users(Some(
                items
                    .iter()
                    .map(|(id, name)| {
                        User::builder()
                            .identity_store_id(STORE_ID)
                            .user_id(*id)
                            .user_name(*name)
                            .user_arn(arn("user", id))
                            .revision("1")
                            .build()
                            .expect("complete")
                    })
                    .collect(),
            ))
            .set_next_token(next.map(str::to_owned))
            .build()
            .expect("complete")
    }
}

/// One catch-all rule per operation the functions can call, each failing with
/// AccessDenied: a test that hands these to a client and then finds every
/// `num_calls()` at zero has proved that no call was made.
pub fn every_operation() -> Vec<Rule> {
    use aws_sdk_identitystore::operation as op;
    use aws_smithy_mocks::mock;
    macro_rules! deny {
        ($($method:ident => $module:ident :: $error:ident),+ $(,)?) => {
            vec![$(mock!(Client::$method).then_error(|| op::$module::$error::AccessDeniedException(access_denied()))),+]
        };
    }
    deny!(
        create_user => create_user::CreateUserError,
        describe_user => describe_user::DescribeUserError,
        update_user => update_user::UpdateUserError,
        delete_user => delete_user::DeleteUserError,
        get_user_id => get_user_id::GetUserIdError,
        list_users => list_users::ListUsersError,
        create_group => create_group::CreateGroupError,
        describe_group => describe_group::DescribeGroupError,
        update_group => update_group::UpdateGroupError,
        get_group_id => get_group_id::GetGroupIdError,
        create_group_membership => create_group_membership::CreateGroupMembershipError,
        delete_group_membership => delete_group_membership::DeleteGroupMembershipError,
        get_group_membership_id => get_group_membership_id::GetGroupMembershipIdError,
        list_group_memberships => list_group_memberships::ListGroupMembershipsError,
        list_group_memberships_for_member => list_group_memberships_for_member::ListGroupMembershipsForMemberError,
        is_member_in_groups => is_member_in_groups::IsMemberInGroupsError,
    )
}

/// Calls made through a set of rules.
pub fn total_calls(rules: &[Rule]) -> usize {
    rules.iter().map(Rule::num_calls).sum()
}
