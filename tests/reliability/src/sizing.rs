//! How big a run is, from the environment, and where its figures go.
//!
//! | Variable | CI default | Full suite (`scripts/reliability.sh`) |
//! | --- | --- | --- |
//! | `RELIABILITY_SEEDS` | 25 | 200 |
//! | `RELIABILITY_FIRST_SEED` | 1 | 1 |
//! | `RELIABILITY_CONCURRENCY` | 8 | 8 |
//! | `PROPTEST_CASES` | 1000 | 10000 |
//! | `RELIABILITY_REPORT` | unset | `target/reliability/figures.jsonl` |
//! | `RELIABILITY_LAG_MS` | 0 | 0 (`scripts/replication-lag.sh` sweeps it) |
//! | `RELIABILITY_LISTING_LAG_MS` | 0 | 0 (the functions' `LISTING_LAG_MS`; the sweep also sets it to the lag) |
//! | `RELIABILITY_LAG_SPACED` | unset | unset (set: events of a scenario at least the lag apart) |
//! | `RELIABILITY_SIDE_BY_SIDE` | 4 | 4 (the chaos delivery's run of that many deliveries at a time, 2 or more; `0` skips it) |
//! | `RELIABILITY_FENCE` | `on` | `on` (`off`: the chaos delivery with the leavers fence off, whose order semantics await the owner) |

use std::io::Write as _;
use std::str::FromStr;

use serde_json::Value;

fn number<T: FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Randomised fault scenarios to run.
pub fn seeds() -> u64 {
    number("RELIABILITY_SEEDS", 25)
}

/// The first scenario seed (seeds run from here upwards).
pub fn first_seed() -> u64 {
    number("RELIABILITY_FIRST_SEED", 1)
}

/// Scenarios run at once.
pub fn concurrency() -> usize {
    number("RELIABILITY_CONCURRENCY", 8usize).max(1)
}

/// Replication lag of the emulators under test, in milliseconds (their look-ups and
/// listings see the store as it was up to this long ago); a re-delivery waits as long.
pub fn lag_ms() -> u64 {
    number("RELIABILITY_LAG_MS", 0)
}

/// The functions' `LISTING_LAG_MS` in the fault scenarios and the races.
pub fn listing_lag_ms() -> u64 {
    number("RELIABILITY_LISTING_LAG_MS", 0)
}

/// Whether a scenario's events are delivered at least [`lag_ms`] apart (HR events about
/// one person are seconds apart), rather than back to back.
pub fn lag_spaced() -> bool {
    std::env::var_os("RELIABILITY_LAG_SPACED").is_some_and(|v| !v.is_empty())
}

/// How many deliveries at a time the chaos delivery's side-by-side run makes (as
/// Lambda runs invocations at once): `RELIABILITY_SIDE_BY_SIDE` when 2 or more, `None`
/// when 0, else 4 (so the `1` that once turned it on keeps it on).
pub fn side_by_side() -> Option<usize> {
    match number("RELIABILITY_SIDE_BY_SIDE", 4usize) {
        0 => None,
        1 => Some(4),
        window => Some(window),
    }
}

/// Whether the chaos delivery runs with the leavers fence on (`RELIABILITY_FENCE`,
/// anything but `off`), as the template deploys it.
pub fn fence() -> bool {
    std::env::var("RELIABILITY_FENCE").map_or(true, |v| v.trim() != "off")
}

/// Property-test cases per function.
pub fn proptest_cases() -> u32 {
    number("PROPTEST_CASES", 1000)
}

/// Prints one section's figures on the real stderr (not captured by the test harness,
/// so they show in every `cargo test` run) and appends them to `RELIABILITY_REPORT`.
pub fn report(section: &str, figures: &Value) {
    let line = serde_json::json!({ "section": section, "figures": figures }).to_string();
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "reliability figures: {line}");
    if let Ok(path) = std::env::var("RELIABILITY_REPORT") {
        if let Some(parent) = std::path::Path::new(&path).parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            let _ = writeln!(file, "{line}");
        }
    }
}
