//! The HTTP front: AWS JSON 1.1 on `POST /`, and a small admin API under `/_admin`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::faults::{FaultConfig, Faults};
use crate::replica::{LAGGED, Replica};
use crate::state::{OPERATIONS, Rules, Store, WRITES};

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "AWSIdentityStore.";

/// Requests per operation and outcome, and which of the failures were injected.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counters {
    /// operation → outcome (`ok`, or the error `__type`, with `/REASON` for conflicts)
    /// → count.
    pub operations: BTreeMap<String, BTreeMap<String, u64>>,
    /// operation → injected error outcome → count.
    pub injected: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Counters {
    /// Requests to `operation` with `outcome`.
    pub fn get(&self, operation: &str, outcome: &str) -> u64 {
        self.operations
            .get(operation)
            .and_then(|o| o.get(outcome))
            .copied()
            .unwrap_or(0)
    }

    /// Every request to `operation`.
    pub fn calls(&self, operation: &str) -> u64 {
        self.operations.get(operation).map_or(0, |o| o.values().sum())
    }

    /// Every request.
    pub fn total(&self) -> u64 {
        self.operations.values().flat_map(BTreeMap::values).sum()
    }

    /// Write requests that succeeded: the changes actually made.
    pub fn writes(&self) -> u64 {
        WRITES.iter().map(|op| self.get(op, "ok")).sum()
    }

    /// Every injected failure.
    pub fn injected_total(&self) -> u64 {
        self.injected.values().flat_map(BTreeMap::values).sum()
    }
}

pub(crate) struct Shared {
    pub store: Mutex<Store>,
    /// Locked only while `store` is (after it; `faults` before both), so none deadlock.
    replica: Mutex<Replica>,
    pub faults: Mutex<Faults>,
    pub counters: Mutex<Counters>,
    pub state_file: Option<PathBuf>,
    pub seed: u64,
    requests: AtomicU64,
    /// A gate armed by `PUT /_admin/hold`: the next request to its operation waits,
    /// before it is applied, until `DELETE /_admin/hold`.
    hold: Mutex<Option<Arc<Hold>>>,
}

/// Lets a test put one request between two steps of another, whatever the timing: the
/// held request has been received (the test polls for that) and is applied only after
/// the release.
#[derive(Debug)]
struct Hold {
    operation: String,
    taken: std::sync::atomic::AtomicBool,
    released: tokio::sync::watch::Sender<bool>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock cannot leave these structures half-written in a way
    // that matters more than stopping the emulator would.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub fn new(store: Store, faults: FaultConfig, state_file: Option<PathBuf>, seed: u64) -> Self {
        let faults = Faults::new(faults);
        let mut replica = Replica::default();
        replica.reset(faults.lag_window(), &store);
        Self {
            store: Mutex::new(store),
            replica: Mutex::new(replica),
            faults: Mutex::new(faults),
            counters: Mutex::new(Counters::default()),
            state_file,
            seed,
            requests: AtomicU64::new(0),
            hold: Mutex::new(None),
        }
    }

    fn request_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012x}")
    }

    fn count(&self, operation: &str, outcome: &str, injected: bool) {
        let mut counters = lock(&self.counters);
        *counters
            .operations
            .entry(operation.into())
            .or_default()
            .entry(outcome.into())
            .or_default() += 1;
        if injected {
            *counters
                .injected
                .entry(operation.into())
                .or_default()
                .entry(outcome.into())
                .or_default() += 1;
        }
    }

    fn snapshot(&self, store: &Store) {
        let Some(path) = &self.state_file else { return };
        let tmp = path.with_extension("tmp");
        let written = serde_json::to_vec_pretty(store)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(error) = written {
            tracing::error!(%error, path = %path.display(), "could not write the state snapshot");
        }
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", post(api))
        .route("/_admin/health", get(|| async { "ok" }))
        .route("/_admin/counters", get(counters).delete(reset_counters))
        .route("/_admin/faults", get(get_faults).put(put_faults))
        .route("/_admin/reset", post(reset))
        .route("/_admin/state", get(state))
        .route("/_admin/external-ids", post(external_ids))
        .route("/_admin/rules", get(get_rules).put(put_rules))
        .route("/_admin/users/{user_id}/status", put(user_status))
        .route("/_admin/hold", get(get_hold).put(put_hold).delete(release_hold))
        .fallback(|| async { error_response(&ApiError::unknown_operation("(none)"), "-") })
        .with_state(shared)
}

fn outcome(error: &ApiError) -> String {
    match error.members.get("Reason").and_then(Value::as_str) {
        Some(reason) if error.kind == "ConflictException" => format!("{}/{reason}", error.kind),
        _ => error.kind.to_owned(),
    }
}

fn error_response(error: &ApiError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, error.body(request_id).to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(kind) = HeaderValue::from_str(error.kind) {
        headers.insert("x-amzn-ErrorType", kind);
    }
    if !error.without_request_id {
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-RequestId", id);
        }
    }
    if let Some(seconds) = error.retry_after() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

async fn api(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = shared.request_id();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.strip_prefix(TARGET_PREFIX).filter(|op| OPERATIONS.contains(op));
    let json_content = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(CONTENT_TYPE))
        });
    // The service routes on target and content type together; a request it cannot
    // route is an unknown operation.
    let Some(operation) = operation.filter(|_| json_content) else {
        let error = ApiError::unknown_operation(if target.is_empty() { "(none)" } else { target });
        shared.count("(unknown)", error.kind, false);
        return error_response(&error, &request_id);
    };
    let parsed: Result<Value, _> = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(json!({}))
    } else {
        serde_json::from_slice(&body)
    };
    let Ok(Value::Object(input)) = parsed else {
        let error = ApiError::serialization("Start of structure or map found where not expected, or malformed JSON.");
        shared.count(operation, error.kind, false);
        return error_response(&error, &request_id);
    };

    let is_write = WRITES.contains(&operation);
    let decision = lock(&shared.faults).decide(operation, is_write);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    if let Some(error) = decision.error {
        shared.count(operation, &outcome(&error), true);
        return error_response(&error, &request_id);
    }
    let gate = lock(&shared.hold)
        .as_ref()
        .filter(|hold| hold.operation == operation && !hold.taken.swap(true, Ordering::SeqCst))
        .cloned();
    if let Some(hold) = gate {
        // A receiver subscribed before the wait sees a release sent at any time.
        let mut released = hold.released.subscribe();
        drop(released.wait_for(|released| *released).await);
    }

    let lag = if LAGGED.contains(&operation) {
        lock(&shared.faults).lag()
    } else {
        Duration::ZERO
    };
    let result = {
        let mut store = lock(&shared.store);
        let result = if lag.is_zero() {
            store.execute(operation, &input)
        } else {
            lock(&shared.replica).as_of(lag, &mut store).execute(operation, &input)
        };
        if is_write && result.is_ok() {
            shared.snapshot(&store);
            lock(&shared.replica).record(&store);
        }
        result
    };
    match result {
        Ok(output) => {
            shared.count(operation, "ok", false);
            let mut response = (StatusCode::OK, output.to_string()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            if let Ok(id) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-amzn-RequestId", id);
            }
            response
        }
        Err(error) => {
            shared.count(operation, &outcome(&error), false);
            error_response(&error, &request_id)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    operation: String,
}

async fn put_hold(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: HoldRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return admin_error(StatusCode::BAD_REQUEST, format!("invalid hold: {error}")),
    };
    if !OPERATIONS.contains(&request.operation.as_str()) {
        return admin_error(StatusCode::BAD_REQUEST, format!("no operation {}", request.operation));
    }
    let mut hold = lock(&shared.hold);
    if hold.is_some() {
        return admin_error(StatusCode::CONFLICT, "a hold is armed already; release it first");
    }
    *hold = Some(Arc::new(Hold {
        operation: request.operation,
        taken: std::sync::atomic::AtomicBool::new(false),
        released: tokio::sync::watch::channel(false).0,
    }));
    StatusCode::NO_CONTENT.into_response()
}

/// `{"operation": ..., "waiting": true}` once the held request arrived; `{}` unarmed.
async fn get_hold(State(shared): State<Arc<Shared>>) -> Response {
    let hold = lock(&shared.hold);
    axum::Json(hold.as_ref().map_or_else(
        || json!({}),
        |h| json!({ "operation": h.operation, "waiting": h.taken.load(Ordering::SeqCst) }),
    ))
    .into_response()
}

async fn release_hold(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(hold) = lock(&shared.hold).take() {
        hold.released.send_replace(true);
    }
    StatusCode::NO_CONTENT.into_response()
}

fn admin_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.counters).clone()).into_response()
}

async fn reset_counters(State(shared): State<Arc<Shared>>) -> Response {
    *lock(&shared.counters) = Counters::default();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.faults).config().clone()).into_response()
}

async fn put_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(config) => {
            let mut faults = lock(&shared.faults);
            faults.set(config);
            let store = lock(&shared.store);
            lock(&shared.replica).configure(faults.lag_window(), &store);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => admin_error(StatusCode::BAD_REQUEST, format!("invalid fault configuration: {error}")),
    }
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    // Locks in the order put_faults takes them: faults, store, replica.
    let window = lock(&shared.faults).lag_window();
    {
        let mut store = lock(&shared.store);
        let id = store.identity_store_id.clone();
        let rules = store.rules();
        *store = Store::new(&id, shared.seed).with_rules(rules);
        shared.snapshot(&store);
        lock(&shared.replica).reset(window, &store);
    }
    *lock(&shared.counters) = Counters::default();
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct StateQuery {
    #[serde(default)]
    full: bool,
}

async fn state(State(shared): State<Arc<Shared>>, Query(query): Query<StateQuery>) -> Response {
    let store = lock(&shared.store);
    if query.full {
        axum::Json(serde_json::to_value(&*store).unwrap_or(Value::Null)).into_response()
    } else {
        axum::Json(store.summary()).into_response()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalIdsRequest {
    kind: String,
    id: String,
    external_ids: Vec<Value>,
}

async fn external_ids(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request: ExternalIdsRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return admin_error(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let mut store = lock(&shared.store);
    match store.set_external_ids(&request.kind, &request.id, request.external_ids) {
        Ok(()) => {
            shared.snapshot(&store);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => admin_error(StatusCode::BAD_REQUEST, error.message),
    }
}

async fn get_rules(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.store).rules()).into_response()
}

async fn put_rules(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Rules>(&body) {
        Ok(rules) => {
            lock(&shared.store).set_rules(rules);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => admin_error(StatusCode::BAD_REQUEST, format!("invalid rules: {error}")),
    }
}

#[derive(Deserialize)]
struct StatusRequest {
    status: String,
}

async fn user_status(State(shared): State<Arc<Shared>>, Path(user_id): Path<String>, body: Bytes) -> Response {
    let request: StatusRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return admin_error(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let mut store = lock(&shared.store);
    match store.set_user_status(&user_id, &request.status) {
        Ok(()) => {
            shared.snapshot(&store);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) if error.kind == "ResourceNotFoundException" => admin_error(StatusCode::NOT_FOUND, error.message),
        Err(error) => admin_error(StatusCode::BAD_REQUEST, error.message),
    }
}
