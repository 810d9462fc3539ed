//! The emulator's quota and latency for one run, and the time scaling of the long runs.

use std::time::Duration;

use turnstile_emulator::{FaultConfig, FaultSpec};

/// The Identity Store quota: 20 transactions per second per API per identity store.
pub const QUOTA_TPS: f64 = 20.0;

/// How a run is paced. `speedup` 1 is the real quota. A speedup of k compresses time by
/// k: the rate (emulator limit and the functions' `CALLS_PER_SECOND`) is multiplied by k
/// and the added latency divided by k, while call counts, sizes and the bucket's size
/// in tokens stay the same, so every time measured is 1/k of the time at 20 TPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub speedup: u32,
    /// Added latency per call at the real quota, in ms.
    pub latency_ms: u64,
}

impl Pace {
    pub const fn real(latency_ms: u64) -> Self {
        Self { speedup: 1, latency_ms }
    }

    /// Calls per second per API in this run.
    pub fn rate(self) -> f64 {
        QUOTA_TPS * f64::from(self.speedup)
    }

    /// `CALLS_PER_SECOND` for the functions.
    pub fn calls_per_second(self) -> u32 {
        20 * self.speedup
    }

    /// Added latency per call in this run.
    pub fn latency(self) -> Duration {
        Duration::from_millis(self.latency_ms / u64::from(self.speedup))
    }

    /// Run time to time at the real quota.
    pub fn to_real(self, measured: Duration) -> Duration {
        measured * self.speedup
    }

    /// The emulator's faults for this run: every API rate-limited by its own token
    /// bucket of one real second's worth of tokens (20), with the added latency. At
    /// the real quota a rate-limit throttle carries `RetryAfterSeconds` = 1; in
    /// compressed runs it carries none (a whole second cannot be compressed), and the
    /// functions fall back on their backoff.
    pub fn faults(self) -> FaultConfig {
        FaultConfig {
            seed: 7,
            default: FaultSpec {
                rate_limit: Some(self.rate()),
                burst: Some(QUOTA_TPS),
                rate_limit_retry_after: (self.speedup == 1).then_some(1),
                latency_ms: self.latency_ms / u64::from(self.speedup),
                ..FaultSpec::default()
            },
            operations: std::collections::BTreeMap::new(),
            lag_ms: 0,
        }
    }

    pub fn describe(self) -> String {
        if self.speedup == 1 {
            format!("20 TPS, {} ms", self.latency_ms)
        } else {
            format!(
                "{} TPS, {} ms (time ÷{})",
                self.calls_per_second(),
                self.latency().as_millis(),
                self.speedup
            )
        }
    }
}
