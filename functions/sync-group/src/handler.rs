use lambda_runtime::LambdaEvent;
use serde_json::Value;
use turnstile::{Error, Service, SyncRequest, SyncResult};

/// Decodes either event form, then runs the job within the invocation's deadline.
pub async fn handle(service: &Service, event: LambdaEvent<Value>) -> Result<SyncResult, Error> {
    let deadline = service.deadline(&event.context);
    let request: SyncRequest = turnstile::decode(event.payload)?;
    // Boxed: the job's future is deep, and the runtime nests it further.
    Box::pin(service.sync_group(deadline, request)).await
}
