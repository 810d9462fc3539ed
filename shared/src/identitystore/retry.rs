//! The retry policy every Identity Store call goes through.
//!
//! It lives here, as a wrapper around each call, rather than inside the SDK:
//! - the SDK's modelled-retry classifier drops `RetryAfterSeconds`, and its standard
//!   strategy draws from a process-wide token bucket that a long throttled run drains;
//! - only the handler knows the invocation deadline, and the wait must stop before it;
//! - CONCURRENT_MODIFICATION is a `reason` on ConflictException, which the SDK treats
//!   as final.
//!
//! The SDK client is therefore built with retries disabled (see [`super::client`]),
//! so every attempt is visible here and counted once.

use std::future::Future;
use std::time::Duration;

use super::fault::Fault;
use crate::Deadline;
use crate::cloudwatch::Metric;

/// Bounded attempts with the service's hint or full-jitter exponential backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per call, the first included (env `MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Upper bound of the first backoff window.
    pub base_delay: Duration,
    /// Upper bound of any backoff window.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `failed + 1`, after `failed` failed attempts.
    fn delay(&self, failed: u32, fault: &Fault) -> Duration {
        if let Some(hint) = fault.retry_after() {
            // The hint is a floor; a little jitter keeps concurrent invocations that got
            // the same hint from all coming back in the same millisecond.
            return hint + jitter(self.base_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(failed.saturating_sub(1)).unwrap_or(u32::MAX));
        jitter(exp.min(self.max_delay))
    }

    /// Decides what follows the `failed`-th failed attempt: the wait before the next
    /// one, or the final error when the fault is not transient, the attempts are used up,
    /// or the wait would cross `deadline`.
    pub fn next_wait(
        &self,
        operation: &'static str,
        failed: u32,
        fault: Fault,
        deadline: Deadline,
    ) -> Result<Duration, Exhausted> {
        if !fault.is_transient() {
            return Err(Exhausted {
                fault,
                attempts: failed,
                why: GaveUp::Final,
            });
        }
        if failed >= self.max_attempts {
            return Err(Exhausted {
                fault,
                attempts: failed,
                why: GaveUp::Attempts,
            });
        }
        let wait = self.delay(failed, &fault);
        if !deadline.allows_wait(wait) {
            return Err(Exhausted {
                fault,
                attempts: failed,
                why: GaveUp::Deadline(wait),
            });
        }
        tracing::warn!(
            operation,
            attempt = failed,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            hinted = fault.retry_after().is_some(),
            "transient Identity Store failure; retrying"
        );
        Metric::Retries.count();
        Ok(wait)
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts, or the
    /// next wait would cross `deadline`. Each attempt is itself bounded by the deadline,
    /// so a hung connection cannot outlive the invocation.
    ///
    /// The final error is the last attempt's [`Fault`] together with the number of
    /// attempts made, for the message.
    pub async fn run<T, F, Fut>(
        &self,
        operation: &'static str,
        deadline: Deadline,
        mut attempt: F,
    ) -> Result<T, Exhausted>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Fault>>,
    {
        let mut failed = 0;
        loop {
            let outcome = match deadline.remaining() {
                None => attempt().await,
                Some(left) if left.is_zero() => Err(Fault::Transport {
                    message: "no time left for the call".into(),
                }),
                Some(left) => tokio::time::timeout(left, attempt()).await.unwrap_or_else(|_| {
                    Err(Fault::Transport {
                        message: "the call ran into the deadline".into(),
                    })
                }),
            };
            let fault = match outcome {
                Ok(value) => return Ok(value),
                Err(fault) => fault,
            };
            failed += 1;
            let wait = self.next_wait(operation, failed, fault, deadline)?;
            tokio::time::sleep(wait).await;
        }
    }
}

fn jitter(upper: Duration) -> Duration {
    let upper = u64::try_from(upper.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(fastrand::u64(0..=upper))
}

/// Why the retry loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// The fault is not transient.
    Final,
    /// `MAX_ATTEMPTS` reached.
    Attempts,
    /// The next wait would have crossed the deadline.
    Deadline(Duration),
}

/// A call that failed after the policy was done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    pub fault: Fault,
    pub attempts: u32,
    pub why: GaveUp,
}

impl Exhausted {
    /// The contract error, with the retry history in the message.
    pub fn into_error(self, operation: &'static str) -> crate::Error {
        let suffix = match self.why {
            GaveUp::Final => String::new(),
            GaveUp::Attempts => format!(" (gave up after {} attempts)", self.attempts),
            GaveUp::Deadline(wait) => format!(
                " (after {} attempt(s); the next wait of {} ms would pass the invocation deadline)",
                self.attempts,
                wait.as_millis()
            ),
        };
        let mut error = self.fault.into_error(operation);
        match &mut error {
            crate::Error::Throttled { detail, .. }
            | crate::Error::ServiceUnavailable { detail, .. }
            | crate::Error::ConcurrentModification { detail, .. } => detail.push_str(&suffix),
            _ => {}
        }
        error
    }
}
