//! The emulator's replication lag (`lag_ms` in the fault configuration): look-ups and
//! listings may answer from the store as it was up to `lag_ms` ago, while writes,
//! uniqueness and the Describe operations always see it as it is.
//!
//! With a window of an hour, each look-up's seeded delay is minutes behind (unless the
//! draw is within the few milliseconds since the write), so that some look-ups of a
//! user created a moment ago miss it is what the configuration promises, not a race.

mod support;

use aws_sdk_identitystore::operation::create_user::CreateUserError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_sdk_identitystore::types::{AlternateIdentifier, Name, UniqueAttribute};
use aws_smithy_types::Document;
use support::store::{Bench, STORE};
use turnstile_emulator::FaultConfig;

const HOUR_MS: u64 = 3_600_000;

fn by_name(name: &str) -> AlternateIdentifier {
    AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path("userName")
            .attribute_value(Document::String(name.to_owned()))
            .build()
            .expect("path and value"),
    )
}

/// What one GetUserId of `name` answers: the id, or `None` for ResourceNotFound.
async fn found(bench: &Bench, name: &str) -> Option<String> {
    match bench
        .client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(by_name(name))
        .send()
        .await
    {
        Ok(found) => Some(found.user_id),
        Err(e) => {
            assert!(
                e.as_service_error()
                    .is_some_and(GetUserIdError::is_resource_not_found_exception),
                "{e:?}"
            );
            None
        }
    }
}

/// Whether one ListUsers lists the user `id`.
async fn listed(bench: &Bench, id: &str) -> bool {
    let listed = bench
        .client
        .list_users()
        .identity_store_id(STORE)
        .send()
        .await
        .expect("ListUsers");
    listed.users.iter().any(|u| u.user_id == id)
}

#[tokio::test]
async fn under_replication_lag_lookups_and_listings_may_miss_a_new_user_while_writes_and_describe_never_do() {
    let bench = Bench::start().await;
    bench
        .admin
        .set_faults(&FaultConfig {
            seed: 3,
            lag_ms: HOUR_MS,
            ..FaultConfig::default()
        })
        .await
        .expect("faults are set");
    let id = bench.user("lena.lag").await;

    let described = bench
        .client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&id)
        .send()
        .await
        .expect("DescribeUser by id sees the write at once");
    assert_eq!(described.user_name.as_deref(), Some("lena.lag"));
    // Uniqueness is the live store's: a second user of that name is refused.
    let again = bench
        .client
        .create_user()
        .identity_store_id(STORE)
        .user_name("lena.lag")
        .display_name("Lena")
        .name(Name::builder().given_name("L").family_name("L").build())
        .send()
        .await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.as_service_error().is_some_and(CreateUserError::is_conflict_exception)),
        "{again:?}"
    );

    let mut missed = 0;
    let mut listed_without = 0;
    for _ in 0..20 {
        match found(&bench, "lena.lag").await {
            Some(found) => assert_eq!(found, id),
            None => missed += 1,
        }
        if !listed(&bench, &id).await {
            listed_without += 1;
        }
    }
    assert!(missed > 0, "some look-ups answer from before the write");
    assert!(listed_without > 0, "some listings answer from before the write");

    // Lag off: every look-up sees the store as it is.
    bench
        .admin
        .set_faults(&FaultConfig::default())
        .await
        .expect("faults are cleared");
    assert_eq!(found(&bench, "lena.lag").await, Some(id));
}

#[tokio::test]
async fn a_new_fault_configuration_with_the_same_lag_keeps_what_was_not_yet_visible() {
    let bench = Bench::start().await;
    let lagged = FaultConfig {
        seed: 5,
        lag_ms: HOUR_MS,
        ..FaultConfig::default()
    };
    bench.admin.set_faults(&lagged).await.expect("faults are set");
    let id = bench.user("lars.later").await;
    // Setting the same window again (a scenario's next event) must not publish it.
    bench.admin.set_faults(&lagged).await.expect("faults are set");
    let mut missed = 0;
    for _ in 0..20 {
        if !listed(&bench, &id).await {
            missed += 1;
        }
    }
    assert!(missed > 0, "the write is still behind the lag");
}
