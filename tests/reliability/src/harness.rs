//! The in-process emulator and in-process invocations of the three handlers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;
use serde_json::value::RawValue;
pub use turnstile::Function;
use turnstile::{Config, Service};
use turnstile_emulator::admin::Admin;
use turnstile_emulator::{Counters, Emulator, FaultConfig, Options};

use crate::logs;
use crate::snapshot::Snapshot;

/// An invocation's budget when a test is not about deadlines (Lambda's timeouts for
/// these functions are 120 s and 900 s).
pub const BUDGET: Duration = Duration::from_secs(60);

/// Re-invocations allowed per event before a test fails: far above what the faults
/// the suite injects can cause (Lambda's own async retries stop at 2, Step Functions'
/// at the state machine's `MaxAttempts`).
pub const MAX_INVOCATIONS: u32 = 60;

/// The domain configuration for emulator tests: the mock helpers' defaults (no client
/// pacing, default deadline margin of 1 s) with a backoff of 5 to 50 ms, so faults do
/// not make tests slow.
pub fn test_config() -> Config {
    let mut config = turnstile::testing::config();
    config.retry.base_delay = Duration::from_millis(5);
    config.retry.max_delay = Duration::from_millis(50);
    config
}

/// An emulator started in-process on a free loopback port, with its admin client.
#[derive(Debug)]
pub struct Emu {
    pub emulator: Emulator,
    pub admin: Admin,
}

impl Emu {
    pub async fn start(seed: u64) -> Self {
        logs::install();
        let emulator = Emulator::start(Options {
            seed,
            ..Options::default()
        })
        .await
        .expect("the emulator starts");
        let admin = Admin::new(emulator.addr);
        Self { emulator, admin }
    }

    pub fn endpoint(&self) -> String {
        self.emulator.endpoint()
    }

    /// The real SDK client against this emulator, built as the README says.
    pub async fn client(&self) -> aws_sdk_identitystore::Client {
        turnstile::testing::local_client(&self.endpoint(), None).await
    }

    /// A service (one execution environment) with [`test_config`].
    pub async fn service(&self) -> Service {
        self.service_with(|_| {}).await
    }

    /// A service with an adjusted [`test_config`].
    pub async fn service_with(&self, adjust: impl FnOnce(&mut Config)) -> Service {
        let mut config = test_config();
        adjust(&mut config);
        Service::new(self.client().await, config)
    }

    pub async fn set_faults(&self, config: &FaultConfig) {
        self.admin.set_faults(config).await.expect("faults are set");
    }

    pub async fn clear_faults(&self) {
        self.set_faults(&FaultConfig::default()).await;
    }

    pub async fn counters(&self) -> Counters {
        self.admin.counters().await.expect("counters are readable")
    }

    /// Successful writes so far.
    pub async fn writes(&self) -> u64 {
        self.counters().await.writes()
    }

    pub async fn snapshot(&self) -> Snapshot {
        self.admin.snapshot().await.expect("state is readable")
    }
}

/// A result as the caller sees it: the result object, or Lambda's error object.
pub type Outcome = Result<Value, Diagnostic>;

static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Invocations made through [`invoke`] in this test binary.
pub fn invocations() -> u64 {
    INVOCATIONS.load(Ordering::Relaxed)
}

/// Calls the function's `handle` in-process with a Lambda context whose deadline is
/// `budget` from now, and returns what Lambda would hand the caller.
///
/// As lambda_runtime 1.5 does for a failed invocation, the error is logged at ERROR
/// with its `Debug` form (`CatchPanicService` logs `error!("{error:?}")`), so the log
/// scan sees that line too; the `errorMessage` is scanned for personal data.
pub async fn invoke(service: &Service, function: Function, payload: Value, budget: Duration) -> Outcome {
    let raw = RawValue::from_string(payload.to_string()).expect("a Value is valid JSON");
    invoke_raw(service, function, raw, budget).await
}

/// What the functions' runtime loop hands the handler from a Lambda payload: the body
/// as one raw JSON value (read without a nesting limit). `Err` for a body that is not
/// exactly one JSON value, which the loop answers with `InvalidEvent` before the handler
/// runs (`runtime::undecodable_payloads_are_invalid_events_and_the_runtime_keeps_serving`
/// runs the real loop).
pub fn runtime_payload(body: &[u8]) -> Result<Box<RawValue>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let raw = <Box<RawValue> as serde::Deserialize>::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(raw)
}

/// [`invoke`] with the payload as the runtime hands it over.
pub async fn invoke_raw(service: &Service, function: Function, payload: Box<RawValue>, budget: Duration) -> Outcome {
    logs::install();
    INVOCATIONS.fetch_add(1, Ordering::Relaxed);
    let event = LambdaEvent::new(payload, turnstile::testing::context(budget));
    let result = Box::pin(turnstile::handle_function(function, service, event)).await;
    result.map_err(|error| {
        tracing::error!("{error:?}");
        let diagnostic = Diagnostic::from(error);
        logs::scan("errorMessage", &diagnostic.error_message);
        diagnostic
    })
}

/// Whether the contract tells the caller to retry.
pub fn is_retryable(outcome: &Outcome) -> bool {
    matches!(outcome, Err(d) if matches!(d.error_type.as_str(), "Throttled" | "ConcurrentModification" | "ServiceUnavailable"))
}

/// `ok` or the errorType.
pub fn kind(outcome: &Outcome) -> String {
    match outcome {
        Ok(_) => "ok".to_owned(),
        Err(d) => d.error_type.clone(),
    }
}

/// The final outcome of an event and how many invocations it took.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub outcome: Outcome,
    pub invocations: u32,
}

/// Delivers an event the way EventBridge or a Step Functions `Retry` does: invoked
/// again for as long as it fails with a retryable error. Panics after
/// [`MAX_INVOCATIONS`].
pub async fn deliver(service: &Service, function: Function, payload: &Value) -> Delivery {
    // A queue or a workflow re-delivers seconds later, never at once: under replication
    // lag, at least the lag later.
    redeliver(service, function, payload, || {
        Duration::from_millis(crate::sizing::lag_ms())
    })
    .await
}

/// [`deliver`], for invocations that run side by side: retries back off (10 ms doubling
/// up to 640 ms, as queues redeliver later and later) with a random part drawn by
/// `rng`, so that two events that keep turning each other away (one holding what the
/// other reads) do not retry in step.
pub async fn deliver_beside_others(
    service: &Service,
    function: Function,
    payload: &Value,
    rng: fastrand::Rng,
) -> Delivery {
    let state = std::cell::RefCell::new((rng, 10_u64));
    redeliver(service, function, payload, || {
        let (rng, step) = &mut *state.borrow_mut();
        let pause = *step / 2 + rng.u64(0..=*step);
        *step = (*step * 2).min(640);
        Duration::from_millis(crate::sizing::lag_ms() + pause)
    })
    .await
}

async fn redeliver(service: &Service, function: Function, payload: &Value, pause: impl Fn() -> Duration) -> Delivery {
    let mut invocations = 0;
    loop {
        invocations += 1;
        let outcome = invoke(service, function, payload.clone(), BUDGET).await;
        if !is_retryable(&outcome) {
            return Delivery { outcome, invocations };
        }
        assert!(
            invocations < MAX_INVOCATIONS,
            "{} still fails with a retryable error after {invocations} invocations: {outcome:?}",
            function.name()
        );
        tokio::time::sleep(pause()).await;
    }
}
