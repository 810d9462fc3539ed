//! The functions' `main.rs` wiring, one binary for the three, for the reliability
//! suite: `turnstile-runtime-probe onboard-user|offboard-user|sync-group`. It runs the
//! real `lambda_runtime` loop against whatever `AWS_LAMBDA_RUNTIME_API` names (the
//! suite's fake Runtime API on 127.0.0.1), so tests see what the runtime does before
//! and after the handler: payload decoding, error objects, its own log lines.

use lambda_runtime::{service_fn, tracing};
use turnstile::Service;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let function = std::env::args().nth(1).unwrap_or_default();
    let service = Service::from_env().await;
    match function.as_str() {
        "onboard-user" => {
            lambda_runtime::run(service_fn(|event| async {
                onboard_user::handle(service.as_ref().map_err(Clone::clone)?, event).await
            }))
            .await
        }
        "offboard-user" => {
            lambda_runtime::run(service_fn(|event| async {
                offboard_user::handle(service.as_ref().map_err(Clone::clone)?, event).await
            }))
            .await
        }
        "sync-group" => {
            lambda_runtime::run(service_fn(|event| async {
                sync_group::handle(service.as_ref().map_err(Clone::clone)?, event).await
            }))
            .await
        }
        other => Err(format!("unknown function {other:?}; expected onboard-user, offboard-user or sync-group").into()),
    }
}
