//! The functions' `main.rs` wiring, one binary for the three, for the reliability
//! suite: `turnstile-runtime-probe <function name>`. It runs the real `lambda_runtime`
//! loop against whatever `AWS_LAMBDA_RUNTIME_API` names (the suite's fake Runtime API
//! on 127.0.0.1), so tests see what the runtime does before and after the handler:
//! payload decoding, error objects, its own log lines.

use turnstile::Function;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(function) = Function::from_name(&name) else {
        let known: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        return Err(format!("unknown function {name:?}; expected one of {known:?}").into());
    };
    turnstile::run_function(function).await
}
