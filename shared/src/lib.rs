//! Turnstile's domain layer: the three jobs (onboard, offboard, sync) behind one
//! [`Service`], the one adapter that talks to the Identity Store, and the contract's
//! requests, results and errors.
//!
//! The layout is the architecture:
//! - [`Service`] (`service.rs`) is the composition root: configuration, the adapter, and
//!   one entry point per job; [`run`] (`runtime.rs`) is a function's whole `main`;
//! - `jobs/` holds the jobs and the leavers fence, in domain terms only;
//! - `identitystore/` is the Identity Store adapter, the only module that names
//!   `aws_sdk_identitystore` (calls, conversions, error classification, retries,
//!   pacing, HTTPS); `dynamodb/` is the ledger table's adapter, the only one that
//!   names `aws_sdk_dynamodb`;
//! - `cloudwatch/` counts what the functions did as CloudWatch metrics, written to the
//!   log in the Embedded Metric Format (no API call);
//! - `contract/` holds what callers see: requests, results, errors, redaction.
//!
//! The functions under `functions/` are a `main.rs` each that calls [`run`].
#![warn(unreachable_pub)]

mod cloudwatch;
mod config;
mod contract;
mod deadline;
mod dynamodb;
mod identitystore;
mod jobs;
mod runtime;
mod service;

pub use config::Config;
pub use contract::batch::Answer;
pub use contract::error::{Error, ErrorType};
pub use contract::event::{EventMeta, EventTime};
pub use contract::request::{
    GroupSpec, OffboardMode, OffboardRequest, OnboardRequest, SyncMode, SyncRequest, Validate, decode, decode_event,
    decode_json,
};
pub use contract::result::{
    GroupOutcome, OffboardResult, OffboardStatus, OnboardResult, OnboardStatus, SyncResult, SyncStatus,
};
pub use contract::user::{AddressSpec, ContactSpec, EnterpriseSpec, NameSpec, PhotoSpec, RoleSpec, UserSpec};
pub use deadline::Deadline;
pub use identitystore::{Ensured, IdentityStore, RetryPolicy, https_client};
pub use jobs::{Function, Job, Offboard, Onboard, SyncGroup};
pub use runtime::{handle, handle_function, run, run_function};
pub use service::Service;

#[cfg(feature = "test-util")]
pub mod testing;
