//! A function's whole `main`: tracing, configuration and clients once per cold start,
//! then the Lambda runtime loop, each event decoded and handed to the job.

use std::future::Future;
use std::task::{Context, Poll};

use lambda_runtime::layers::TracingLayer;
use lambda_runtime::tower::{Layer, Service as TowerService};
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, service_fn};
use serde::Deserialize;
use serde_json::value::RawValue;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::cloudwatch::{Metric, Metrics};
use crate::contract::batch::{self, Answer, Record};
use crate::contract::redact::redact;
use crate::contract::request::parse_json;
use crate::jobs::{Function, Job, Offboard, Onboard, SyncGroup, running};
use crate::{Deadline, Error, ErrorType, Service, decode_event};

/// `lambda_runtime::run(handler)`, with the payload checked before the runtime decodes
/// it (a macro, so that the runtime's many type parameters stay inferred).
///
/// The runtime reads the first JSON value of the body and ignores what follows, and a
/// body that is not JSON at all fails inside it with its own error object, whose
/// `errorType` is a Rust type name. [`OneJsonValue`] holds every body to the contract:
/// exactly one JSON value, or `InvalidEvent`.
macro_rules! serve {
    ($handler:expr) => {
        // Layers run in the reverse order of adding: the tracing span, then the check.
        Runtime::new($handler)
            .layer(OneJsonValue)
            .layer(TracingLayer::new())
            .run()
            .await
    };
}

/// Runs `J`'s function under the Lambda runtime until the runtime stops it.
///
/// A bad configuration does not stop the process: every invocation returns it as
/// `Configuration`, which is what an operator sees in the error and the alarms.
pub async fn run<J: Job>() -> Result<(), lambda_runtime::Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT (JSON under Lambda).
    lambda_runtime::tracing::init_default_subscriber();
    let metrics = Metrics::install(function_name(J::FUNCTION));
    let service = Service::from_env().await;
    serve!(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let request_id = event.context.request_id.clone();
        metered(metrics, request_id, async {
            handle::<J>(service.as_ref().map_err(Clone::clone)?, event).await
        })
    }))
}

/// [`run`] for a function chosen at run time, for a tool that hosts every function in
/// one binary (the reliability suite's runtime probe). The deployed binaries use [`run`].
pub async fn run_function(function: Function) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let metrics = Metrics::install(function_name(function));
    let service = Service::from_env().await;
    serve!(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let request_id = event.context.request_id.clone();
        metered(metrics, request_id, async {
            Box::pin(handle_function(
                function,
                service.as_ref().map_err(Clone::clone)?,
                event,
            ))
            .await
        })
    }))
}

/// The Lambda function's name (the metrics' dimension), or the binary's outside Lambda.
fn function_name(function: Function) -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| function.name().to_owned())
}

/// Runs one invocation's `answer`, then writes what it counted, failed or not.
async fn metered<T>(metrics: Metrics, request_id: String, answer: impl Future<Output = T>) -> T {
    let answer = answer.await;
    metrics.flush(&request_id);
    answer
}

/// [`handle`] for a function chosen at run time, with its result as JSON.
pub async fn handle_function(
    function: Function,
    service: &Service,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<Value, Error> {
    fn json<T: serde::Serialize>(result: T) -> Value {
        serde_json::to_value(result).expect("the contract's results serialize")
    }
    Ok(match function {
        Function::OnboardUser => json(Box::pin(handle::<Onboard>(service, event)).await?),
        Function::OffboardUser => json(Box::pin(handle::<Offboard>(service, event)).await?),
        Function::SyncGroup => json(Box::pin(handle::<SyncGroup>(service, event)).await?),
    })
}

tokio::task_local! {
    /// Why the current invocation's body is not one JSON value (set by [`OneJsonValue`]).
    static PAYLOAD_PROBLEM: String;
}

/// A layer that refuses, as `InvalidEvent`, a body that is not exactly one JSON value:
/// it hands the runtime `null` instead, for it to decode, and tells [`handle`] why.
#[derive(Debug, Clone, Copy)]
struct OneJsonValue;

impl<S> Layer<S> for OneJsonValue {
    type Service = OneJsonValueService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OneJsonValueService(inner)
    }
}

#[derive(Debug, Clone)]
struct OneJsonValueService<S>(S);

impl<S> TowerService<LambdaInvocation> for OneJsonValueService<S>
where
    S: TowerService<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tokio::task::futures::TaskLocalFuture<String, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let problem = one_json_value(&invocation.body).err().unwrap_or_default();
        if !problem.is_empty() {
            invocation.body = "null".into();
        }
        PAYLOAD_PROBLEM.scope(problem, self.0.call(invocation))
    }
}

/// Whether `body` is exactly one JSON value, read as the runtime reads it (raw, so
/// without a nesting limit) and then to its end.
fn one_json_value(body: &[u8]) -> Result<(), String> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    <&RawValue>::deserialize(&mut reader)
        .and_then(|_| reader.end())
        .map_err(|err| format!("the event is not one JSON value: {}", redact(&err.to_string())))
}

/// Records of one SQS batch applied at once. A batch is at most what the event source
/// mapping's `BatchSize` says (10 in the template); the bound keeps a larger one from
/// starting every job at the same moment, and pacing spaces their calls either way.
const RECORDS_IN_FLIGHT: usize = 10;

/// One invocation: decodes any of the contract's three event forms from the raw payload
/// (taken raw so that any payload's failure is the contract's `InvalidEvent`), then runs
/// the job within the invocation's deadline, once, or once per record of an SQS batch.
pub async fn handle<J: Job>(service: &Service, event: LambdaEvent<Box<RawValue>>) -> Result<Answer<J::Result>, Error> {
    if let Ok(problem) = PAYLOAD_PROBLEM.try_with(Clone::clone) {
        if !problem.is_empty() {
            return Err(Error::InvalidEvent(problem));
        }
    }
    let deadline = service.deadline(&event.context);
    let payload = parse_json(event.payload.get())?;
    match batch::records(&payload)? {
        None => apply::<J>(service, deadline, payload).await.map(Answer::One),
        Some(records) => Ok(Answer::Batch(each_record::<J>(service, deadline, records).await)),
    }
}

/// One request (form 1 or 2), decoded and applied.
async fn apply<J: Job>(service: &Service, deadline: Deadline, payload: Value) -> Result<J::Result, Error> {
    let (request, meta): (J::Request, _) = decode_event(payload)?;
    // Boxed: the job's future is deep, and the runtime nests it further.
    let result = running(J::FUNCTION, Box::pin(J::apply(service, deadline, &meta, request))).await?;
    Metric::count_status(J::status(&result));
    Ok(result)
}

/// One record: its body decoded and applied.
async fn attempt<J: Job>(service: &Service, deadline: Deadline, record: &Record) -> Result<J::Result, Error> {
    apply::<J>(service, deadline, batch::body(record)?).await
}

/// Applies every record of a batch on its own and names the ones that failed.
///
/// Records run side by side; two records about the same person or group then meet in
/// the ledger, where one holds the subject and the other gets `ConcurrentModification`.
/// That one is tried once more after the rest have finished, so that it is not sent back
/// to wait out the queue's visibility timeout for a conflict within its own batch.
async fn each_record<J: Job>(service: &Service, deadline: Deadline, records: Vec<Record>) -> SqsBatchResponse {
    let first: Vec<_> = stream::iter(records.iter().map(|record| attempt::<J>(service, deadline, record)))
        .buffered(RECORDS_IN_FLIGHT)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in records.iter().zip(first) {
        let outcome = match outcome {
            Err(error) if error.kind() == ErrorType::ConcurrentModification => {
                attempt::<J>(service, deadline, record).await
            }
            outcome => outcome,
        };
        let message_id = record.message_id.as_str();
        match outcome {
            Ok(result) => tracing::info!(message_id, status = J::status(&result), "record applied"),
            Err(error) => {
                tracing::warn!(message_id, error_type = error.error_type(), %error, "record failed");
                Metric::FailedRecords.count();
                response.add_failure(message_id);
            }
        }
    }
    response
}
