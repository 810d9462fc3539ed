//! `cargo xtask describe`: the functions and the contract as JSON, from the domain
//! crate's own tables ([`turnstile::Function`], [`turnstile::ErrorType`], the
//! environment's defaults that the template repeats), for the
//! infrastructure tests (IAM, retries, routing) and the scripts (which binaries to
//! build and run). `cargo xtask functions`: the function names, one per line.
//!
//! The tests and scripts read this instead of the Rust source, so moving code around
//! cannot break them, and adding a function to `Function` reaches all of them.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;
use turnstile::{Config, ErrorType, Function};

fn describe() -> serde_json::Value {
    let functions: Vec<_> = Function::ALL
        .iter()
        .map(|f| {
            json!({
                "name": f.name(),
                "identityStoreOperations": f.identity_store_operations(),
                "ledgerActions": f.ledger_actions(),
            })
        })
        .collect();
    let error_types: Vec<_> = ErrorType::ALL
        .iter()
        .map(|e| json!({ "name": e.name(), "retryable": e.is_retryable() }))
        .collect();
    let defaults = json!({ "LEAVERS_GROUP": Config::DEFAULT_LEAVERS_GROUP });
    json!({ "functions": functions, "errorTypes": error_types, "defaults": defaults })
}

fn main() -> ExitCode {
    let text = match std::env::args().nth(1).as_deref() {
        Some("describe") => format!("{:#}\n", describe()),
        Some("functions") => Function::ALL.map(Function::name).join("\n") + "\n",
        _ => {
            eprintln!("usage: cargo xtask describe | functions");
            return ExitCode::from(2);
        }
    };
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
