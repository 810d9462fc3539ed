//! The retry policy every Identity Store call goes through.
//!
//! It lives here, as a wrapper around each call, rather than inside the SDK:
//! - the SDK's modelled-retry classifier drops `RetryAfterSeconds`, and its standard
//!   strategy draws from a process-wide token bucket that a long throttled run drains;
//! - only the handler knows the invocation deadline, and the wait must stop before it;
//! - CONCURRENT_MODIFICATION is a `reason` on ConflictException, which the SDK treats
//!   as final.
//!
//! The SDK client is therefore built with retries disabled (see [`crate::sdk_client`]),
//! so every attempt is visible here and counted once.

use std::future::Future;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::fault::Fault;

/// When the current invocation must have returned, less a safety margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: for tools and tests that are not bound by a Lambda timeout.
    pub const fn unbounded() -> Self {
        Self(None)
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Some(Instant::now() + budget))
    }

    /// The Lambda invocation's deadline (wall clock) less `margin`, on the monotonic
    /// clock so that waits are measured against it exactly.
    pub fn from_wall_clock(deadline: SystemTime, margin: Duration) -> Self {
        let left = deadline.duration_since(SystemTime::now()).unwrap_or_default();
        Self(Some(Instant::now() + left.saturating_sub(margin)))
    }

    /// From the `Lambda-Runtime-Deadline-Ms` value, less `margin`.
    ///
    /// Lambda sends the deadline as Unix time in milliseconds. Some local runtime
    /// emulators (cargo-lambda 1.9's `watch` among them) send the function timeout
    /// instead: a value that cannot be a wall-clock time of this century is read as
    /// that budget from now, so local runs keep a deadline instead of having none left.
    pub fn from_lambda_deadline_ms(deadline_ms: u64, margin: Duration) -> Self {
        // 2001-09-09 in Unix milliseconds: anything smaller is a duration.
        const EARLIEST_WALL_CLOCK_MS: u64 = 1_000_000_000_000;
        if deadline_ms < EARLIEST_WALL_CLOCK_MS {
            return Self::after(Duration::from_millis(deadline_ms).saturating_sub(margin));
        }
        Self::from_wall_clock(SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms), margin)
    }

    /// Time left, or `None` when unbounded.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether waiting `wait` from now still ends before the deadline.
    pub fn allows_wait(&self, wait: Duration) -> bool {
        self.0.is_none_or(|at| Instant::now() + wait < at)
    }
}

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

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::Deadline;

    #[tokio::test(start_paused = true)]
    async fn an_epoch_deadline_leaves_the_time_until_it_less_the_margin() {
        let in_ten_seconds = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(10);
        let deadline = Deadline::from_lambda_deadline_ms(
            u64::try_from(in_ten_seconds.as_millis()).unwrap(),
            Duration::from_secs(1),
        );
        let left = deadline.remaining().unwrap();
        assert!(
            left <= Duration::from_secs(9) && left > Duration::from_millis(8900),
            "{left:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_sent_instead_of_a_deadline_is_read_as_a_budget() {
        let deadline = Deadline::from_lambda_deadline_ms(600_000, Duration::from_secs(1));
        assert_eq!(deadline.remaining(), Some(Duration::from_secs(599)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_passed_leaves_nothing() {
        let deadline = Deadline::from_lambda_deadline_ms(1_700_000_000_000, Duration::from_secs(1));
        assert_eq!(deadline.remaining(), Some(Duration::ZERO));
    }
}
