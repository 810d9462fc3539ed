use lambda_runtime::{service_fn, tracing};
use turnstile::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Honours AWS_LAMBDA_LOG_LEVEL and AWS_LAMBDA_LOG_FORMAT (JSON under Lambda).
    tracing::init_default_subscriber();
    // Once per cold start: configuration, SDK client, domain service. A bad
    // configuration is kept and returned by every invocation as `Configuration`.
    let service = Service::from_env().await;
    lambda_runtime::run(service_fn(|event| async {
        sync_group::handle(service.as_ref().map_err(Clone::clone)?, event).await
    }))
    .await
}
