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

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};

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
    /// The newest claimed event's order key (see `jobs/ledger.rs`).
    pub(crate) order: Option<String>,
    /// The order key of a claimed event that has not finished.
    pub(crate) pending: Option<String>,
    /// The claim in force and until when (Unix milliseconds).
    pub(crate) lease_until_ms: Option<i64>,
    /// What the newest finished event left the subject as (`active`, `revoked`,
    /// `deleted`; users only).
    pub(crate) state: Option<String>,
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
    List(Vec<String>),
}

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Claim {
    /// This event holds the subject now.
    Claimed,
    /// The head refused the claim; the head as it is.
    Refused(Head),
}

/// The ledger's table.
#[derive(Debug, Clone)]
pub(crate) struct LedgerTable {
    client: Client,
    table: String,
}

const HEAD: &str = "head";

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
    Head {
        order: text("order"),
        pending: text("pending"),
        lease_until_ms: item
            .get("leaseUntil")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
        state: text("state"),
    }
}

fn value(field: &Field) -> AttributeValue {
    match field {
        Field::Text(text) => s(text),
        Field::Number(number) => n(*number),
        Field::List(items) => AttributeValue::L(items.iter().map(|i| s(i)).collect()),
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

impl LedgerTable {
    pub(crate) fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Claims `subject` for the event `order` until `until_ms`, when no other event
    /// holds an unexpired claim and the head is older than `order` (or is `order`
    /// itself, claimed and unfinished: a retry).
    pub(crate) async fn claim(&self, subject: &str, order: &str, now_ms: i64, until_ms: i64) -> Result<Claim, Error> {
        crate::jobs::check_ledger(&["UpdateItem"]);
        let claimed = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .update_expression("SET #order = :order, pending = :order, leaseUntil = :until")
            .condition_expression(
                "(attribute_not_exists(leaseUntil) OR leaseUntil < :now OR pending = :order) \
                 AND (attribute_not_exists(#order) OR #order < :order OR pending = :order)",
            )
            .expression_attribute_names("#order", "order")
            .expression_attribute_values(":order", s(order))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":until", n(until_ms))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(Claim::Claimed),
            Err(err)
                if err.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::is_conditional_check_failed_exception,
                ) =>
            {
                Ok(Claim::Refused(self.head(subject).await?))
            }
            Err(err) => Err(fault("UpdateItem", &err)),
        }
    }

    /// The subject's head, read consistently.
    pub(crate) async fn head(&self, subject: &str) -> Result<Head, Error> {
        crate::jobs::check_ledger(&["GetItem"]);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| fault("GetItem", &err))?;
        Ok(head_of(out.item.as_ref()))
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

    /// Ends `order`'s claim on `subject`, sets what it left the subject as, and records
    /// it in the audit trail, in one transaction: the claim must still be this event's.
    pub(crate) async fn finish(
        &self,
        subject: &str,
        order: &str,
        state: Option<&str>,
        record: &Record,
    ) -> Result<(), Error> {
        crate::jobs::check_ledger(&["PutItem", "UpdateItem"]);
        let mut head = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(subject, HEAD)))
            .condition_expression("pending = :order")
            .expression_attribute_values(":order", s(order));
        head = match state {
            Some(state) => head
                .update_expression("REMOVE pending, leaseUntil SET #state = :state")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":state", s(state)),
            None => head.update_expression("REMOVE pending, leaseUntil"),
        };
        let mut item = key(subject, &record.sort_key);
        item.extend(
            record
                .fields
                .iter()
                .map(|(name, field)| ((*name).to_owned(), value(field))),
        );
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let built = |what: &str| Error::ServiceUnavailable {
            operation: "TransactWriteItems",
            detail: format!("the ledger's {what} could not be built"),
        };
        self.client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(head.build().map_err(|_| built("head update"))?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(put.build().map_err(|_| built("record"))?)
                    .build(),
            )
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                // The claim expired and another event took the subject: this one's writes
                // may have interleaved with it, and a retry re-decides.
                Some(e) if e.is_transaction_canceled_exception() => Error::ConcurrentModification {
                    operation: "TransactWriteItems",
                    detail: "the event's claim on the ledger subject expired before it finished".into(),
                },
                _ => fault("TransactWriteItems", &err),
            })
            .map(drop)
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
                if err.as_service_error().is_some_and(
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::is_conditional_check_failed_exception,
                ) =>
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
                    .map_err(|_| Error::ServiceUnavailable {
                        operation: "BatchGetItem",
                        detail: "the ledger read could not be built".into(),
                    })?;
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
