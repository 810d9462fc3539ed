//! A function's whole `main`: tracing, configuration and clients once per cold start,
//! then the Lambda runtime loop, each event decoded and handed to the job.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

use crate::jobs::{Function, Job, Offboard, Onboard, SyncGroup, running};
use crate::{Error, Service, decode_json};

/// Runs `J`'s function under the Lambda runtime until the runtime stops it.
///
/// A bad configuration does not stop the process: every invocation returns it as
/// `Configuration`, which is what an operator sees in the error and the alarms.
pub async fn run<J: Job>() -> Result<(), lambda_runtime::Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT (JSON under Lambda).
    lambda_runtime::tracing::init_default_subscriber();
    let service = Service::from_env().await;
    lambda_runtime::run(service_fn(|event| async {
        handle::<J>(service.as_ref().map_err(Clone::clone)?, event).await
    }))
    .await
}

/// [`run`] for a function chosen at run time, for a tool that hosts every function in
/// one binary (the reliability suite's runtime probe). The deployed binaries use [`run`].
pub async fn run_function(function: Function) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let service = Service::from_env().await;
    lambda_runtime::run(service_fn(|event| async {
        Box::pin(handle_function(
            function,
            service.as_ref().map_err(Clone::clone)?,
            event,
        ))
        .await
    }))
    .await
}

/// [`handle`] for a function chosen at run time, with its result as JSON.
pub async fn handle_function(
    function: Function,
    service: &Service,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<serde_json::Value, Error> {
    fn json<T: serde::Serialize>(result: T) -> serde_json::Value {
        serde_json::to_value(result).expect("the contract's results serialize")
    }
    Ok(match function {
        Function::OnboardUser => json(Box::pin(handle::<Onboard>(service, event)).await?),
        Function::OffboardUser => json(Box::pin(handle::<Offboard>(service, event)).await?),
        Function::SyncGroup => json(Box::pin(handle::<SyncGroup>(service, event)).await?),
    })
}

/// One invocation: decodes either event form from the raw payload (taken raw so that
/// any payload's failure is the contract's `InvalidEvent`), then runs the job within
/// the invocation's deadline.
pub async fn handle<J: Job>(service: &Service, event: LambdaEvent<Box<RawValue>>) -> Result<J::Result, Error> {
    let deadline = service.deadline(&event.context);
    let (request, meta): (J::Request, _) = decode_json(event.payload.get())?;
    // Boxed: the job's future is deep, and the runtime nests it further.
    running(J::FUNCTION, Box::pin(J::apply(service, deadline, &meta, request))).await
}
