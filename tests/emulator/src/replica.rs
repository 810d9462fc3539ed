//! Replication lag: look-ups and listings served from the store as it was a moment ago.
//!
//! No AWS document promises that GetUserId, GetGroupId, GetGroupMembershipId,
//! IsMemberInGroups or the List operations reflect a write at once. With `lag_ms` set
//! (the fault configuration's, seeded like every other fault), each such request sees
//! the store as it stood at a moment drawn uniformly from the last `lag_ms`
//! milliseconds: a user just created may not be found by name yet, a membership just
//! deleted may still be listed. Writes and the Describe operations (by id) always see
//! the store as it is, and uniqueness is always checked against it.
//!
//! The replica keeps a copy of the store after every write within the window (and the
//! newest one before it), so it costs a copy per write while lag is on and nothing
//! while it is off.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::state::Store;

/// The operations whose answers may lag behind writes.
pub(crate) const LAGGED: &[&str] = &[
    "GetGroupId",
    "GetGroupMembershipId",
    "GetUserId",
    "IsMemberInGroups",
    "ListGroupMemberships",
    "ListGroupMembershipsForMember",
    "ListGroups",
    "ListUsers",
];

/// The store's recent states, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    window: Duration,
    states: VecDeque<(Instant, Store)>,
}

impl Replica {
    /// Starts over with `window` of lag from `live` as it is now (no lag: nothing kept).
    pub(crate) fn reset(&mut self, window: Duration, live: &Store) {
        self.window = window;
        self.states.clear();
        if !window.is_zero() {
            self.states.push_back((Instant::now(), live.clone()));
        }
    }

    /// Sets the window: the history so far is kept when the window stays the same (a
    /// new fault configuration does not make past writes visible), else it starts over.
    pub(crate) fn configure(&mut self, window: Duration, live: &Store) {
        if window != self.window || self.states.is_empty() {
            self.reset(window, live);
        }
    }

    /// Keeps `live` as a write just left it, and forgets what no request can see any more.
    pub(crate) fn record(&mut self, live: &Store) {
        if self.window.is_zero() {
            return;
        }
        let now = Instant::now();
        self.states.push_back((now, live.clone()));
        if let Some(horizon) = now.checked_sub(self.window) {
            // The newest state at or before the horizon is the oldest a request may see.
            while self.states.len() > 1 && self.states[1].0 <= horizon {
                self.states.pop_front();
            }
        }
    }

    /// The store as it stood `lag` ago: the newest kept state not after then, else the
    /// oldest kept one (nothing was written before it), else `live`.
    pub(crate) fn as_of<'a>(&'a mut self, lag: Duration, live: &'a mut Store) -> &'a mut Store {
        let Some(then) = Instant::now().checked_sub(lag) else {
            return live;
        };
        let newest_before = self.states.iter().rposition(|(at, _)| *at <= then).unwrap_or(0);
        match self.states.get_mut(newest_before) {
            Some((_, state)) => state,
            None => live,
        }
    }
}
