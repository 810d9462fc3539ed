//! The composition root: one [`Service`] per execution environment, built once per cold
//! start, holding the configuration, the Identity Store adapter and the ledger, with
//! one entry point per job.

use lambda_runtime::Context;

use crate::dynamodb::{self, DynamoDbClient, LedgerTable};
use crate::identitystore::{self, IdentityStore, IdentityStoreClient};
use crate::jobs::fence::Fence;
use crate::jobs::ledger::{Ledger, Outcome, Step, Subject};
use crate::jobs::offboard::Offboarding;
use crate::jobs::onboard::{Joined, Onboarding};
use crate::jobs::sync::{Roster, StoreSize};
use crate::{
    Config, Deadline, Error, EventMeta, Function, OffboardMode, OffboardRequest, OffboardResult, OffboardStatus,
    OnboardRequest, OnboardResult, OnboardStatus, SyncMode, SyncRequest, SyncResult, SyncStatus,
};

/// The domain service one function instance uses for all its invocations.
#[derive(Debug)]
pub struct Service {
    config: Config,
    store: IdentityStore,
    ledger: Option<LedgerTable>,
    /// What this execution environment learnt of the store's size, to price the next
    /// roster resolution.
    store_size: StoreSize,
}

impl Service {
    /// The service for a cold start: configuration from the environment and the SDK
    /// clients from its standard settings, built once. A bad configuration is
    /// returned, not panicked on, so that every invocation can report it as
    /// `Configuration`.
    pub async fn from_env() -> Result<Self, Error> {
        let started = Self::start(Config::from_env()).await;
        match &started {
            Err(error) => {
                tracing::error!(%error, "invalid configuration; every invocation will fail with Configuration");
            }
            Ok(service) if service.ledger.is_none() => {
                tracing::warn!(
                    "LEDGER_TABLE is not set: events are applied as they come, without order or duplicate checks"
                );
            }
            Ok(_) => {}
        }
        started
    }

    async fn start(config: Result<Config, Error>) -> Result<Self, Error> {
        let config = config?;
        let shared = sdk_config(config.ca_bundle.as_deref()).await?;
        let ledger = config
            .ledger_table
            .clone()
            .map(|table| LedgerTable::new(dynamodb::client(&shared), table));
        let mut service = Self::new(identitystore::client(&shared), config);
        service.ledger = ledger;
        Ok(service)
    }

    /// A service over an Identity Store client built with the SDK's own retries off (or a
    /// test's mock of one), without the ledger.
    pub fn new(client: IdentityStoreClient, config: Config) -> Self {
        let store = IdentityStore::new(client, config.identity_store_id.clone(), config.retry)
            .with_pacing(config.calls_per_second, config.max_calls_per_second);
        Self {
            config,
            store,
            ledger: None,
            store_size: StoreSize::default(),
        }
    }

    /// The same service with the ledger on, in `table` through `client`.
    #[must_use]
    pub fn with_ledger(mut self, client: DynamoDbClient, table: impl Into<String>) -> Self {
        self.ledger = Some(LedgerTable::new(client, table));
        self
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

    /// onboard-user, for a request without time or id (applied unordered).
    pub async fn onboard(&self, deadline: Deadline, request: OnboardRequest) -> Result<OnboardResult, Error> {
        self.onboard_event(deadline, &EventMeta::default(), request).await
    }

    /// onboard-user: creates or converges the user, then ensures its memberships;
    /// `stale` or `duplicate` when the ledger turns the event away.
    pub async fn onboard_event(
        &self,
        deadline: Deadline,
        event: &EventMeta,
        request: OnboardRequest,
    ) -> Result<OnboardResult, Error> {
        let user_name = request.user.user_name.clone();
        let step = Step {
            subject: Subject::user(&user_name),
            function: Function::OnboardUser,
            name: "onboard",
            rank: 1,
            groups: request.groups.iter().flatten().map(|g| Subject::group(g)).collect(),
        };
        let job = Onboarding {
            store: &self.store,
            config: &self.config,
            fence: self.fence(),
            ledger: self.ledger(),
        };
        self.ledger()
            .run(
                step,
                event,
                deadline,
                |duplicate| {
                    let status = if duplicate {
                        OnboardStatus::Duplicate
                    } else {
                        OnboardStatus::Stale
                    };
                    (OnboardResult::skipped(user_name, status), Vec::new())
                },
                |claimed| job.run(deadline, request, claimed),
                |(r, joined)| Outcome {
                    status: r.status.name(),
                    user_id: r.user_id.clone(),
                    group_ids: r.group_ids.clone(),
                    state: Some("active"),
                    joined: r.group_ids.clone(),
                    attributes: r.applied_attributes,
                    checks: joined.iter().map(Joined::check).collect(),
                    ..Outcome::default()
                },
                |(_, joined), contested| {
                    let job = &job;
                    async move { job.take_back(deadline, &joined, &contested).await }
                },
            )
            .await
            .map(|(result, _)| result)
    }

    /// offboard-user, for a request without time or id (applied unordered).
    pub async fn offboard(&self, deadline: Deadline, request: OffboardRequest) -> Result<OffboardResult, Error> {
        self.offboard_event(deadline, &EventMeta::default(), request).await
    }

    /// offboard-user: removes the leaver's memberships, then deletes or keeps the user;
    /// `stale` when a newer event of the person (a re-hire) was applied.
    pub async fn offboard_event(
        &self,
        deadline: Deadline,
        event: &EventMeta,
        request: OffboardRequest,
    ) -> Result<OffboardResult, Error> {
        // A leaver event's revoke and its delete (after the grace period) share time
        // and id; the delete is the later step.
        let (name, rank, state) = match request.mode {
            OffboardMode::Revoke => ("revoke", 1, "revoked"),
            OffboardMode::Delete => ("delete", 2, "deleted"),
        };
        let user_name = request.user_name.clone();
        let step = Step {
            subject: Subject::user(&user_name),
            function: Function::OffboardUser,
            name,
            rank,
            groups: Vec::new(),
        };
        let job = Offboarding {
            store: &self.store,
            config: &self.config,
            fence: self.fence(),
            ledger: self.ledger(),
        };
        self.ledger()
            .run(
                step,
                event,
                deadline,
                |duplicate| {
                    OffboardResult::nothing(
                        user_name,
                        if duplicate {
                            OffboardStatus::Duplicate
                        } else {
                            OffboardStatus::Stale
                        },
                    )
                },
                |claimed| job.run(deadline, request, claimed),
                |r| Outcome {
                    status: r.status.name(),
                    user_id: r.user_id.clone(),
                    group_ids: r.group_ids.clone(),
                    state: Some(state),
                    decided_when_stale: r.left_before_rehire,
                    checks: r.checks.clone(),
                    ..Outcome::default()
                },
                |r, contested| {
                    let job = &job;
                    async move { job.put_back(deadline, &r, &contested).await }
                },
            )
            .await
    }

    /// sync-group, for a request without time or id (applied unordered).
    pub async fn sync_group(&self, deadline: Deadline, request: SyncRequest) -> Result<SyncResult, Error> {
        self.sync_group_event(deadline, &EventMeta::default(), request).await
    }

    /// sync-group: reconciles a group with its roster by diff; `stale` when a newer
    /// roster event of the group was applied. A dry run writes nothing, the ledger
    /// included.
    pub async fn sync_group_event(
        &self,
        deadline: Deadline,
        event: &EventMeta,
        request: SyncRequest,
    ) -> Result<SyncResult, Error> {
        let roster = |claimed| Roster {
            store: &self.store,
            config: &self.config,
            fence: self.fence(),
            store_size: &self.store_size,
            ledger: self.ledger(),
            claimed,
        };
        if request.dry_run {
            return Box::pin(roster(None).run(deadline, request)).await;
        }
        let step = Step {
            subject: Subject::group(&request.group.display_name),
            function: Function::SyncGroup,
            name: match request.mode {
                SyncMode::Replace => "replace",
                SyncMode::Add => "add",
                SyncMode::Remove => "remove",
            },
            rank: 1,
            groups: Vec::new(),
        };
        let display_name = request.group.display_name.clone();
        let replace = request.mode == SyncMode::Replace;
        self.ledger()
            .run(
                step,
                event,
                deadline,
                |duplicate| {
                    SyncResult::skipped(
                        &display_name,
                        false,
                        if duplicate {
                            SyncStatus::Duplicate
                        } else {
                            SyncStatus::Stale
                        },
                    )
                },
                |claimed| async move { Box::pin(roster(claimed).run(deadline, request)).await },
                |r| Outcome {
                    status: r.status.name(),
                    group_ids: r.group_id.iter().cloned().collect(),
                    added: r.added.len(),
                    removed: r.removed.len(),
                    decisions: r.decisions.clone(),
                    deferred: r.deferred.clone(),
                    replace,
                    ..Outcome::default()
                },
                nothing_to_undo,
            )
            .await
    }

    fn fence(&self) -> Fence<'_> {
        Fence::new(
            &self.store,
            self.config.leavers_group.as_deref(),
            self.config.listing_lag,
        )
    }

    fn ledger(&self) -> Ledger<'_> {
        Ledger::new(self.ledger.as_ref(), self.config.ledger_retention_days)
    }
}

/// The SDK's standard configuration from the environment (region, credentials chain,
/// endpoint overrides), over the HTTPS client with the fixed trust store: one for both
/// clients.
async fn sdk_config(ca_bundle: Option<&str>) -> Result<aws_config::SdkConfig, Error> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(identitystore::https_client(ca_bundle)?);
    // The default credentials chain asks the environment first, so with a key pair
    // there (always, under Lambda) its other providers are never asked; building
    // them costs a third of a millisecond of every cold start.
    let key_pair = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|key| std::env::var(key).is_ok_and(|v| !v.trim().is_empty()));
    if key_pair {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    let shared = loader.load().await;
    if shared.region().is_none() {
        return Err(Error::Configuration(
            "no AWS region is configured (set AWS_REGION)".into(),
        ));
    }
    Ok(shared)
}

/// The undo of a job whose outcome has no checks (sync-group).
fn nothing_to_undo<R>(_: R, _: Vec<usize>) -> std::future::Ready<()> {
    std::future::ready(())
}
