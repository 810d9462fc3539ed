//! Turnstile's domain layer: every Identity Store call the functions make, the
//! contract's requests and results, and the three jobs (onboard, offboard, sync).
//!
//! The functions under `functions/` only decode events, call [`Service`] and map
//! [`Error`] to the Lambda error object.

pub mod config;
pub mod error;
pub mod fault;
mod fence;
pub mod http;
pub mod offboard;
pub mod onboard;
pub mod pace;
mod redact;
pub mod request;
pub mod retry;
pub mod store;
pub mod sync;

use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::retry::RetryConfig;
pub use config::Config;
pub use error::Error;
use lambda_runtime::Context;
pub use offboard::{OffboardResult, OffboardStatus};
pub use onboard::{OnboardResult, OnboardStatus};
pub use redact::redact;
pub use request::{OffboardRequest, OnboardRequest, SyncRequest, decode, decode_json};
pub use retry::{Deadline, RetryPolicy};
pub use store::IdentityStore;
pub use sync::{SyncResult, SyncStatus};

/// Builds the Identity Store client from the SDK's standard configuration (region,
/// credentials chain, `AWS_ENDPOINT_URL_IDENTITYSTORE`), with the SDK's own retries
/// off: [`retry`] does them, honouring `RetryAfterSeconds` and the deadline.
pub fn sdk_client(shared: &aws_config::SdkConfig) -> aws_sdk_identitystore::Client {
    let config = aws_sdk_identitystore::config::Builder::from(shared)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_identitystore::Client::from_conf(config)
}

/// The domain service one function instance uses for all its invocations.
#[derive(Debug)]
pub struct Service {
    config: Config,
    store: IdentityStore,
    /// Users seen by this execution environment's last full ListUsers, to price the
    /// next roster resolution.
    seen_store_users: AtomicUsize,
}

impl Service {
    /// The service for a cold start: configuration from the environment and the SDK
    /// client from its standard settings. A bad configuration is returned, not
    /// panicked on, so that every invocation can report it as `Configuration`.
    pub async fn from_env() -> Result<Self, Error> {
        let started = Self::start(Config::from_env()).await;
        if let Err(error) = &started {
            tracing::error!(%error, "invalid configuration; every invocation will fail with Configuration");
        }
        started
    }

    async fn start(config: Result<Config, Error>) -> Result<Self, Error> {
        let config = config?;
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http::https_client(config.ca_bundle.as_deref())?);
        // The default credentials chain asks the environment first, so with a key pair
        // there (always, under Lambda) its other providers are never asked; building
        // them costs a third of a millisecond of every cold start.
        let key_pair = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
            .iter()
            .all(|key| std::env::var(key).is_ok_and(|v| !v.trim().is_empty()));
        if key_pair {
            loader =
                loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
        }
        let shared = loader.load().await;
        if shared.region().is_none() {
            return Err(Error::Configuration(
                "no AWS region is configured (set AWS_REGION)".into(),
            ));
        }
        Ok(Self::new(sdk_client(&shared), config))
    }

    pub fn new(client: aws_sdk_identitystore::Client, config: Config) -> Self {
        let store = IdentityStore::new(client, config.identity_store_id.clone(), config.retry)
            .with_pacing(config.calls_per_second);
        Self {
            config,
            store,
            seen_store_users: AtomicUsize::new(0),
        }
    }

    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The deadline an invocation's work must respect: Lambda's, less the margin.
    pub fn deadline(&self, context: &Context) -> Deadline {
        let deadline = Deadline::from_lambda_deadline_ms(context.deadline, self.config.deadline_margin);
        tracing::debug!(
            deadline_ms = context.deadline,
            budget_ms = deadline
                .remaining()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            "invocation deadline"
        );
        deadline
    }

    fn store_users_estimate(&self) -> usize {
        match self.seen_store_users.load(Ordering::Relaxed) {
            0 => self.config.expected_store_users,
            seen => seen,
        }
    }

    fn remember_store_users(&self, count: usize) {
        self.seen_store_users.store(count, Ordering::Relaxed);
    }
}

#[cfg(feature = "test-util")]
pub mod testing;
