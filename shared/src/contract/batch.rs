//! The contract's third event form: an SQS batch (`Records`), each record's body one
//! request in either of the other forms, answered with the records that failed.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::redact::redact;
use crate::Error;

/// What a function answers: one request's result, or for an SQS batch the records that
/// failed, so that only those are delivered again.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Answer<R> {
    One(R),
    Batch(SqsBatchResponse),
}

/// One SQS record: the id Lambda's event source mapping knows it by, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) message_id: String,
    pub(crate) body: String,
}

/// The records of `event` when it is an SQS batch; `None` for the other two forms.
///
/// A payload with a top-level `Records` member (and no EventBridge envelope) is a batch.
/// A batch that cannot be answered record by record (a record without a `messageId`
/// or a `body`, or one from another event source) is `InvalidEvent` as a whole, before
/// any record is applied.
pub(crate) fn records(event: &Value) -> Result<Option<Vec<Record>>, Error> {
    let Value::Object(map) = event else { return Ok(None) };
    if !map.contains_key("Records") || (map.contains_key("detail-type") && map.contains_key("detail")) {
        return Ok(None);
    }
    // Read from the borrowed value: a batch of rosters is large, and a copy buys nothing.
    let batch = SqsEvent::deserialize(event)
        .map_err(|err| Error::InvalidEvent(format!("malformed SQS batch: {}", redact(&err.to_string()))))?;
    batch
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let problem = |what: &str| Error::InvalidEvent(format!("Records[{index}]: {what}"));
            if let Some(source) = record.event_source.as_deref().filter(|s| *s != "aws:sqs") {
                return Err(problem(&format!(
                    "eventSource is {source:?}, not \"aws:sqs\": only SQS batches are read"
                )));
            }
            let message_id = record
                .message_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| problem("messageId is missing: the record could not be reported as failed"))?;
            let body = record.body.ok_or_else(|| problem("body is missing"))?;
            Ok(Record { message_id, body })
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// A record's body as one request: exactly one JSON value, in form 1 or 2.
pub(crate) fn body(record: &Record) -> Result<Value, Error> {
    let value: Value = serde_json::from_str(&record.body).map_err(|err| {
        Error::InvalidEvent(format!(
            "the record's body is not one JSON value: {}",
            redact(&err.to_string())
        ))
    })?;
    if value.get("Records").is_some() && value.get("detail").is_none() {
        return Err(Error::InvalidEvent(
            "the record's body is another batch; it must be one request (an EventBridge event or its detail)".into(),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Record, body, records};
    use crate::ErrorType;

    #[test]
    fn the_other_two_forms_are_not_batches() {
        assert_eq!(records(&json!({"userName": "a"})).unwrap(), None);
        let envelope = json!({"detail-type": "Employee Hired", "detail": {"Records": []}, "Records": []});
        assert_eq!(records(&envelope).unwrap(), None);
    }

    #[test]
    fn a_batch_gives_each_record_its_message_id_and_body() {
        let batch = json!({"Records": [
            {"messageId": "m-1", "body": "{}", "eventSource": "aws:sqs"},
            {"messageId": "m-2", "body": "x"},
        ]});
        assert_eq!(
            records(&batch).unwrap().unwrap(),
            vec![
                Record {
                    message_id: "m-1".into(),
                    body: "{}".into()
                },
                Record {
                    message_id: "m-2".into(),
                    body: "x".into()
                },
            ]
        );
    }

    #[test]
    fn a_batch_that_cannot_be_answered_record_by_record_is_refused_whole() {
        for (batch, expected) in [
            (json!({"Records": {}}), "malformed SQS batch"),
            (json!({"Records": [{"body": "{}"}]}), "Records[0]: messageId is missing"),
            (
                json!({"Records": [{"messageId": "m", "body": "{}"}, {"messageId": "n"}]}),
                "Records[1]: body is missing",
            ),
            (
                json!({"Records": [{"messageId": "m", "body": "{}", "eventSource": "aws:sns"}]}),
                "not \"aws:sqs\"",
            ),
        ] {
            let error = records(&batch).unwrap_err();
            assert_eq!(error.kind(), ErrorType::InvalidEvent);
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn a_body_must_be_one_json_request_and_not_another_batch() {
        let record = |body: &str| Record {
            message_id: "m".into(),
            body: body.into(),
        };
        assert_eq!(body(&record(r#"{"userName": "a"}"#)).unwrap(), json!({"userName": "a"}));
        for bad in [r#"{"userName": "a"} trailing"#, "", r#"{"Records": []}"#] {
            assert_eq!(body(&record(bad)).unwrap_err().kind(), ErrorType::InvalidEvent, "{bad}");
        }
    }
}
