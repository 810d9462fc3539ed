//! Support for Turnstile's reliability and security suite (`tests/suite/`): the
//! in-process emulator harness, in-process invocations of the three handlers, store
//! snapshots (the emulator's [`snapshot`]), the people and events the scenarios are made of, log capture with a
//! personal-data scanner, and a fake Lambda Runtime API for the runtime probe.
//!
//! The suite's sizes come from the environment (see [`sizing`]): the defaults are CI's,
//! `scripts/reliability.sh` sets the full ones.

pub mod emf;
pub mod harness;
pub mod logs;
pub mod oracle;
pub mod people;
pub mod runtime_api;
pub mod sizing;
pub use turnstile_emulator::snapshot;
pub mod sqs;

pub use harness::{
    Delivery, Emu, Function, Outcome, deliver, deliver_beside_others, invoke, invoke_raw, runtime_payload, test_config,
};
pub use snapshot::Snapshot;
