//! A local AWS Identity Store for Turnstile's local runs and tests.
//!
//! It speaks the service's own protocol (AWS JSON 1.1: `POST /`,
//! `X-Amz-Target: AWSIdentityStore.<Operation>`), so the unmodified
//! `aws-sdk-identitystore` client and boto3 work against it through
//! `AWS_ENDPOINT_URL_IDENTITYSTORE`. It keeps the service's rules (uniqueness,
//! validation, not-found shapes, opaque pagination) and can fail on demand: see
//! [`faults::FaultSpec`]. An admin API under `/_admin` reads request counters, sets
//! faults at runtime, resets state and gives ExternalIds.

pub mod admin;
pub mod error;
mod extension;
pub mod faults;
pub mod moto;
mod replica;
pub mod server;
pub mod snapshot;
pub mod state;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use faults::ThrottleShape;
pub use faults::{FaultConfig, FaultSpec};
pub use server::Counters;
pub use state::{Rules, Store};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The identity store id the emulator serves unless told otherwise.
pub const DEFAULT_STORE_ID: &str = "d-1234567890";

// Independent switches, one per undocumented or optional behaviour.
#[allow(clippy::struct_excessive_bools)]
/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    pub identity_store_id: String,
    /// Seeds resource ids and the fault generator.
    pub seed: u64,
    pub faults: FaultConfig,
    /// A JSON snapshot to load at start (if it exists) and rewrite after each change.
    pub state_file: Option<PathBuf>,
    /// IAM Identity Center requires email addresses to be unique: CreateUser, and
    /// UpdateUser setting `emails`, with an email value another user has (compared
    /// case-insensitively) is a `UNIQUENESS_CONSTRAINT_VIOLATION` conflict. Default
    /// true; false (`--allow-duplicate-emails`) lets users share addresses.
    pub unique_emails: bool,
    /// UserName and group DisplayName compare without regard to case: uniqueness,
    /// GetUserId by `userName`, GetGroupId by `displayName` and the ListUsers and
    /// ListGroups filters. Stored values keep their case. Default false (exact case);
    /// AWS does not document which.
    pub case_insensitive_names: bool,
    /// UpdateUser may set `userStatus` (`ENABLED` or `DISABLED`). Default false: the
    /// model has no writable UserStatus (CreateUser takes none), so the service's
    /// console and SCIM set it; [`admin::Admin::set_user_status`] plays that part.
    pub user_status_updatable: bool,
    /// New resource ids are bare UUIDs, as in an identity store migrated from the
    /// legacy SSO store (the model: ids are "either UUID or 1234567890-UUID").
    /// Default false: `<ten digits>-<UUID>`, as in a store created today.
    pub plain_uuid_ids: bool,
    /// DeleteUser, DeleteGroup and DeleteGroupMembership of something that does not
    /// exist succeed instead of being ResourceNotFoundException. Default false; the
    /// model lists ResourceNotFoundException for the three but AWS does not say.
    pub idempotent_deletes: bool,
}

impl Options {
    /// The service rules these options choose.
    pub const fn rules(&self) -> Rules {
        Rules {
            unique_emails: self.unique_emails,
            case_insensitive_names: self.case_insensitive_names,
            user_status_updatable: self.user_status_updatable,
            plain_uuid_ids: self.plain_uuid_ids,
            idempotent_deletes: self.idempotent_deletes,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            identity_store_id: DEFAULT_STORE_ID.into(),
            seed: 1,
            faults: FaultConfig::default(),
            state_file: None,
            unique_emails: true,
            case_insensitive_names: false,
            user_status_updatable: false,
            plain_uuid_ids: false,
            idempotent_deletes: false,
        }
    }
}

/// A running emulator; stopped when [`Emulator::stop`] is called or it is dropped.
#[derive(Debug)]
pub struct Emulator {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Starts serving on `options.bind`.
    pub async fn start(options: Options) -> std::io::Result<Self> {
        let store = load(&options)?;
        let mut faults = options.faults.clone();
        if faults.seed == 0 {
            faults.seed = options.seed;
        }
        let shared = Arc::new(server::Shared::new(
            store,
            faults,
            options.state_file.clone(),
            options.seed,
        ));
        // The address in the error: a second emulator on a busy port says where.
        let listener = TcpListener::bind(options.bind).await.map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("the emulator cannot listen on {}: {error}", options.bind),
            )
        })?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let app = server::router(shared);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "emulator server failed");
            }
        });
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_IDENTITYSTORE`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn load(options: &Options) -> std::io::Result<Store> {
    if let Some(path) = &options.state_file {
        if path.exists() {
            let bytes = std::fs::read(path)?;
            let store: Store = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
            return Ok(store.with_rules(options.rules()));
        }
    }
    Ok(Store::new(&options.identity_store_id, options.seed).with_rules(options.rules()))
}
