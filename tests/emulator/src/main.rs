//! `identitystore-emulator`: serve a local AWS Identity Store until stopped.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use turnstile_emulator::{DEFAULT_STORE_ID, Emulator, FaultConfig, FaultSpec, Options, ThrottleShape};

/// A local AWS Identity Store (AWS JSON 1.1) with seeded fault injection.
///
/// The fault flags set the default for every operation; `--operation-faults` takes a
/// JSON object of per-operation entries that replace it (same field names as the
/// admin API's `PUT /_admin/faults`).
// Independent switches, one per undocumented or optional behaviour.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "EMULATOR_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// The identity store id to serve.
    #[arg(long, env = "EMULATOR_IDENTITY_STORE_ID", default_value = DEFAULT_STORE_ID)]
    identity_store_id: String,
    /// Seed for resource ids and fault draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// JSON snapshot: loaded at start if present, rewritten after every change.
    #[arg(long, env = "EMULATOR_STATE_FILE")]
    state_file: Option<PathBuf>,
    /// Per-API token-bucket rate limit in requests per second (AWS: 20). Off by default.
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Token-bucket size (default: one second's worth).
    #[arg(long)]
    burst: Option<f64>,
    /// RetryAfterSeconds on rate-limit throttles.
    #[arg(long)]
    rate_limit_retry_after: Option<i32>,
    /// Probability of a ThrottlingException per request.
    #[arg(long, default_value_t = 0.0)]
    throttle_probability: f64,
    /// RetryAfterSeconds on those throttles.
    #[arg(long)]
    throttle_retry_after: Option<i32>,
    /// Probability of an InternalServerException (HTTP 500) per request.
    #[arg(long, default_value_t = 0.0)]
    error_probability: f64,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Probability of a CONCURRENT_MODIFICATION conflict per write.
    #[arg(long, default_value_t = 0.0)]
    conflict_probability: f64,
    /// How throttles look: `detailed` (RequestId, RetryAfterSeconds when set) or
    /// `captured` (exactly as the service was seen to throttle: "Rate exceeded" and
    /// nothing more).
    #[arg(long, value_enum, default_value_t = ThrottleShape::Detailed)]
    throttle_shape: ThrottleShape,
    /// Let users share email addresses (IAM Identity Center requires them unique).
    #[arg(long)]
    allow_duplicate_emails: bool,
    /// Compare UserName and group DisplayName without regard to case.
    #[arg(long)]
    case_insensitive_names: bool,
    /// Let UpdateUser set `userStatus` (the model has no writable UserStatus).
    #[arg(long)]
    user_status_updatable: bool,
    /// New resource ids are bare UUIDs (a store migrated from the legacy SSO store).
    #[arg(long)]
    plain_uuid_ids: bool,
    /// Deleting a user, group or membership that does not exist succeeds.
    #[arg(long)]
    idempotent_deletes: bool,
    /// Replication lag in milliseconds: each look-up and listing sees the store as it
    /// was up to this long ago (seeded by --seed). Off by default.
    #[arg(long, default_value_t = 0)]
    lag_ms: u64,
    /// Per-operation fault entries as JSON, e.g. '{"CreateUser":{"throttle_next":2}}'.
    #[arg(long, value_parser = parse_operations)]
    operation_faults: Option<std::collections::BTreeMap<String, FaultSpec>>,
}

fn parse_operations(raw: &str) -> Result<std::collections::BTreeMap<String, FaultSpec>, String> {
    serde_json::from_str(raw).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let faults = FaultConfig {
        seed: args.seed,
        default: FaultSpec {
            rate_limit: args.rate_limit,
            burst: args.burst,
            rate_limit_retry_after: args.rate_limit_retry_after,
            throttle_probability: args.throttle_probability,
            throttle_retry_after: args.throttle_retry_after,
            error_probability: args.error_probability,
            latency_ms: args.latency_ms,
            conflict_probability: args.conflict_probability,
            throttle_shape: args.throttle_shape,
            ..FaultSpec::default()
        },
        operations: args.operation_faults.unwrap_or_default(),
        lag_ms: args.lag_ms,
    };
    let emulator = Emulator::start(Options {
        bind: args.listen,
        identity_store_id: args.identity_store_id,
        seed: args.seed,
        faults,
        state_file: args.state_file,
        unique_emails: !args.allow_duplicate_emails,
        case_insensitive_names: args.case_insensitive_names,
        user_status_updatable: args.user_status_updatable,
        plain_uuid_ids: args.plain_uuid_ids,
        idempotent_deletes: args.idempotent_deletes,
    })
    .await
    .inspect_err(|error| tracing::error!(%error, "identity store emulator not started"))?;
    // Scripts wait for this line and read the address from it.
    tracing::info!(endpoint = %emulator.endpoint(), "identity store emulator listening");
    shutdown_signal().await;
    emulator.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
