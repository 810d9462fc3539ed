//! The retry policy and the idempotency rules, against the real SDK client through
//! aws-smithy-mocks. Every test asserts how many calls reached the "service".

use std::time::Duration;

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::create_group_membership::CreateGroupMembershipError;
use aws_sdk_identitystore::operation::create_user::CreateUserError;
use aws_sdk_identitystore::operation::delete_group_membership::DeleteGroupMembershipError;
use aws_sdk_identitystore::operation::delete_user::DeleteUserError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_sdk_identitystore::operation::list_users::ListUsersError;
use aws_sdk_identitystore::types::ConflictExceptionReason;
use aws_smithy_mocks::mock;
use tokio::time::Instant;
use turnstile::Ensured;
use turnstile::testing::{self, out};
use turnstile::{Deadline, Error, IdentityStore, RetryPolicy, UserSpec};

fn store(rules: &[&aws_smithy_mocks::Rule], policy: RetryPolicy) -> IdentityStore {
    IdentityStore::new(testing::client(rules), testing::STORE_ID, policy)
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

/// The joiner the create tests send.
fn alice() -> UserSpec {
    UserSpec {
        user_name: "alice.archer".into(),
        display_name: "Alice Archer".into(),
        ..UserSpec::default()
    }
}

#[tokio::test]
async fn a_create_that_meets_a_uniqueness_conflict_resolves_to_the_existing_user() {
    let create = mock!(Client::create_user).then_error(|| {
        CreateUserError::ConflictException(testing::conflict(
            ConflictExceptionReason::UniquenessConstraintViolation,
        ))
    });
    let lookup = mock!(Client::get_user_id).then_output(|| out::user_id("user-alice"));
    let store = store(&[&create, &lookup], quick());

    let ensured = store.create_user(Deadline::unbounded(), &alice()).await.unwrap();

    assert_eq!(ensured, Ensured::Existing("user-alice".into()));
    assert_eq!((create.num_calls(), lookup.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_membership_create_that_meets_a_uniqueness_conflict_resolves_to_the_existing_membership() {
    let create = mock!(Client::create_group_membership).then_error(|| {
        CreateGroupMembershipError::ConflictException(testing::conflict(
            ConflictExceptionReason::UniquenessConstraintViolation,
        ))
    });
    let lookup = mock!(Client::get_group_membership_id).then_output(|| out::membership_id("m-1"));
    let store = store(&[&create, &lookup], quick());

    let ensured = store
        .create_membership(Deadline::unbounded(), "group-eng", "user-alice")
        .await
        .unwrap();

    assert_eq!(ensured, Ensured::Existing("m-1".into()));
    assert_eq!((create.num_calls(), lookup.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn throttling_with_a_retry_after_hint_waits_at_least_the_hint_each_time() {
    let create = mock!(Client::create_user)
        .sequence()
        .error(|| CreateUserError::ThrottlingException(testing::throttling(1)))
        .times(2)
        .output(|| out::created_user("user-alice"))
        .build();
    let policy = RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
    };
    let store = store(&[&create], policy);
    let started = Instant::now();

    let ensured = store.create_user(Deadline::unbounded(), &alice()).await.unwrap();

    let waited = started.elapsed();
    assert_eq!(ensured, Ensured::Created("user-alice".into()));
    assert_eq!(create.num_calls(), 3);
    assert!(waited >= Duration::from_secs(2), "waited only {waited:?}");
    // The hint plus at most one base delay of jitter per retry.
    assert!(waited <= Duration::from_millis(2200), "waited {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn throttling_whose_hint_outlasts_the_deadline_fails_as_throttled_without_waiting() {
    let create = mock!(Client::create_user)
        .sequence()
        .error(|| CreateUserError::ThrottlingException(testing::throttling(30)))
        .output(|| out::created_user("user-alice"))
        .build();
    let store = store(&[&create], quick());
    let started = Instant::now();

    let error = store
        .create_user(Deadline::after(Duration::from_secs(5)), &alice())
        .await
        .unwrap_err();

    assert_eq!(error.error_type(), "Throttled");
    let message = error.to_string();
    assert!(
        message.starts_with(
            "CreateUser is still throttled: ThrottlingException: Rate exceeded (after 1 attempt(s); the next wait of 300"
        ),
        "{message}"
    );
    assert!(
        message.ends_with(" ms would pass the invocation deadline)"),
        "{message}"
    );
    assert_eq!(create.num_calls(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(10),
        "slept {:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_without_a_hint_backs_off_and_gives_up_after_max_attempts() {
    let create = mock!(Client::create_user).then_error(|| CreateUserError::ThrottlingException(testing::throttling(0)));
    let policy = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
    };
    let store = store(&[&create], policy);
    let started = Instant::now();

    let error = store.create_user(Deadline::unbounded(), &alice()).await.unwrap_err();

    assert_eq!(error.error_type(), "Throttled");
    assert!(error.to_string().ends_with("(gave up after 4 attempts)"), "{error}");
    assert_eq!(create.num_calls(), 4);
    // Full jitter: each wait is drawn from [0, min(cap, base * 2^n)], so three waits
    // total at most 100 + 200 + 400 ms.
    assert!(started.elapsed() <= Duration::from_millis(700));
}

#[tokio::test]
async fn a_concurrent_modification_is_retried_and_then_succeeds() {
    let remove = mock!(Client::delete_group_membership)
        .sequence()
        .error(|| {
            DeleteGroupMembershipError::ConflictException(testing::conflict(
                ConflictExceptionReason::ConcurrentModification,
            ))
        })
        .output(out::deleted_membership)
        .build();
    let store = store(&[&remove], quick());

    store.delete_membership(Deadline::unbounded(), "m-1").await.unwrap();

    assert_eq!(remove.num_calls(), 2);
}

#[tokio::test]
async fn a_concurrent_modification_that_outlives_the_retries_is_concurrent_modification() {
    let remove = mock!(Client::delete_group_membership).then_error(|| {
        DeleteGroupMembershipError::ConflictException(testing::conflict(
            ConflictExceptionReason::ConcurrentModification,
        ))
    });
    let store = store(&[&remove], quick());

    let error = store.delete_membership(Deadline::unbounded(), "m-1").await.unwrap_err();

    assert_eq!(error.error_type(), "ConcurrentModification");
    assert_eq!(remove.num_calls(), 5);
}

#[tokio::test]
async fn an_internal_server_error_is_retried_and_then_succeeds() {
    let lookup = mock!(Client::get_user_id)
        .sequence()
        .error(|| GetUserIdError::InternalServerException(testing::internal()))
        .http_status(503, None)
        .output(|| out::user_id("user-alice"))
        .build();
    let store = store(&[&lookup], quick());

    let id = store.user_id(Deadline::unbounded(), "alice.archer").await.unwrap();

    assert_eq!(id.as_deref(), Some("user-alice"));
    assert_eq!(lookup.num_calls(), 3);
}

#[tokio::test]
async fn deleting_a_user_that_is_already_gone_succeeds() {
    let delete =
        mock!(Client::delete_user).then_error(|| DeleteUserError::ResourceNotFoundException(testing::not_found()));
    let store = store(&[&delete], quick());

    store.delete_user(Deadline::unbounded(), "user-alice").await.unwrap();

    assert_eq!(delete.num_calls(), 1);
}

#[tokio::test]
async fn deleting_a_membership_that_is_already_gone_succeeds() {
    let remove = mock!(Client::delete_group_membership)
        .then_error(|| DeleteGroupMembershipError::ResourceNotFoundException(testing::not_found()));
    let store = store(&[&remove], quick());

    store.delete_membership(Deadline::unbounded(), "m-1").await.unwrap();

    assert_eq!(remove.num_calls(), 1);
}

#[tokio::test]
async fn access_denied_fails_as_access_denied_after_exactly_one_call() {
    let create =
        mock!(Client::create_user).then_error(|| CreateUserError::AccessDeniedException(testing::access_denied()));
    let store = store(&[&create], quick());

    let error = store.create_user(Deadline::unbounded(), &alice()).await.unwrap_err();

    assert_eq!(
        error,
        Error::AccessDenied {
            operation: "CreateUser",
            reason: "AccessDeniedException: not authorized".into()
        }
    );
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn a_validation_error_is_rejected_after_exactly_one_call() {
    let create = mock!(Client::create_user)
        .then_error(|| CreateUserError::ValidationException(testing::validation("Invalid input for userName")));
    let store = store(&[&create], quick());

    let error = store.create_user(Deadline::unbounded(), &alice()).await.unwrap_err();

    assert_eq!(error.error_type(), "Rejected");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn a_listing_throttled_midway_resumes_from_the_last_page_instead_of_starting_over() {
    let first = mock!(Client::list_users)
        .match_requests(|r| r.next_token().is_none() && r.max_results() == Some(100))
        .then_output(|| out::users(&[("u-1", "alice.archer"), ("u-2", "bob.baker")], Some("page-2")));
    let second = mock!(Client::list_users)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .sequence()
        .error(|| ListUsersError::ThrottlingException(testing::throttling(0)))
        .output(|| out::users(&[("u-3", "carol.cook")], None))
        .build();
    let store = store(&[&first, &second], quick());

    let users = store.list_users(Deadline::unbounded()).await.unwrap();

    let names: Vec<&str> = users.iter().map(|(_, name)| name.as_str()).collect();
    assert_eq!(names, ["alice.archer", "bob.baker", "carol.cook"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 2));
}
