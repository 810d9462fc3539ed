//! Client-side pacing: each Identity Store API gets its own schedule, so one
//! execution environment never sends an API more than its share of the service quota
//! (AWS documents 20 transactions per second per API per identity store).
//!
//! Calls are spaced evenly (a virtual-clock scheduler): the service's token bucket
//! never runs dry, so throttles stay rare while every API used runs at its rate, and
//! work on different APIs overlaps freely. When the service throttles anyway (its quota
//! is shared with other clients), the API's rate is halved and recovers a little with
//! each success, and a `RetryAfterSeconds` hint holds every caller of that API, not just
//! the one that was told.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Deadline;

/// Slowest a throttled API falls to, as a share of the configured rate.
const FLOOR: f64 = 0.1;
/// Share of the configured rate regained per success after a throttle.
const RECOVERY: f64 = 0.02;

#[derive(Debug)]
struct Schedule {
    /// The earliest time the next call may be sent.
    next: Instant,
    /// Current share of the configured rate, in `FLOOR..=1`.
    share: f64,
}

/// Per-API pacing for one execution environment.
#[derive(Debug)]
pub(super) struct Pacer {
    /// Calls per second per API; `None` sends as fast as the callers ask.
    rate: Option<f64>,
    schedules: Mutex<HashMap<&'static str, Schedule>>,
}

/// Pacing would hold the call past the invocation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PastDeadline(pub Duration);

impl Pacer {
    /// `calls_per_second` of 0 turns pacing off.
    pub(super) fn new(calls_per_second: u32) -> Self {
        let rate = (calls_per_second > 0).then(|| f64::from(calls_per_second));
        Self {
            rate,
            schedules: Mutex::new(HashMap::new()),
        }
    }

    fn schedules(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Schedule>> {
        self.schedules.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for `api`'s next slot, or says that the slot lies past `deadline`.
    pub(super) async fn ready(&self, api: &'static str, deadline: Deadline) -> Result<(), PastDeadline> {
        let Some(rate) = self.rate else { return Ok(()) };
        let now = Instant::now();
        let at = {
            let mut schedules = self.schedules();
            let schedule = schedules.entry(api).or_insert(Schedule { next: now, share: 1.0 });
            let at = schedule.next.max(now);
            let wait = at - now;
            if !deadline.allows_wait(wait) {
                return Err(PastDeadline(wait));
            }
            schedule.next = at + Duration::from_secs_f64(1.0 / (rate * schedule.share));
            at
        };
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    /// The service accepted a call to `api`.
    pub(super) fn succeeded(&self, api: &'static str) {
        if self.rate.is_none() {
            return;
        }
        if let Some(schedule) = self.schedules().get_mut(api) {
            schedule.share = (schedule.share + RECOVERY).min(1.0);
        }
    }

    /// The service throttled a call to `api`, with its hint if it gave one.
    pub(super) fn throttled(&self, api: &'static str, retry_after: Option<Duration>) {
        if self.rate.is_none() {
            return;
        }
        let now = Instant::now();
        let mut schedules = self.schedules();
        let schedule = schedules.entry(api).or_insert(Schedule { next: now, share: 1.0 });
        schedule.share = (schedule.share / 2.0).max(FLOOR);
        if let Some(hint) = retry_after {
            schedule.next = schedule.next.max(now + hint);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::Pacer;
    use crate::Deadline;

    #[tokio::test(start_paused = true)]
    async fn calls_to_one_api_are_spaced_at_the_rate() {
        let pacer = Pacer::new(20);
        let started = Instant::now();
        for _ in 0..21 {
            pacer.ready("ListUsers", Deadline::unbounded()).await.unwrap();
        }
        // The first goes at once, the next twenty 50 ms apart.
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn different_apis_do_not_wait_for_each_other() {
        let pacer = Pacer::new(20);
        let started = Instant::now();
        for _ in 0..10 {
            pacer
                .ready("CreateGroupMembership", Deadline::unbounded())
                .await
                .unwrap();
            pacer
                .ready("DeleteGroupMembership", Deadline::unbounded())
                .await
                .unwrap();
        }
        assert_eq!(started.elapsed(), Duration::from_millis(450));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_halves_the_rate_and_a_hint_holds_every_caller() {
        let pacer = Pacer::new(10);
        pacer.ready("GetUserId", Deadline::unbounded()).await.unwrap();
        pacer.throttled("GetUserId", Some(Duration::from_secs(2)));
        let started = Instant::now();
        pacer.ready("GetUserId", Deadline::unbounded()).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        pacer.ready("GetUserId", Deadline::unbounded()).await.unwrap();
        // Half of 10 per second: 200 ms apart.
        assert_eq!(started.elapsed(), Duration::from_millis(2200));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_deadline_is_refused_without_waiting() {
        let pacer = Pacer::new(1);
        pacer.ready("ListUsers", Deadline::unbounded()).await.unwrap();
        let started = Instant::now();
        let refused = pacer
            .ready("ListUsers", Deadline::after(Duration::from_millis(500)))
            .await;
        assert!(refused.is_err());
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_turns_pacing_off() {
        let pacer = Pacer::new(0);
        let started = Instant::now();
        for _ in 0..100 {
            pacer.ready("ListUsers", Deadline::unbounded()).await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
