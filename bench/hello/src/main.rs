//! The smallest useful Lambda function in Rust: the `cargo lambda new` template's
//! shape (default tracing subscriber, the runtime loop, a handler that echoes its
//! event). The benchmark builds it with the functions' release profile and compares
//! their init time and binary size with it.

use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
