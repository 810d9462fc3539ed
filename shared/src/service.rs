//! The composition root: one [`Service`] per execution environment, built once per cold
//! start, holding the configuration and the Identity Store adapter, with one entry point
//! per job.

use lambda_runtime::Context;

use crate::identitystore::{self, IdentityStore, IdentityStoreClient};
use crate::jobs::fence::Fence;
use crate::jobs::offboard::Offboarding;
use crate::jobs::onboard::Onboarding;
use crate::jobs::sync::{Roster, StoreSize};
use crate::{
    Config, Deadline, Error, OffboardRequest, OffboardResult, OnboardRequest, OnboardResult, SyncRequest, SyncResult,
};

/// The domain service one function instance uses for all its invocations.
#[derive(Debug)]
pub struct Service {
    config: Config,
    store: IdentityStore,
    /// What this execution environment learnt of the store's size, to price the next
    /// roster resolution.
    store_size: StoreSize,
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
        let client = identitystore::client_from_env(config.ca_bundle.as_deref()).await?;
        Ok(Self::new(client, config))
    }

    /// A service over an Identity Store client built with the SDK's own retries off (or a
    /// test's mock of one).
    pub fn new(client: IdentityStoreClient, config: Config) -> Self {
        let store = IdentityStore::new(client, config.identity_store_id.clone(), config.retry)
            .with_pacing(config.calls_per_second);
        Self {
            config,
            store,
            store_size: StoreSize::default(),
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

    /// onboard-user: creates or converges the user, then ensures its memberships.
    pub async fn onboard(&self, deadline: Deadline, request: OnboardRequest) -> Result<OnboardResult, Error> {
        // Boxed: the job's future is deep, and the runtime nests it further.
        Box::pin(
            Onboarding {
                store: &self.store,
                config: &self.config,
                fence: self.fence(),
            }
            .run(deadline, request),
        )
        .await
    }

    /// offboard-user: removes the leaver's memberships, then deletes or keeps the user.
    pub async fn offboard(&self, deadline: Deadline, request: OffboardRequest) -> Result<OffboardResult, Error> {
        // Boxed: the job's future is deep, and the runtime nests it further.
        Box::pin(
            Offboarding {
                store: &self.store,
                config: &self.config,
                fence: self.fence(),
            }
            .run(deadline, request),
        )
        .await
    }

    /// sync-group: reconciles a group with its roster by diff.
    pub async fn sync_group(&self, deadline: Deadline, request: SyncRequest) -> Result<SyncResult, Error> {
        // Boxed: the job's future is deep, and the runtime nests it further.
        Box::pin(
            Roster {
                store: &self.store,
                config: &self.config,
                fence: self.fence(),
                store_size: &self.store_size,
            }
            .run(deadline, request),
        )
        .await
    }

    fn fence(&self) -> Fence<'_> {
        Fence::new(&self.store, self.config.leavers_group.as_deref())
    }
}
