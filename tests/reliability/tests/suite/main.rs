//! Turnstile's reliability and security suite: one test binary (one link) for all of
//! it. See RELIABILITY.md for what each part promises and how to run the full sizes.

// Scenario tests read top to bottom, one step after another.
#![allow(clippy::too_many_lines)]

mod bulk;
mod chaos;
mod deadlines;
mod faults;
mod hostile;
mod interrupted;
mod pii;
mod races;
mod runtime;
mod stores;
mod workspace;
