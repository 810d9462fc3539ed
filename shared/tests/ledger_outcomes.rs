//! The ledger's answers that a local DynamoDB cannot be steered into through the
//! service: a late event's claim lapsing under its duplicate check, a person's head
//! that turns an event away while another event holds it, and a finish that meets
//! another transaction. The real SDK clients, with the services' answers from
//! aws-smithy-mocks; a call no rule answers fails the request.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, TransactionCanceledException};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use aws_smithy_mocks::{Rule, mock};
use serde_json::{Value, json};
use turnstile::testing::out;
use turnstile::{Error, Onboard, Service, testing};

/// Newer than any event below.
const NEWER: &str = "09999999999999999999#e-newer#1";

fn service(ledger: &[&Rule]) -> Service {
    testing::service(&[]).with_ledger(testing::ledger_client(ledger), "turnstile-ledger")
}

/// An onboarding without groups, so the ordinary claim is the first ledger call.
fn joiner() -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": "Employee Hired", "source": "hr.test",
        "account": "111122223333", "time": "2026-11-01T09:00:00Z", "region": "eu-west-1",
        "resources": [],
        "detail": { "user": {
            "userName": "dana.diaz", "displayName": "Dana Diaz",
            "name": { "givenName": "Dana", "familyName": "Diaz" },
            "emails": [{ "value": "dana.diaz@example.com", "primary": true }]
        } }
    })
}

async fn onboard(service: &Service) -> Result<Value, Error> {
    turnstile::handle::<Onboard>(service, testing::event(joiner()))
        .await
        .map(|r| serde_json::to_value(r).unwrap())
}

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A person's head whose newest finished event is newer than the joiner, with `more`.
fn head(more: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    [("pk", text("user#x")), ("sk", text("head")), ("order", text(NEWER))]
        .into_iter()
        .chain(more.iter().cloned())
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The claim succeeds, returning a head whose newest event is newer: a late event.
fn claimed_late() -> Rule {
    mock!(Client::update_item).then_output(|| {
        UpdateItemOutput::builder()
            .set_attributes(Some(head(&[("pending", text("mine"))])))
            .build()
    })
}

/// The claim is refused, and DynamoDB returns `held`, the head as it is.
fn refused_with(held: HashMap<String, AttributeValue>) -> Rule {
    mock!(Client::update_item).then_error(move || {
        UpdateItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder()
                .set_item(Some(held.clone()))
                .build(),
        )
    })
}

fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
    let reasons = codes
        .iter()
        .map(|code| CancellationReason::builder().code(*code).build());
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(reasons.collect()))
            .build(),
    )
}

#[tokio::test]
async fn a_late_event_recorded_while_its_claim_lapsed_is_duplicate_with_nothing_to_give_back() {
    let claim = claimed_late();
    // The record's check passed; the release's condition (the claim is still this
    // event's) failed.
    let check = mock!(Client::transact_write_items).then_error(|| cancelled(&["None", "ConditionalCheckFailed"]));
    let answer = onboard(&service(&[&claim, &check])).await.unwrap();
    assert_eq!(answer["status"], "duplicate", "{answer}");
    assert_eq!((claim.num_calls(), check.num_calls()), (1, 1), "no release after it");
}

#[tokio::test]
async fn a_late_event_whose_claim_lapsed_before_its_duplicate_check_is_retried() {
    let claim = claimed_late();
    // Not recorded, and the claim is no longer this event's: another event may hold the
    // person, so nothing may be applied.
    let check = mock!(Client::transact_write_items)
        .then_error(|| cancelled(&["ConditionalCheckFailed", "ConditionalCheckFailed"]));
    let answer = onboard(&service(&[&claim, &check])).await;
    assert!(
        matches!(answer, Err(Error::ConcurrentModification { .. })),
        "{answer:?}"
    );
    assert_eq!((claim.num_calls(), check.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_late_event_whose_duplicate_check_meets_another_transaction_gives_its_claim_back() {
    let claim = claimed_late();
    // Another transaction touched the head: the claim is still this event's, and the
    // person's other events must not wait for it to expire.
    let check = mock!(Client::transact_write_items).then_error(|| cancelled(&["None", "TransactionConflict"]));
    let answer = onboard(&service(&[&claim, &check])).await;
    assert!(
        matches!(answer, Err(Error::ConcurrentModification { .. })),
        "{answer:?}"
    );
    assert_eq!(
        (claim.num_calls(), check.num_calls()),
        (2, 1),
        "the claim, then its release (an UpdateItem)"
    );
}

#[tokio::test]
async fn an_event_after_a_newer_delete_is_stale_even_while_another_event_holds_the_person() {
    let deleted = AttributeValue::M(HashMap::from([
        ("o".to_owned(), text(NEWER)),
        ("v".to_owned(), AttributeValue::Bool(false)),
    ]));
    let held = head(&[
        ("exists", deleted),
        ("pending", text("09999999999999999999#e-other#1")),
        ("leaseUntil", AttributeValue::N(i64::MAX.to_string())),
    ]);
    let claim = refused_with(held);
    let record = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let answer = onboard(&service(&[&claim, &record])).await.unwrap();
    // The delete decided the person is gone, whatever the event in flight decides.
    assert_eq!(answer["status"], "stale", "{answer}");
    assert_eq!((claim.num_calls(), record.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_person_held_by_another_event_with_nothing_newer_decided_is_concurrent_modification() {
    let held = head(&[
        ("pending", text("09999999999999999999#e-other#1")),
        ("leaseUntil", AttributeValue::N(i64::MAX.to_string())),
    ]);
    let claim = refused_with(held);
    let record = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    let answer = onboard(&service(&[&claim, &record])).await;
    assert!(
        matches!(answer, Err(Error::ConcurrentModification { .. })),
        "{answer:?}"
    );
    assert_eq!(
        (claim.num_calls(), record.num_calls()),
        (1, 0),
        "no read: the head says why"
    );
}

/// A service whose Identity Store creates a joiner listing Platform and adds it
/// (membership `m-1`), answers `take_back` to a DeleteGroupMembership, and whose ledger
/// answers with `ledger`.
fn hiring_into_platform(take_back: &Rule, ledger: &[&Rule]) -> Service {
    use aws_sdk_identitystore::Client;
    let create = mock!(Client::create_user).then_output(|| out::created_user("u-dana"));
    let group = mock!(Client::get_group_id).then_output(|| out::group_id("g-platform"));
    let add = mock!(Client::create_group_membership).then_output(|| out::created_membership("m-1"));
    testing::service(&[&create, &group, &add, take_back])
        .with_ledger(testing::ledger_client(ledger), "turnstile-ledger")
}

async fn onboard_into_platform(service: &Service) -> Result<Value, Error> {
    let mut event = joiner();
    event["detail"]["groups"] = json!(["Platform"]);
    turnstile::handle::<Onboard>(service, testing::event(event))
        .await
        .map(|r| serde_json::to_value(r).unwrap())
}

#[tokio::test]
async fn a_finish_that_meets_another_transaction_on_a_groups_head_is_sent_again() {
    // The checked claim, then the finish: another onboarding's check of the same group
    // at that moment cancels it once.
    let ledger = mock!(Client::transact_write_items)
        .sequence()
        .output(|| TransactWriteItemsOutput::builder().build())
        .error(|| cancelled(&["None", "None", "TransactionConflict"]))
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let take_back = mock!(aws_sdk_identitystore::Client::delete_group_membership).then_output(out::deleted_membership);
    let service = hiring_into_platform(&take_back, &[&ledger]);

    let answer = onboard_into_platform(&service).await.unwrap();

    assert_eq!(answer["groups"]["added"], json!(["Platform"]), "{answer}");
    assert_eq!((ledger.num_calls(), take_back.num_calls()), (3, 0));
}

#[tokio::test]
async fn a_finish_that_finds_a_roster_decided_the_group_meanwhile_takes_the_membership_back_and_is_retried() {
    let ledger = mock!(Client::transact_write_items)
        .sequence()
        .output(|| TransactWriteItemsOutput::builder().build())
        .error(|| cancelled(&["None", "None", "ConditionalCheckFailed"]))
        .build();
    let release = mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let take_back = mock!(aws_sdk_identitystore::Client::delete_group_membership)
        .match_requests(|r| r.membership_id() == Some("m-1"))
        .then_output(out::deleted_membership);
    let service = hiring_into_platform(&take_back, &[&ledger, &release]);

    let answer = onboard_into_platform(&service).await;

    assert!(
        matches!(answer, Err(Error::ConcurrentModification { .. })),
        "{answer:?}"
    );
    assert_eq!(
        (ledger.num_calls(), take_back.num_calls(), release.num_calls()),
        (2, 1, 1),
        "the finish is not sent again; the claim goes back"
    );
}
