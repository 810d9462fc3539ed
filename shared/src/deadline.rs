//! The invocation's deadline, which every wait and every call must respect.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

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
