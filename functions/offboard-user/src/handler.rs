use lambda_runtime::LambdaEvent;
use serde_json::Value;
use turnstile::{Error, OffboardRequest, OffboardResult, Service};

/// Decodes either event form, then runs the job within the invocation's deadline.
pub async fn handle(service: &Service, event: LambdaEvent<Value>) -> Result<OffboardResult, Error> {
    let deadline = service.deadline(&event.context);
    let request: OffboardRequest = turnstile::decode(event.payload)?;
    // Boxed: the job's future is deep, and the runtime nests it further.
    Box::pin(service.offboard(deadline, request)).await
}
