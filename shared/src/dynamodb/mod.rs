//! The DynamoDB adapter: the only module that names `aws_sdk_dynamodb`. It holds the
//! event ledger's table (`LEDGER_TABLE`) and speaks its item layout (docs/contract.md,
//! "The ledger's items"); `jobs/ledger.rs` decides what to read and write.
//!
//! Every item has the table's string keys `pk` (the subject: `user#<hash>`,
//! `group#<hash>`) and `sk`: `head` for the subject's newest claimed event, and
//! `event#<function>#<step>#<event id>` for each applied event (the audit trail).
//!
//! The client keeps the SDK's standard retries (throttling and 5xx, three attempts):
//! ledger calls are few per invocation and must not compete with the Identity Store's
//! own retry budget. What outlives them is `ServiceUnavailable`.

use std::collections::HashMap;
use std::fmt::Write as _;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use sha2::{Digest as _, Sha256};

use crate::Error;

/// The SDK client the adapter wraps, under the name the composition root uses.
pub(crate) use aws_sdk_dynamodb::Client as DynamoDbClient;

/// Builds the DynamoDB client from the same SDK configuration as the Identity Store's
/// (region, credentials, HTTPS client, `AWS_ENDPOINT_URL_DYNAMODB`).
pub(crate) fn client(shared: &aws_config::SdkConfig) -> Client {
    Client::new(shared)
}

/// A subject's head item, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Head {
    /// The newest claimed event's order key (see `jobs/ledger.rs`); for a group, the
    /// newest finished roster event's.
    pub(crate) order: Option<String>,
    /// The order key of a claimed event that has not finished.
    pub(crate) pending: Option<String>,
    /// The claim in force and until when (Unix milliseconds).
    pub(crate) lease_until_ms: Option<i64>,
    /// What the newest finished event left the subject as (`active`, `revoked`,
    /// `deleted`; users only).
    pub(crate) state: Option<String>,
    /// Users: the order key of the newest onboard-user whose attributes were applied.
    pub(crate) attrs: Option<String>,
    /// Users: the newest decision on whether the user exists (onboard-user: yes, a
    /// delete: no), as (order key, exists).
    pub(crate) exists: Option<(String, bool)>,
    /// Users: the newest decision on the leavers mark (a revoke: on, onboard-user: off).
    pub(crate) mark: Option<(String, bool)>,
    /// Users: the order key of the newest finished leave (revoke or delete).
    pub(crate) left: Option<String>,
    /// Users: group id → the order key of the newest onboard-user, since the person's
    /// last leave, that listed the group.
    pub(crate) joins: HashMap<String, String>,
    /// Users: roster decisions about the person taken while no user had the userName
    /// (a roster delivered before the hire), for the hire to apply.
    pub(crate) deferred: Vec<Deferred>,
    /// Users: `(group id, order key)` of memberships a leave (revoke or delete) took, for
    /// the re-hire to restore those that a roster event newer than the leave decided
    /// (`r_<group id>`).
    pub(crate) restore: Vec<(String, String)>,
    /// Users: how many roster decisions were ever deferred onto the head
    /// (`deferrals`, counted by [`LedgerTable::defer`]).
    pub(crate) deferrals: i64,
    /// Groups: the order key of the newest finished `replace`.
    pub(crate) replaced: Option<String>,
    /// Groups: member key → (order key, member or not) of the newest roster decision
    /// about that member that is not older than `replaced`.
    pub(crate) members: HashMap<String, (String, bool)>,
    /// Which of the subject's events may have a record: see [`Head::may_have_recorded`].
    pub(crate) seen: Option<Seen>,
}

/// A filter of the records a subject's events wrote since it began (`seen`, a number
/// set of bit positions, each finish adding its record's), and `seenAfter`, an order
/// key no older than any event that finished before it began. It answers "not
/// recorded" with certainty and "maybe" otherwise, so it only ever saves a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    after: String,
    positions: std::collections::HashSet<u16>,
}

/// The filter's size in bits and positions per record: about 2 per cent false "maybe"
/// answers after 500 records (a group's years of rosters), under 0.1 per cent up to 200
/// (a person's); a full set is about 12 KB.
const SEEN_BITS: u16 = 4096;
const SEEN_POSITIONS: usize = 4;

/// The filter positions of the record `sort_key`, each once.
fn seen_positions(sort_key: &str) -> Vec<u16> {
    let hash = Sha256::digest(sort_key.as_bytes());
    let mut positions: Vec<u16> = hash
        .chunks_exact(2)
        .take(SEEN_POSITIONS)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]) % SEEN_BITS)
        .collect();
    positions.sort_unstable();
    positions.dedup();
    positions
}

impl Head {
    /// Whether the record `sort_key` of the event `order` may exist. False only when the
    /// filter began before any event that finished without it could have (the event is
    /// newer than `seenAfter`) and lacks one of the record's positions: every finish
    /// since adds its record's positions in the transaction that writes the record. A
    /// head without the filter (written before it existed) answers "maybe".
    pub(crate) fn may_have_recorded(&self, sort_key: &str, order: &str) -> bool {
        self.seen.as_ref().is_none_or(|seen| {
            order <= seen.after.as_str()
                || seen_positions(sort_key)
                    .iter()
                    .all(|position| seen.positions.contains(position))
        })
    }
}

/// A roster decision about a person no user had yet, kept on the person's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deferred {
    /// The head attribute that holds it (`d_<group key>`).
    pub(crate) attribute: String,
    /// The group's ledger subject.
    pub(crate) group: String,
    pub(crate) group_id: String,
    pub(crate) order: String,
    pub(crate) member: bool,
}

/// What finishing an event changes on its subject's head, besides ending the claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HeadChange {
    /// The `seenAfter` the record filter begins with, if the head has none yet: an
    /// order key no older than any event that finished before (see [`Seen`]).
    pub(crate) seen_after: String,
    pub(crate) set: Vec<(String, Field)>,
    /// `(map attribute, key, value)`: one entry of a map that the head already holds.
    pub(crate) set_in: Vec<(String, String, Field)>,
    pub(crate) remove: Vec<String>,
}

/// One applied event, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) sort_key: String,
    pub(crate) fields: Vec<(&'static str, Field)>,
}

/// A recorded value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Text(String),
    Number(i64),
    Bool(bool),
    List(Vec<String>),
    Map(Vec<(String, Field)>),
}

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This event holds the subject now; the head as the claim left it.
    Claimed(Head),
    /// The head refused the claim; the head as it is.
    Refused(Head),
}

/// How many times a finish is sent again after a transaction conflict.
const FINISH_CONFLICT_RETRIES: u32 = 3;

/// What a finish did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The claim ended and the event is recorded.
    Done,
    /// Nothing was written: the groups of these checks (indices) got a roster decision
    /// about the person, or a roster holding them, while the event was applied.
    Contested(Vec<usize>),
}

/// The outcome of [`LedgerTable::claim_checked`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Checked {
    /// This event holds the person now, and every fact it touches is older than it.
    Claimed,
    /// Nothing written; the person's head when its own condition failed.
    Unchecked(Option<Box<Head>>),
    /// Nothing written: the audit trail already holds the event (a redelivery).
    Recorded,
}

/// What, besides another event's claim and a redelivery of the newest event, makes
/// the head refuse a claim. Each is a fact that only newer events decide, so a refusal
/// stays right however the head changes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refuse<'a> {
    /// A roster event: the group's newest `replace` is not older (it decided every
    /// member), unless this event holds the claim.
    Replaced,
    /// onboard-user (`groups`: it lists any): a newer delete; or a newer onboarding's
    /// attributes and a newer leave (which took every group); or, listing none, a newer
    /// onboarding's attributes with no leave and no roster decision ever kept on the head.
    Onboarding { groups: bool },
    /// offboard-user's revoke or delete (`sibling`: the same leaver event's other step):
    /// a newer delete; for a revoke a newer leave; and after a newer onboard-user, this
    /// leaver event's own leave.
    Leave { revoke: bool, sibling: &'a str },
}

impl Refuse<'_> {
    /// The condition on the head that admits the claim (the refusal's negation), with
    /// the names and values it uses (DynamoDB rejects unused ones). A missing attribute
    /// is tested explicitly: DynamoDB and moto compare it differently.
    fn condition(self) -> Condition {
        const DELETED: &str = "(attribute_exists(#exists) AND #exists.#v = :no AND #exists.#o > :order)";
        const LEFT: &str = "(attribute_exists(#left) AND #left > :order)";
        const ATTRS: &str = "attribute_exists(attrs) AND attrs > :order";
        let decided = vec![("#exists", "exists"), ("#v", "v"), ("#o", "o"), ("#left", "left")];
        let no = vec![(":no", AttributeValue::Bool(false))];
        match self {
            Self::Replaced => (
                "(attribute_not_exists(replaced) OR replaced < :order OR pending = :order)".to_owned(),
                Vec::new(),
                Vec::new(),
            ),
            Self::Onboarding { groups: true } => (format!("NOT ({DELETED} OR ({ATTRS} AND {LEFT}))"), decided, no),
            Self::Onboarding { groups: false } => (
                format!(
                    "NOT ({DELETED} OR ({ATTRS} AND ({LEFT} \
                     OR (attribute_not_exists(#left) AND attribute_not_exists(#deferrals)))))"
                ),
                [decided, vec![("#deferrals", DEFERRALS)]].concat(),
                no,
            ),
            Self::Leave { revoke, sibling } => {
                let own = "attribute_exists(#left) AND #left IN (:order, :sibling)";
                let values = [no, vec![(":sibling", s(sibling))]].concat();
                if revoke {
                    (
                        format!(
                            "NOT ({DELETED} OR {LEFT} OR (attribute_exists(#order) AND #order > :order AND {own}))"
                        ),
                        decided,
                        values,
                    )
                } else {
                    (
                        format!(
                            "NOT ({DELETED} OR (attribute_exists(#exists) AND #exists.#v = :yes \
                             AND #exists.#o > :order AND {own}))"
                        ),
                        decided,
                        [values, vec![(":yes", AttributeValue::Bool(true))]].concat(),
                    )
                }
            }
        }
    }
}

/// A condition expression, with the attribute names and values it uses.
type Condition = (
    String,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, AttributeValue)>,
);

/// The ledger's table.
#[derive(Debug, Clone)]
pub(crate) struct LedgerTable {
    client: Client,
    table: String,
}

const HEAD: &str = "head";
/// A person's head: how many roster decisions were deferred onto it, ever.
const DEFERRALS: &str = "deferrals";
/// A person's head: the `deferrals` that the newest finished onboard-user had seen (so
/// every waiting decision newer than it is applied), until a leave finishes. Equal to
/// `deferrals`, it lets a newer onboarding claim without reading the head.
pub(crate) const CONSIDERED: &str = "considered";
/// When an event last claimed or finished on a head (Unix milliseconds): a roster
/// defers a decision onto a person's head only if no event of theirs began or ended
/// after the roster looked for the person (see [`LedgerTable::defer`]).
const TOUCHED: &str = "touched";
/// A head's record filter and the order key it began after ([`Seen`]).
const SEEN: &str = "seen";
const SEEN_AFTER: &str = "seenAfter";

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(subject: &str, sort_key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), s(subject)), ("sk".to_owned(), s(sort_key))])
}

fn head_of(item: Option<&HashMap<String, AttributeValue>>) -> Head {
    let Some(item) = item else {
        return Head::default();
    };
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let map = |name: &str| item.get(name).and_then(|v| v.as_m().ok());
    Head {
        order: text("order"),
        pending: text("pending"),
        lease_until_ms: item
            .get("leaseUntil")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
        state: text("state"),
        attrs: text("attrs"),
        exists: map("exists").and_then(decision),
        mark: map("mark").and_then(decision),
        left: text("left"),
        deferred: item
            .iter()
            .filter(|(name, _)| name.starts_with("d_"))
            .filter_map(|(name, v)| {
                let entry = v.as_m().ok()?;
                let text = |key: &str| entry.get(key)?.as_s().ok().cloned();
                Some(Deferred {
                    attribute: name.clone(),
                    group: text("s")?,
                    group_id: text("id")?,
                    order: text("o")?,
                    member: *entry.get("in")?.as_bool().ok()?,
                })
            })
            .collect(),
        deferrals: item
            .get(DEFERRALS)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        restore: item
            .iter()
            .filter_map(|(name, v)| Some((name.strip_prefix("r_")?.to_owned(), v.as_s().ok()?.clone())))
            .collect(),
        joins: map("joins")
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
            .collect(),
        replaced: text("replaced"),
        members: map("members")
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                let entry = v.as_m().ok()?;
                let order = entry.get("o")?.as_s().ok()?.clone();
                let member = *entry.get("in")?.as_bool().ok()?;
                Some((k.clone(), (order, member)))
            })
            .collect(),
        seen: text(SEEN_AFTER).map(|after| Seen {
            after,
            positions: item
                .get(SEEN)
                .and_then(|v| v.as_ns().ok())
                .into_iter()
                .flatten()
                .filter_map(|position| position.parse().ok())
                .collect(),
        }),
    }
}

/// `{o: order key, v: yes or no}`.
fn decision(entry: &HashMap<String, AttributeValue>) -> Option<(String, bool)> {
    Some((entry.get("o")?.as_s().ok()?.clone(), *entry.get("v")?.as_bool().ok()?))
}

fn value(field: &Field) -> AttributeValue {
    match field {
        Field::Text(text) => s(text),
        Field::Number(number) => n(*number),
        Field::Bool(flag) => AttributeValue::Bool(*flag),
        Field::List(items) => AttributeValue::L(items.iter().map(|i| s(i)).collect()),
        Field::Map(entries) => AttributeValue::M(entries.iter().map(|(k, v)| (k.clone(), value(v))).collect()),
    }
}

/// The operations' modelled "no such table" error.
trait Missing {
    fn is_missing_table(&self) -> bool;
}

macro_rules! missing {
    ($($module:ident :: $error:ident),+ $(,)?) => {$(
        impl Missing for aws_sdk_dynamodb::operation::$module::$error {
            fn is_missing_table(&self) -> bool {
                self.is_resource_not_found_exception()
            }
        }
    )+};
}

missing!(
    update_item::UpdateItemError,
    get_item::GetItemError,
    batch_get_item::BatchGetItemError,
    query::QueryError,
    transact_write_items::TransactWriteItemsError,
);

/// The contract error for a failed ledger call: a missing table is `Configuration`;
/// the SDK's own classification (`retryable_error_kind`) tells throttling and server
/// errors, which are `ServiceUnavailable`, as is anything that never reached the table.
fn fault<E>(
    operation: &'static str,
    err: &SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> Error
where
    E: Missing + ProvideErrorMetadata + aws_smithy_types::retry::ProvideErrorKind + std::error::Error + 'static,
{
    let detail = |why: &str| format!("the ledger table {why}");
    let Some(service) = err.as_service_error() else {
        return Error::ServiceUnavailable {
            operation,
            detail: detail("could not be reached"),
        };
    };
    if service.retryable_error_kind().is_some() {
        return Error::ServiceUnavailable {
            operation,
            detail: detail("is throttled or unavailable"),
        };
    }
    if service.is_missing_table() {
        return Error::Configuration(
            "LEDGER_TABLE names a table that does not exist in this account and region".into(),
        );
    }
    // DynamoDB does not model AccessDeniedException on its operations, so its code is
    // the only thing that tells it.
    let code = ProvideErrorMetadata::code(service);
    if code == Some("AccessDeniedException") {
        return Error::AccessDenied {
            operation,
            reason: "the function's role may not use the ledger table".into(),
        };
    }
    Error::ServiceUnavailable {
        operation,
        detail: detail(&format!("refused the call ({})", code.unwrap_or("unknown error"))),
    }
}

/// A request part the SDK's builder refused (a required field left out): a bug, reported
/// as the ledger failing rather than a panic in a running function.
fn unbuilt(operation: &'static str, what: &str) -> Error {
    Error::ServiceUnavailable {
        operation,
        detail: format!("{what} could not be built"),
    }
}

impl LedgerTable {
    pub(crate) fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Claims `subject` for the event `order` until `until_ms`, when no other event
    /// holds an unexpired claim (or `order` itself holds it: a retry) and `order` is not
    /// the newest finished event itself (a redelivery, answered from the head), and
    /// unless `refuse` says why the head alone turns it away (a newer replace of a group,
    /// or newer events of a person that leave this one nothing to apply). Older events
    /// are admitted otherwise, for what no newer event decided; the finish advances the
    /// head's `order`. A refusal returns the head as it is
    /// (ReturnValuesOnConditionCheckFailure), so it costs no read.
    pub(crate) async fn claim(
        &self,
        subject: &str,
        order: &str,
        now_ms: i64,
        until_ms: i64,
        refuse: Refuse<'_>,
    ) -> Result<Claim, Error> {
        crate::jobs::check_ledger(&["UpdateItem"]);
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .update_expression("SET pending = :order, leaseUntil = :until, #touched = :now")
            .expression_attribute_names("#touched", TOUCHED)
            .expression_attribute_names("#order", "order")
            .expression_attribute_values(":order", s(order))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":until", n(until_ms));
        // Only one invocation holds a claim, also of the same event: two deliveries of
        // one event side by side would otherwise both apply it, and one's taking back
        // of a contested membership could undo what the other, finishing first, found
        // in place and recorded. A failed attempt gave its claim back (`leaseUntil`
        // removed), so its retry claims at once.
        let claim = "(attribute_not_exists(leaseUntil) OR leaseUntil < :now) \
                     AND (attribute_not_exists(#order) OR #order <> :order)";
        let (admitted, names, values) = refuse.condition();
        let request = names.into_iter().fold(request, |r, (name, attribute)| {
            r.expression_attribute_names(name, attribute)
        });
        let request = values
            .into_iter()
            .fold(request, |r, (name, value)| r.expression_attribute_values(name, value))
            .condition_expression(format!("{claim} AND {admitted}"));
        match request.send().await {
            Ok(out) => Ok(Claim::Claimed(head_of(out.attributes.as_ref()))),
            // The condition can only fail on an item that exists, which comes back.
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    Ok(Claim::Refused(head_of(refused.item())))
                }
                _ => Err(fault("UpdateItem", &err)),
            },
        }
    }

    /// Claims a person's head for an onboarding at `order` that lists `groups` (their
    /// subjects, at most 98: a transaction holds 100 items), in one transaction that
    /// also checks, on each group's head, that no roster decided about `member` (its
    /// map key) at or after `order` and that no roster holds the group. The person's
    /// head must show that this event is newer than every finished one and that no
    /// deferred decision came after the newest onboarding ([`CONSIDERED`]), so the job
    /// needs neither the head nor the groups' heads: every fact is older than it.
    ///
    /// With `record` (the event's audit-trail sort key, when it has an id), the same
    /// transaction checks that the audit trail does not hold it yet, so a redelivery of
    /// any of the person's onboardings is [`Checked::Recorded`] in this one call.
    ///
    /// [`Checked::Unchecked`] when any of that does not hold (or another transaction
    /// touched the same items): nothing was written, and the caller claims the ordinary
    /// way, or answers from the person's head when its condition failed.
    #[expect(clippy::too_many_arguments, reason = "one transaction's parts, each used once")]
    pub(crate) async fn claim_checked(
        &self,
        subject: &str,
        order: &str,
        now_ms: i64,
        until_ms: i64,
        member: &str,
        groups: &[String],
        record: Option<&str>,
    ) -> Result<Checked, Error> {
        crate::jobs::check_ledger(&["ConditionCheckItem", "UpdateItem"]);
        let built = || unbuilt("TransactWriteItems", "the ledger's claim");
        // The finish then sets single entries of `joins`, which must exist by then.
        // `considered` must be present: DynamoDB compares a missing attribute as false,
        // moto as equal to another missing one.
        let head = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            // A head with no finished event has no record: its filter begins empty. One
            // with finished events but no filter (written before it existed) is left to
            // the ordinary claim, whose finish begins it after the head's `order`.
            .update_expression(
                "SET pending = :order, leaseUntil = :until, #joins = if_not_exists(#joins, :none), \
                 #considered = if_not_exists(#considered, :zero), #seenAfter = if_not_exists(#seenAfter, :low), \
                 #touched = :now",
            )
            .condition_expression(
                "(attribute_not_exists(leaseUntil) OR leaseUntil < :now) \
                 AND (attribute_not_exists(#order) OR (#order < :order AND attribute_exists(#seenAfter))) \
                 AND (attribute_not_exists(pk) \
                      OR (attribute_exists(#considered) AND #considered = #deferrals) \
                      OR (attribute_not_exists(#deferrals) AND #considered = :zero))",
            )
            .expression_attribute_names("#seenAfter", SEEN_AFTER)
            .expression_attribute_values(":low", s(""))
            .expression_attribute_names("#touched", TOUCHED)
            .expression_attribute_names("#order", "order")
            .expression_attribute_names("#joins", "joins")
            .expression_attribute_names("#considered", CONSIDERED)
            .expression_attribute_names("#deferrals", DEFERRALS)
            .expression_attribute_values(":order", s(order))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":zero", n(0))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|_| built())?;
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(head).build());
        for group in groups {
            let check = self.group_check(group, member, (order, "<"), now_ms)?;
            request = request.transact_items(TransactWriteItem::builder().condition_check(check).build());
        }
        if let Some(record) = record {
            request = request.transact_items(
                TransactWriteItem::builder()
                    .condition_check(self.record_check(subject, record, "attribute_not_exists(pk)")?)
                    .build(),
            );
        }
        let Err(err) = request.send().await else {
            return Ok(Checked::Claimed);
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
            return Err(fault("TransactWriteItems", &err));
        };
        // The model gives each item's reason as a code: a failed condition, or another
        // transaction on the same item, sends the event the ordinary way; anything else
        // (throttling, a malformed expression) is the ledger failing.
        let reasons = cancelled.cancellation_reasons();
        let other = reasons
            .iter()
            .filter_map(|reason| reason.code())
            .find(|code| !matches!(*code, "None" | "ConditionalCheckFailed" | "TransactionConflict"));
        let failed = |reason: Option<&CancellationReason>| {
            reason.and_then(CancellationReason::code) == Some("ConditionalCheckFailed")
        };
        match other {
            // The record comes last: its check fails only when the event was recorded.
            None if record.is_some() && failed(reasons.last()) => Ok(Checked::Recorded),
            // The person's head comes first; its item is there when its own condition
            // failed.
            None => Ok(Checked::Unchecked(
                reasons
                    .first()
                    .filter(|reason| reason.code() == Some("ConditionalCheckFailed"))
                    .and_then(|reason| reason.item())
                    .map(|item| Box::new(head_of(Some(item)))),
            )),
            Some(code) => Err(Error::ServiceUnavailable {
                operation: "TransactWriteItems",
                detail: format!("the ledger table refused the claim ({code})"),
            }),
        }
    }

    /// A condition on a group's head, as a transaction part: no roster decided about
    /// `member` at or after (`<`), or after (`<=`), `order`, and none holds the group.
    fn group_check(
        &self,
        group: &str,
        member: &str,
        (order, older): (&str, &str),
        now_ms: i64,
    ) -> Result<ConditionCheck, Error> {
        ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(group, HEAD)))
            .condition_expression(format!(
                "(attribute_not_exists(replaced) OR replaced {older} :order) \
                 AND (attribute_not_exists(#members.#member) OR #members.#member.#o {older} :order) \
                 AND (attribute_not_exists(pending) OR attribute_not_exists(leaseUntil) OR leaseUntil < :now)"
            ))
            .expression_attribute_names("#members", "members")
            .expression_attribute_names("#member", member)
            .expression_attribute_names("#o", "o")
            .expression_attribute_values(":order", s(order))
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(|_| unbuilt("TransactWriteItems", "the ledger's check of a group"))
    }

    /// A condition on `subject`'s audit-trail item `sort_key`, as a transaction part.
    fn record_check(&self, subject: &str, sort_key: &str, condition: &str) -> Result<ConditionCheck, Error> {
        ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(subject, sort_key)))
            .condition_expression(condition)
            .build()
            .map_err(|_| unbuilt("TransactWriteItems", "the ledger's record check"))
    }

    /// For an event not newer than `subject`'s newest, under `order`'s claim: when the
    /// audit trail already holds `sort_key` (a repeat), gives the claim up in the same
    /// transaction and answers true; otherwise keeps the claim and answers false. One
    /// call where a read and a release were two, and it decides under the claim, so two
    /// deliveries of one late event cannot both apply it.
    pub(crate) async fn release_if_recorded(&self, subject: &str, order: &str, sort_key: &str) -> Result<bool, Error> {
        crate::jobs::check_ledger(&["ConditionCheckItem", "UpdateItem"]);
        let release = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .update_expression("REMOVE leaseUntil")
            .condition_expression("pending = :order")
            .expression_attribute_values(":order", s(order))
            .build()
            .map_err(|_| unbuilt("TransactWriteItems", "the ledger's release"))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(self.record_check(subject, sort_key, "attribute_exists(pk)")?)
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(release).build())
            .send()
            .await;
        let Err(err) = sent else { return Ok(true) };
        // A failure that leaves the claim this event's gives it back (best effort), or
        // the subject's other events would wait for it to expire.
        let give_back = async |error: Error| {
            if let Err(release) = self.release(subject, order).await {
                tracing::warn!(%error, %release, "the ledger claim could not be released; it expires at the deadline");
            }
            Err(error)
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
            return give_back(fault("TransactWriteItems", &err)).await;
        };
        let codes: Vec<&str> = cancelled
            .cancellation_reasons()
            .iter()
            .map(|reason| reason.code().unwrap_or("None"))
            .collect();
        match codes.as_slice() {
            // Not recorded, and the claim is still this event's: apply it.
            ["ConditionalCheckFailed", "None"] => Ok(false),
            // Recorded; the claim had already lapsed, so there is nothing to give up.
            ["None", "ConditionalCheckFailed"] => Ok(true),
            // The claim lapsed and another event may hold the subject: a retry decides
            // again.
            [_, "ConditionalCheckFailed"] => Err(Error::ConcurrentModification {
                operation: "TransactWriteItems",
                detail: "the event's claim on the ledger subject lapsed".into(),
            }),
            // Another transaction touched the same items: the claim is still this
            // event's, and a retry decides again.
            [_, "TransactionConflict"] | ["TransactionConflict", _] => {
                give_back(Error::ConcurrentModification {
                    operation: "TransactWriteItems",
                    detail: "the event's duplicate check met another transaction".into(),
                })
                .await
            }
            _ => {
                give_back(Error::ServiceUnavailable {
                    operation: "TransactWriteItems",
                    detail: format!("the ledger table refused the duplicate check ({})", codes.join(", ")),
                })
                .await
            }
        }
    }

    /// Whether the audit trail holds `sort_key` for `subject`.
    pub(crate) async fn recorded(&self, subject: &str, sort_key: &str) -> Result<bool, Error> {
        crate::jobs::check_ledger(&["GetItem"]);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, sort_key)))
            .consistent_read(true)
            .projection_expression("pk")
            .send()
            .await
            .map_err(|err| fault("GetItem", &err))?;
        Ok(out.item.is_some())
    }

    /// Ends `order`'s claim on `subject`, applies `change` to its head, and records the
    /// event in the audit trail, in one transaction: the claim must still be this
    /// event's. The claim makes this event the head's only writer, so whole maps are
    /// written back.
    ///
    /// `checks` are `(group subject, order)` of memberships of `member` the event wrote
    /// (at `now_ms`, Unix milliseconds, a claim's lease is compared):
    /// each group's head must show no roster decision about the person newer than
    /// `order` and no roster holding the group, else the transaction writes nothing and
    /// the answer names the groups that failed ([`Finish::Contested`]). Another
    /// transaction on the same items at that moment is waited out a few times.
    pub(crate) async fn finish(
        &self,
        subject: &str,
        order: &str,
        change: &HeadChange,
        record: &Record,
        (member, checks, now_ms): (&str, &[(String, String)], i64),
    ) -> Result<Finish, Error> {
        crate::jobs::check_ledger(&["PutItem", "UpdateItem"]);
        if !checks.is_empty() {
            crate::jobs::check_ledger(&["ConditionCheckItem"]);
        }
        let head = self.head_update(subject, order, change, (&record.sort_key, now_ms))?;
        let mut item = key(subject, &record.sort_key);
        item.extend(
            record
                .fields
                .iter()
                .map(|(name, field)| ((*name).to_owned(), value(field))),
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|_| unbuilt("TransactWriteItems", "the ledger's record"))?;
        let mut items = vec![
            TransactWriteItem::builder().update(head).build(),
            TransactWriteItem::builder().put(put).build(),
        ];
        for (group, decided) in checks {
            let check = self.group_check(group, member, (decided, "<="), now_ms)?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        let mut attempt = 0_u32;
        loop {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(err) = sent else { return Ok(Finish::Done) };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
                return Err(fault("TransactWriteItems", &err));
            };
            let codes: Vec<Option<&str>> = cancelled
                .cancellation_reasons()
                .iter()
                .map(CancellationReason::code)
                .collect();
            let contested: Vec<usize> = codes
                .iter()
                .skip(2)
                .enumerate()
                .filter(|(_, code)| **code == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !contested.is_empty() {
                return Ok(Finish::Contested(contested));
            }
            // Other onboardings of the same groups check their heads at the same
            // moment: a conflict, not a decision; the transaction is sent again.
            let conflict = codes.contains(&Some("TransactionConflict"));
            if conflict && attempt < FINISH_CONFLICT_RETRIES {
                attempt += 1;
                let wait = 20 * 2_u64.pow(attempt) + fastrand::u64(0..20);
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                continue;
            }
            // The claim expired and another event took the subject: this one's writes
            // may have interleaved with it, and a retry re-decides.
            return Err(if codes.first().copied().flatten() == Some("ConditionalCheckFailed") {
                Error::ConcurrentModification {
                    operation: "TransactWriteItems",
                    detail: "the event's claim on the ledger subject expired before it finished".into(),
                }
            } else {
                Error::ConcurrentModification {
                    operation: "TransactWriteItems",
                    detail: "another transaction on the event's ledger items kept conflicting; retry later".into(),
                }
            });
        }
    }

    /// The finish's update of the head: the claim ends (it must still be `order`'s),
    /// `change` applies, and the record filter takes `record`'s positions (a set's ADD
    /// is a union on the server, so a finish that read no head keeps every other's).
    fn head_update(
        &self,
        subject: &str,
        order: &str,
        change: &HeadChange,
        (record, now_ms): (&str, i64),
    ) -> Result<Update, Error> {
        let positions = seen_positions(record).iter().map(u16::to_string).collect();
        let mut head = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .condition_expression("pending = :order")
            .expression_attribute_values(":order", s(order))
            .expression_attribute_names("#seen", SEEN)
            .expression_attribute_names("#seenAfter", SEEN_AFTER)
            .expression_attribute_values(":seen", AttributeValue::Ns(positions))
            .expression_attribute_values(":seenAfter", s(&change.seen_after))
            .expression_attribute_names("#touched", TOUCHED)
            .expression_attribute_values(":now", n(now_ms));
        let mut removed = vec!["pending".to_owned(), "leaseUntil".to_owned()];
        for (i, name) in change.remove.iter().enumerate() {
            removed.push(format!("#r{i}"));
            head = head.expression_attribute_names(format!("#r{i}"), name);
        }
        let mut expression = format!(
            "REMOVE {} ADD #seen :seen SET #seenAfter = if_not_exists(#seenAfter, :seenAfter), #touched = :now",
            removed.join(", ")
        );
        for (i, (name, field)) in change.set.iter().enumerate() {
            expression.push_str(", ");
            let _infallible = write!(expression, "#s{i} = :s{i}");
            head = head
                .expression_attribute_names(format!("#s{i}"), name)
                .expression_attribute_values(format!(":s{i}"), value(field));
        }
        let mut maps: Vec<&str> = change.set_in.iter().map(|(map, _, _)| map.as_str()).collect();
        maps.sort_unstable();
        maps.dedup();
        for (i, map) in maps.iter().enumerate() {
            head = head.expression_attribute_names(format!("#m{i}"), *map);
        }
        for (i, (map, entry, field)) in change.set_in.iter().enumerate() {
            expression.push_str(", ");
            let m = maps.binary_search(&map.as_str()).unwrap_or_default();
            let _infallible = write!(expression, "#m{m}.#k{i} = :k{i}");
            head = head
                .expression_attribute_names(format!("#k{i}"), entry)
                .expression_attribute_values(format!(":k{i}"), value(field));
        }
        head.update_expression(expression)
            .build()
            .map_err(|_| unbuilt("TransactWriteItems", "the ledger's head update"))
    }

    /// Writes roster decisions about people no user had yet (or marked leavers) onto
    /// their heads, up to 100 per transaction. A person's decisions about one group come
    /// from that group's rosters, which the group's claim orders, and only the newest
    /// writes. No event of the person may have claimed or finished on the head after
    /// `since_ms`, the roster's claim, which came before it looked the person up: a
    /// hire that created the user, or a re-hire that unmarked them, after the roster
    /// looked may have read the head before this decision was on it, so the roster
    /// fails with `ConcurrentModification` and its retry finds the person. (Two hosts'
    /// clocks must agree to within the time from the claim to the look-up, at least two
    /// round trips; Lambda's hosts keep them synchronised far closer.) Nor may an event
    /// of the person hold the head (`now_ms`): a claim's `touched` is the time before
    /// its request was sent, so one that landed after the roster read the head may
    /// still show an earlier time, and its job read the head without this decision.
    pub(crate) async fn defer(
        &self,
        entries: &[(String, String, Field)],
        (since_ms, now_ms): (i64, i64),
    ) -> Result<(), Error> {
        crate::jobs::check_ledger(&["UpdateItem"]);
        for chunk in entries.chunks(100) {
            let mut request = self.client.transact_write_items();
            for (subject, attribute, field) in chunk {
                // Counted, so that an onboarding that has not seen it reads the head.
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(subject, HEAD)))
                    .update_expression("SET #d = :d ADD #deferrals :one")
                    .condition_expression(
                        "(attribute_not_exists(#touched) OR #touched <= :since) \
                         AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
                    )
                    .expression_attribute_names("#d", attribute)
                    .expression_attribute_names("#deferrals", DEFERRALS)
                    .expression_attribute_names("#touched", TOUCHED)
                    .expression_attribute_values(":d", value(field))
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":since", n(since_ms))
                    .expression_attribute_values(":now", n(now_ms))
                    .build()
                    .map_err(|_| unbuilt("TransactWriteItems", "the ledger's deferred decision"))?;
                request = request.transact_items(TransactWriteItem::builder().update(update).build());
            }
            let Err(err) = request.send().await else { continue };
            let contended = matches!(
                err.as_service_error(),
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled.cancellation_reasons().iter().all(|reason| {
                        matches!(reason.code(), Some("None" | "ConditionalCheckFailed" | "TransactionConflict"))
                    })
            );
            return Err(if contended {
                Error::ConcurrentModification {
                    operation: "TransactWriteItems",
                    detail: "an event of a person the roster defers a decision onto ran meanwhile; retry later".into(),
                }
            } else {
                fault("TransactWriteItems", &err)
            });
        }
        Ok(())
    }

    /// Gives up `order`'s claim on `subject` after a failure, keeping it pending, so
    /// that other events need not wait for the claim to expire and a retry of this one
    /// resumes.
    pub(crate) async fn release(&self, subject: &str, order: &str) -> Result<(), Error> {
        crate::jobs::check_ledger(&["UpdateItem"]);
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .update_expression("REMOVE leaseUntil")
            .condition_expression("pending = :order")
            .expression_attribute_values(":order", s(order))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(())
            }
            Err(err) => Err(fault("UpdateItem", &err)),
        }
    }

    /// The heads of `subjects`, up to 100 per call (BatchGetItem's limit), read
    /// consistently; keys DynamoDB leaves unprocessed are asked again.
    pub(crate) async fn heads(&self, subjects: &[String]) -> Result<HashMap<String, Head>, Error> {
        crate::jobs::check_ledger(&["BatchGetItem"]);
        let mut heads = HashMap::new();
        for chunk in subjects.chunks(100) {
            let mut keys: Vec<_> = chunk.iter().map(|subject| key(subject, HEAD)).collect();
            for _ in 0..10 {
                if keys.is_empty() {
                    break;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(|_| unbuilt("BatchGetItem", "the ledger read"))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|err| fault("BatchGetItem", &err))?;
                for item in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(subject) = item.get("pk").and_then(|v| v.as_s().ok()).cloned() {
                        heads.insert(subject, head_of(Some(&item)));
                    }
                }
                keys = out
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(Error::ServiceUnavailable {
                    operation: "BatchGetItem",
                    detail: "the ledger table left keys unprocessed".into(),
                });
            }
        }
        Ok(heads)
    }
}

#[cfg(test)]
mod tests {
    use super::{Head, SEEN_BITS, SEEN_POSITIONS, Seen, seen_positions};

    const RECORD: &str = "event#onboard-user#onboard#e-1";

    fn head(after: &str, positions: impl IntoIterator<Item = u16>) -> Head {
        Head {
            seen: Some(Seen {
                after: after.to_owned(),
                positions: positions.into_iter().collect(),
            }),
            ..Head::default()
        }
    }

    #[test]
    fn a_records_positions_are_a_few_fixed_bits_of_the_filter() {
        let positions = seen_positions(RECORD);
        assert_eq!(positions, seen_positions(RECORD));
        assert!((1..=SEEN_POSITIONS).contains(&positions.len()));
        assert!(positions.iter().all(|p| *p < SEEN_BITS));
        assert_ne!(positions, seen_positions("event#onboard-user#onboard#e-2"));
    }

    #[test]
    fn the_filter_says_not_recorded_only_for_an_event_newer_than_its_start_missing_a_position() {
        let order = "00000000001000000000#e-1#1";
        assert!(!head("", []).may_have_recorded(RECORD, order));
        assert!(head("", seen_positions(RECORD)).may_have_recorded(RECORD, order));
        // Every bit set (a filter full of other records): always "maybe".
        assert!(head("", 0..SEEN_BITS).may_have_recorded(RECORD, order));
        // The event may have finished before the filter began.
        assert!(head(order, []).may_have_recorded(RECORD, order));
        assert!(head("00000000002000000000#e-9#1", []).may_have_recorded(RECORD, order));
        // No filter (a head written before it existed): anything may be recorded.
        assert!(Head::default().may_have_recorded(RECORD, order));
    }
}
