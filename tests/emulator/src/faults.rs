//! Failure on demand: per-operation rate limits, throttling, server errors, latency
//! and CONCURRENT_MODIFICATION conflicts, drawn from a seeded generator so that a run
//! can be repeated.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// How the emulator's throttles (rate-limit and injected ones) look on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleShape {
    /// `Message`, `RequestId` (member and `x-amzn-RequestId` header), and
    /// `RetryAfterSeconds` with a `Retry-After` header when a retry-after is set.
    #[default]
    Detailed,
    /// Exactly as captured from the service: HTTP 400, `ThrottlingException`,
    /// `Message` "Rate exceeded" and nothing more: no `RetryAfterSeconds` (whatever the
    /// retry-after settings say), no `RequestId` member or header, no `Retry-After`.
    Captured,
}

impl ThrottleShape {
    fn throttle(self, retry_after: Option<i32>) -> ApiError {
        match self {
            Self::Detailed => ApiError::throttling(retry_after),
            Self::Captured => ApiError::captured_throttling(),
        }
    }
}

/// What one operation (or the default) suffers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Token-bucket rate limit in requests per second (AWS documents 20 per API per
    /// identity store); `None` is unlimited.
    pub rate_limit: Option<f64>,
    /// Bucket size; defaults to one second's worth of `rate_limit`.
    pub burst: Option<f64>,
    /// `RetryAfterSeconds` on a rate-limit throttle; `None` sends none.
    pub rate_limit_retry_after: Option<i32>,
    /// Chance of a ThrottlingException per request.
    pub throttle_probability: f64,
    /// `RetryAfterSeconds` on those throttles; `None` sends none.
    pub throttle_retry_after: Option<i32>,
    /// Chance of an InternalServerException (HTTP 500) per request.
    pub error_probability: f64,
    /// `RetryAfterSeconds` on those errors; `None` sends none.
    pub error_retry_after: Option<i32>,
    /// Added latency per request, in milliseconds.
    pub latency_ms: u64,
    /// Chance of a CONCURRENT_MODIFICATION conflict per write request.
    pub conflict_probability: f64,
    /// Throttle exactly the next N requests (a burst), then count down.
    pub throttle_next: u32,
    /// Fail exactly the next N requests with InternalServerException.
    pub error_next: u32,
    /// Conflict exactly the next N write requests with CONCURRENT_MODIFICATION.
    pub conflict_next: u32,
    /// How the throttles above look: `"detailed"` (the default) or `"captured"`.
    pub throttle_shape: ThrottleShape,
}

/// The whole fault configuration: a default and per-operation replacements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the generator behind every probability.
    pub seed: u64,
    /// Applies to every operation without its own entry.
    pub default: FaultSpec,
    /// Per-operation entries replace the default for that operation.
    pub operations: BTreeMap<String, FaultSpec>,
    /// Replication lag in milliseconds: each look-up or listing sees the store as it
    /// was up to this long ago, the delay drawn per request (see `replica.rs`); 0 is off.
    pub lag_ms: u64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The running fault injector.
#[derive(Debug)]
pub struct Faults {
    config: FaultConfig,
    rng: fastrand::Rng,
    buckets: BTreeMap<String, Bucket>,
}

/// What to do with one request.
#[derive(Debug, Default)]
pub struct Decision {
    pub delay: Duration,
    pub error: Option<ApiError>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = fastrand::Rng::with_seed(config.seed);
        Self {
            config,
            rng,
            buckets: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Replaces the configuration and reseeds the generator.
    pub fn set(&mut self, config: FaultConfig) {
        *self = Self::new(config);
    }

    /// The replication lag's window.
    pub fn lag_window(&self) -> Duration {
        Duration::from_millis(self.config.lag_ms)
    }

    /// How far behind the store one look-up or listing is (zero when lag is off).
    pub fn lag(&mut self) -> Duration {
        match self.config.lag_ms {
            0 => Duration::ZERO,
            window => Duration::from_millis(self.rng.u64(0..=window)),
        }
    }

    /// Decides the fate of one request to `operation`.
    pub fn decide(&mut self, operation: &str, is_write: bool) -> Decision {
        let spec = match self.config.operations.get_mut(operation) {
            Some(spec) => spec,
            None => &mut self.config.default,
        };
        let mut decision = Decision {
            delay: Duration::from_millis(spec.latency_ms),
            error: None,
        };

        if let Some(rate) = spec.rate_limit.filter(|r| *r > 0.0) {
            let burst = spec.burst.unwrap_or(rate).max(1.0);
            let now = Instant::now();
            let bucket = self
                .buckets
                .entry(operation.to_owned())
                .or_insert(Bucket { tokens: burst, at: now });
            bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(burst);
            bucket.at = now;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
            } else {
                decision.error = Some(spec.throttle_shape.throttle(spec.rate_limit_retry_after));
                return decision;
            }
        }
        if spec.throttle_next > 0 {
            spec.throttle_next -= 1;
            decision.error = Some(spec.throttle_shape.throttle(spec.throttle_retry_after));
        } else if spec.error_next > 0 {
            spec.error_next -= 1;
            decision.error = Some(ApiError::internal(spec.error_retry_after));
        } else if is_write && spec.conflict_next > 0 {
            spec.conflict_next -= 1;
            decision.error = Some(ApiError::concurrent_modification());
        } else if spec.throttle_probability > 0.0 && self.rng.f64() < spec.throttle_probability {
            decision.error = Some(spec.throttle_shape.throttle(spec.throttle_retry_after));
        } else if spec.error_probability > 0.0 && self.rng.f64() < spec.error_probability {
            decision.error = Some(ApiError::internal(spec.error_retry_after));
        } else if is_write && spec.conflict_probability > 0.0 && self.rng.f64() < spec.conflict_probability {
            decision.error = Some(ApiError::concurrent_modification());
        }
        decision
    }
}
