//! A minimal stand-in for the Lambda Runtime API, on 127.0.0.1.
//!
//! It serves what a custom runtime calls (`GET /2018-06-01/runtime/invocation/next`,
//! `POST .../invocation/{id}/response`, `POST .../invocation/{id}/error`,
//! `POST .../init/error`) for one function process, and records when the process first
//! asked for work: the end of its init phase.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The Lambda maximum: a benchmark invocation never runs into its deadline.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);

/// What the function sent back for one invocation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The `response` body, or the error object when `is_error`.
    pub body: serde_json::Value,
    pub is_error: bool,
    /// From handing the event out on `next` to the function's answer: the invocation's
    /// duration as Lambda bills it.
    pub duration: Duration,
}

struct Pending {
    event: serde_json::Value,
    done: oneshot::Sender<Outcome>,
}

struct Shared {
    first_next: watch::Sender<Option<Instant>>,
    queue: Mutex<mpsc::UnboundedReceiver<(String, Pending)>>,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Outcome>)>>,
    init_error: watch::Sender<Option<String>>,
}

/// One stand-in, serving one function process.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    submit: mpsc::UnboundedSender<(String, Pending)>,
    next_id: u64,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let (submit, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            first_next: watch::channel(None).0,
            queue: Mutex::new(queue),
            in_flight: Mutex::new(HashMap::new()),
            init_error: watch::channel(None).0,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&shared));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            submit,
            next_id: 0,
            task,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Waits until the process first asks for work and returns when it did, or the
    /// init error it reported.
    pub async fn first_next(&self, timeout: Duration) -> Result<Instant, String> {
        let mut asked = self.shared.first_next.subscribe();
        let mut failed = self.shared.init_error.subscribe();
        let wait = async {
            loop {
                if let Some(at) = *asked.borrow_and_update() {
                    return Ok(at);
                }
                if let Some(e) = failed.borrow_and_update().clone() {
                    return Err(format!("init error: {e}"));
                }
                tokio::select! {
                    changed = asked.changed() => if changed.is_err() { return Err("stand-in stopped".into()) },
                    changed = failed.changed() => if changed.is_err() { return Err("stand-in stopped".into()) },
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| Err(format!("no request for work within {} s", timeout.as_secs())))
    }

    /// Queues one event and waits for the function's answer.
    pub async fn invoke(&mut self, event: serde_json::Value) -> Result<Outcome, String> {
        self.next_id += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.next_id);
        let (done, answer) = oneshot::channel();
        self.submit
            .send((id, Pending { event, done }))
            .map_err(|_| "stand-in stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the function never answered (it exited?)".to_owned())
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.first_next.send_if_modified(|at| {
        if at.is_none() {
            *at = Some(Instant::now());
            true
        } else {
            false
        }
    });
    let Some((id, pending)) = shared.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now() + FUNCTION_TIMEOUT;
    let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id.clone());
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:111122223333:function:bench".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    let body = pending.event.to_string();
    shared.in_flight.lock().await.insert(id, (Instant::now(), pending.done));
    (StatusCode::OK, headers, body).into_response()
}

async fn finish(shared: &Shared, id: &str, body: &Bytes, is_error: bool) -> StatusCode {
    let Some((started, done)) = shared.in_flight.lock().await.remove(id) else {
        return StatusCode::BAD_REQUEST;
    };
    let duration = started.elapsed();
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into()));
    let _ = done.send(Outcome {
        body,
        is_error,
        duration,
    });
    StatusCode::ACCEPTED
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&shared, &id, &body, false).await
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    finish(&shared, &id, &body, true).await
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared
        .init_error
        .send(Some(String::from_utf8_lossy(&body).into_owned()));
    StatusCode::ACCEPTED
}
