//! SQS batch events as Lambda's event source mapping delivers them, built from
//! aws_lambda_events' own SQS types, and a function binary run against the emulator
//! under the fake Runtime API, for the tests that feed batches through the real binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;

use crate::Emu;
use crate::runtime_api::{FakeRuntime, Probe, Reply};

/// The queue the records claim to come from.
const QUEUE_ARN: &str = "arn:aws:sqs:eu-west-1:111122223333:turnstile-onboard-user";

/// One record with `body` as its text, as SQS hands it to Lambda.
pub fn record(message_id: &str, body: impl Into<String>) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message_id.to_owned());
    record.receipt_handle = Some(format!("receipt-{message_id}"));
    record.body = Some(body.into());
    record.event_source = Some("aws:sqs".to_owned());
    record.event_source_arn = Some(QUEUE_ARN.to_owned());
    record.aws_region = Some("eu-west-1".to_owned());
    record.attributes = BTreeMap::from([
        ("ApproximateReceiveCount", "1"),
        ("SentTimestamp", "1764579600000"),
        ("ApproximateFirstReceiveTimestamp", "1764579600010"),
    ])
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    record
}

/// A record whose body is `request` (an EventBridge event or its detail) as JSON.
pub fn request(message_id: &str, request: &Value) -> SqsMessage {
    record(message_id, request.to_string())
}

/// The batch event's payload bytes.
pub fn batch(records: Vec<SqsMessage>) -> Vec<u8> {
    let mut event = SqsEvent::default();
    event.records = records;
    serde_json::to_vec(&event).expect("an SQS event serializes")
}

/// The message ids a batch reply names as failed (the reply must be a batch response).
pub fn failures(reply: &Reply) -> BTreeSet<String> {
    assert_eq!(
        reply.kind, "response",
        "a batch is answered, not failed: {}",
        reply.body
    );
    let response: SqsBatchResponse =
        serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("not a batch response ({e}): {}", reply.body));
    response
        .batch_item_failures
        .into_iter()
        .map(|failure| failure.item_identifier)
        .collect()
}

/// The errorType each failed record was logged with, by message id (JSON log lines).
pub fn logged_failures(lines: &[String]) -> BTreeMap<String, String> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.pointer("/fields/message").and_then(Value::as_str) == Some("record failed"))
        .filter_map(|line| {
            let field = |name: &str| {
                line.pointer(&format!("/fields/{name}"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            Some((field("message_id")?, field("error_type")?))
        })
        .collect()
}

/// A function binary serving under the fake Runtime API against a fresh emulator.
#[derive(Debug)]
pub struct Served {
    pub emu: Emu,
    pub runtime: FakeRuntime,
    pub process: Probe,
}

impl Served {
    /// Starts the binary at `exe` (a function's `CARGO_BIN_EXE_…`) as `function`, with
    /// `env` added to Lambda's environment.
    pub async fn start(exe: &str, function: &str, env: &[(&str, &str)]) -> Self {
        let emu = Emu::start(7).await;
        let runtime = FakeRuntime::start().await;
        let process = Probe::spawn(Path::new(exe), function, runtime.addr, &emu.endpoint(), env);
        Self { emu, runtime, process }
    }

    /// Delivers one payload and waits for the reply.
    pub async fn invoke(&self, payload: &[u8]) -> Reply {
        self.runtime
            .invoke(payload, Duration::from_secs(60))
            .await
            .expect("the function answers every invocation")
    }
}
