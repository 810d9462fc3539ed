use lambda_runtime::LambdaEvent;
use serde_json::value::RawValue;
use turnstile::{Error, Service, SyncRequest, SyncResult};

/// Decodes either event form from the raw payload, then runs the job within the invocation's deadline.
pub async fn handle(service: &Service, event: LambdaEvent<Box<RawValue>>) -> Result<SyncResult, Error> {
    let deadline = service.deadline(&event.context);
    let request: SyncRequest = turnstile::decode_json(event.payload.get())?;
    // Boxed: the job's future is deep, and the runtime nests it further.
    Box::pin(service.sync_group(deadline, request)).await
}
