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
pub mod faults;
pub mod server;
pub mod state;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use faults::{FaultConfig, FaultSpec};
pub use server::Counters;
pub use state::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The identity store id the emulator serves unless told otherwise.
pub const DEFAULT_STORE_ID: &str = "d-1234567890";

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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            identity_store_id: DEFAULT_STORE_ID.into(),
            seed: 1,
            faults: FaultConfig::default(),
            state_file: None,
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
        let listener = TcpListener::bind(options.bind).await?;
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
            let mut store: Store = serde_json::from_slice(&bytes).map_err(std::io::Error::other)?;
            store.reindex();
            return Ok(store);
        }
    }
    Ok(Store::new(&options.identity_store_id, options.seed))
}
