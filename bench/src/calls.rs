//! Calls as the emulator counted them, per API and outcome.

use std::collections::BTreeMap;
use std::time::Duration;

use turnstile_emulator::Counters;

/// The outcome the emulator records for a throttled request.
const THROTTLED: &str = "ThrottlingException";

/// One API's requests in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiCalls {
    /// Answered normally.
    pub ok: u64,
    /// Refused with ThrottlingException.
    pub throttled: u64,
    /// Answered with another error (a uniqueness conflict, a not-found, ...): still a
    /// call that used the quota.
    pub other: u64,
}

impl ApiCalls {
    pub const fn total(self) -> u64 {
        self.ok + self.throttled + self.other
    }

    /// Requests the service let through its rate limit.
    pub const fn accepted(self) -> u64 {
        self.ok + self.other
    }
}

/// Every API's calls in one run, and its successful writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Calls {
    pub by_api: BTreeMap<String, ApiCalls>,
    pub writes: u64,
}

impl Calls {
    pub fn from_counters(counters: &Counters) -> Self {
        let by_api = counters
            .operations
            .iter()
            .map(|(api, outcomes)| {
                let mut calls = ApiCalls::default();
                for (outcome, count) in outcomes {
                    match outcome.as_str() {
                        "ok" => calls.ok += count,
                        THROTTLED => calls.throttled += count,
                        _ => calls.other += count,
                    }
                }
                (api.clone(), calls)
            })
            .filter(|(_, calls)| calls.total() > 0)
            .collect();
        Self {
            by_api,
            writes: counters.writes(),
        }
    }

    pub fn total(&self) -> u64 {
        self.by_api.values().map(|c| c.total()).sum()
    }

    pub fn throttled(&self) -> u64 {
        self.by_api.values().map(|c| c.throttled).sum()
    }

    pub fn accepted(&self, api: &str) -> u64 {
        self.by_api.get(api).map_or(0, |c| c.accepted())
    }

    /// The quota bound: the largest, over the APIs used, of the calls the API let
    /// through divided by its rate. No run can be faster than this.
    pub fn bound(&self, rate: f64) -> Duration {
        let busiest = self.by_api.values().map(|c| c.accepted()).max().unwrap_or(0);
        Duration::from_secs_f64(to_f64(busiest) / rate)
    }

    /// The API behind the bound.
    pub fn busiest(&self) -> Option<&str> {
        self.by_api
            .iter()
            .max_by_key(|(_, c)| c.accepted())
            .map(|(api, _)| api.as_str())
    }

    /// `ListUsers 110, CreateGroupMembership 100 (+3 throttled)`, busiest first.
    pub fn summary(&self) -> String {
        let mut apis: Vec<(&String, &ApiCalls)> = self.by_api.iter().collect();
        apis.sort_by(|a, b| b.1.total().cmp(&a.1.total()).then(a.0.cmp(b.0)));
        apis.iter()
            .map(|(api, c)| {
                if c.throttled > 0 {
                    format!("{api} {} ({} throttled)", thousands(c.total()), thousands(c.throttled))
                } else {
                    format!("{api} {}", thousands(c.total()))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Counts are far below 2^52: exact as f64.
#[allow(clippy::cast_precision_loss)]
pub const fn to_f64(n: u64) -> f64 {
    n as f64
}

/// `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn the_bound_counts_only_accepted_calls_of_the_busiest_api() {
        let mut counters = Counters::default();
        counters
            .operations
            .entry("CreateGroupMembership".into())
            .or_default()
            .insert("ok".into(), 40);
        counters
            .operations
            .entry("CreateGroupMembership".into())
            .or_default()
            .insert(THROTTLED.into(), 5);
        counters
            .operations
            .entry("ListUsers".into())
            .or_default()
            .insert("ok".into(), 10);
        let calls = Calls::from_counters(&counters);
        assert_eq!(calls.total(), 55);
        assert_eq!(calls.throttled(), 5);
        assert_eq!(calls.bound(20.0), Duration::from_secs(2));
        assert_eq!(calls.busiest(), Some("CreateGroupMembership"));
    }
}
