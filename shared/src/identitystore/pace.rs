//! Client-side pacing: each Identity Store API gets its own schedule, so one
//! execution environment sends each API at a rate it can justify against the service
//! quota (AWS documents 20 transactions per second per API per identity store).
//!
//! Calls are spaced evenly (a virtual-clock scheduler): the service's token bucket
//! never runs dry, so throttles stay rare while every API used runs at its rate, and
//! work on different APIs overlaps freely.
//!
//! The rate lies between a guaranteed floor and a ceiling (`CALLS_PER_SECOND` and
//! `MAX_CALLS_PER_SECOND`). The template sizes the floors so that every environment of
//! every function at its floor stays within the quota; above its floor an environment
//! borrows what the others leave idle. Each API starts at the floor and gains a little
//! with every accepted call, up to the ceiling (additive increase), and a throttle takes
//! a share of the borrowed rate back (multiplicative decrease, not below the floor):
//! several busy environments converge on sharing the quota, and one busy alone climbs
//! to the whole of it. A lone throttle at the floor is a
//! borrower's overshoot (its own or a sibling's, which the borrower's own throttles
//! take back), so the floor holds; throttles at the floor in a row (no accepted call
//! between) mean the quota is taken by someone else (another client of the store): the
//! rate then keeps halving, down to a tenth of the floor, and climbs back to the floor
//! quickly. A `RetryAfterSeconds` hint holds every caller of that API, not just the one
//! that was told.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Deadline;

/// Slowest a throttled API falls to, as a share of the floor.
const LOWEST: f64 = 0.1;
/// Rate gained per accepted call above the floor, as a share of the ceiling: from a
/// floor of 3 to a ceiling of 20 in about 40 calls. The bulk benchmark (BENCHMARKS.md)
/// chose it: a quarter of it left borrowers climbing back too slowly after each throttle
/// (a load took 1.5 times its quota bound), while this one keeps throttles to a few in a
/// hundred calls.
const BORROW_STEP: f64 = 0.02;
/// What a throttle leaves of a borrowed rate (never less than the floor): gentler than
/// halving, so that two borrowers sharing an API do not leave a quarter of it idle
/// between throttles.
const BORROW_BACKOFF: f64 = 0.7;
/// Rate regained per accepted call below the floor, as a share of the floor: back in
/// about 20 calls.
const RECOVERY_STEP: f64 = 0.05;
/// Throttles in a row at the floor that take the rate below it. Borrowers overshoot the
/// quota for moments (that is how additive increase finds it), and the throttles of
/// those moments fall on every client, a floor's calls too: in the bulk benchmark a
/// leaver's environment halved its floor that way three times over and took twenty
/// seconds for one batch while the borrowers took the quota. A client that really holds
/// the quota throttles call after call; an overshoot throttles three calls of one
/// environment in a row far less often (a call and its retries inside one empty moment
/// of the bucket still can: BENCHMARKS.md's notes measure what is left of that).
const FLOOR_STREAK: u32 = 3;

#[derive(Debug)]
struct Schedule {
    /// The earliest time the next call may be sent.
    next: Instant,
    /// Calls per second now, in `LOWEST * floor ..= ceiling`.
    rate: f64,
    /// Throttles at or below the floor since the last accepted call.
    streak: u32,
}

/// The pace of one environment: its floor and its ceiling, in calls per second per API.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    floor: f64,
    ceiling: f64,
}

/// Per-API pacing for one execution environment.
#[derive(Debug)]
pub(super) struct Pacer {
    /// `None` sends as fast as the callers ask.
    bounds: Option<Bounds>,
    schedules: Mutex<HashMap<&'static str, Schedule>>,
}

/// Pacing would hold the call past the invocation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PastDeadline(pub Duration);

impl Pacer {
    /// Paces every API between `floor` and `ceiling` calls per second (a ceiling below
    /// the floor counts as the floor); a floor of 0 turns pacing off.
    pub(super) fn new(floor: u32, ceiling: u32) -> Self {
        let bounds = (floor > 0).then(|| Bounds {
            floor: f64::from(floor),
            ceiling: f64::from(ceiling.max(floor)),
        });
        Self {
            bounds,
            schedules: Mutex::new(HashMap::new()),
        }
    }

    fn schedule<'a>(
        schedules: &'a mut HashMap<&'static str, Schedule>,
        api: &'static str,
        bounds: Bounds,
        now: Instant,
    ) -> &'a mut Schedule {
        schedules.entry(api).or_insert(Schedule {
            next: now,
            rate: bounds.floor,
            streak: 0,
        })
    }

    fn schedules(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Schedule>> {
        self.schedules.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for `api`'s next slot, or says that the slot lies past `deadline`.
    pub(super) async fn ready(&self, api: &'static str, deadline: Deadline) -> Result<(), PastDeadline> {
        let Some(bounds) = self.bounds else { return Ok(()) };
        let now = Instant::now();
        let at = {
            let mut schedules = self.schedules();
            let schedule = Self::schedule(&mut schedules, api, bounds, now);
            let at = schedule.next.max(now);
            let wait = at - now;
            if !deadline.allows_wait(wait) {
                return Err(PastDeadline(wait));
            }
            schedule.next = at + Duration::from_secs_f64(1.0 / schedule.rate);
            at
        };
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    /// The service accepted a call to `api`.
    pub(super) fn succeeded(&self, api: &'static str) {
        let Some(bounds) = self.bounds else { return };
        if let Some(schedule) = self.schedules().get_mut(api) {
            schedule.streak = 0;
            schedule.rate = if schedule.rate < bounds.floor {
                (schedule.rate + RECOVERY_STEP * bounds.floor).min(bounds.floor)
            } else {
                (schedule.rate + BORROW_STEP * bounds.ceiling).min(bounds.ceiling)
            };
        }
    }

    /// The service throttled a call to `api`, with its hint if it gave one.
    pub(super) fn throttled(&self, api: &'static str, retry_after: Option<Duration>) {
        let Some(bounds) = self.bounds else { return };
        let now = Instant::now();
        let mut schedules = self.schedules();
        let schedule = Self::schedule(&mut schedules, api, bounds, now);
        // Borrowed rate is given back first; only throttles in a row at the floor go
        // below it.
        if schedule.rate > bounds.floor {
            schedule.rate = (schedule.rate * BORROW_BACKOFF).max(bounds.floor);
        } else {
            schedule.streak += 1;
            if schedule.streak >= FLOOR_STREAK {
                schedule.rate = (schedule.rate / 2.0).max(LOWEST * bounds.floor);
            }
        }
        if let Some(hint) = retry_after {
            schedule.next = schedule.next.max(now + hint);
        }
    }

    /// `api`'s rate now, in calls per second (`None` without pacing).
    #[cfg(test)]
    fn rate(&self, api: &'static str) -> Option<f64> {
        let bounds = self.bounds?;
        Some(self.schedules().get(api).map_or(bounds.floor, |s| s.rate))
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
        let pacer = Pacer::new(20, 20);
        let started = Instant::now();
        for _ in 0..21 {
            pacer.ready("ListUsers", Deadline::unbounded()).await.unwrap();
        }
        // The first goes at once, the next twenty 50 ms apart.
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn different_apis_do_not_wait_for_each_other() {
        let pacer = Pacer::new(20, 20);
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
    async fn throttles_in_a_row_at_the_floor_halve_the_rate_and_a_hint_holds_every_caller() {
        let pacer = Pacer::new(10, 10);
        pacer.ready("GetUserId", Deadline::unbounded()).await.unwrap();
        for _ in 0..2 {
            pacer.throttled("GetUserId", None);
        }
        assert_eq!(pacer.rate("GetUserId"), Some(10.0));
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
        let pacer = Pacer::new(1, 1);
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
        let pacer = Pacer::new(0, 20);
        let started = Instant::now();
        for _ in 0..100 {
            pacer.ready("ListUsers", Deadline::unbounded()).await.unwrap();
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn alone_an_environment_borrows_up_to_its_ceiling_and_no_further() {
        let pacer = Pacer::new(3, 20);
        assert_eq!(pacer.rate("CreateGroupMembership"), Some(3.0));
        for _ in 0..1000 {
            pacer
                .ready("CreateGroupMembership", Deadline::unbounded())
                .await
                .unwrap();
            pacer.succeeded("CreateGroupMembership");
        }
        assert_eq!(pacer.rate("CreateGroupMembership"), Some(20.0));
        let started = Instant::now();
        for _ in 0..20 {
            pacer
                .ready("CreateGroupMembership", Deadline::unbounded())
                .await
                .unwrap();
        }
        // Twenty slots 50 ms apart, the first one 50 ms after the last call above.
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_gives_borrowed_rate_back_first_and_the_floor_last() {
        let pacer = Pacer::new(4, 20);
        for _ in 0..1000 {
            pacer.ready("GetUserId", Deadline::unbounded()).await.unwrap();
            pacer.succeeded("GetUserId");
        }
        pacer.throttled("GetUserId", None);
        assert_eq!(pacer.rate("GetUserId"), Some(14.0));
        for _ in 0..4 {
            pacer.throttled("GetUserId", None);
        }
        // 14, 9.8, 6.9, 4.8, then 3.4 would go below the floor: a borrower stops there.
        assert_eq!(pacer.rate("GetUserId"), Some(4.0));
        // Throttled at the floor, and again, and again: someone else holds the quota.
        // Below it, then, to a tenth.
        for _ in 0..10 {
            pacer.throttled("GetUserId", None);
        }
        assert_eq!(pacer.rate("GetUserId"), Some(0.4));
        // And back to the floor within twenty accepted calls, borrowing again after.
        for _ in 0..20 {
            pacer.succeeded("GetUserId");
        }
        let rate = pacer.rate("GetUserId").unwrap();
        assert!((4.0..5.0).contains(&rate), "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn throttles_at_the_floor_between_accepted_calls_keep_the_floor() {
        let pacer = Pacer::new(4, 20);
        for _ in 0..100 {
            pacer.throttled("GetGroupId", None);
            pacer.throttled("GetGroupId", None);
            pacer.succeeded("GetGroupId");
            pacer.throttled("GetGroupId", None);
        }
        // A borrower's overshoot throttles a floor's call now and then: never enough in
        // a row to mean that someone else holds the quota.
        let rate = pacer.rate("GetGroupId").unwrap();
        assert!((4.0..5.0).contains(&rate), "{rate}");
    }
}
