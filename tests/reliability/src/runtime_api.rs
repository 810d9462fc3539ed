//! A fake Lambda Runtime API on 127.0.0.1, and the runtime probe binary run against it:
//! the functions' `main.rs` wiring under the real `lambda_runtime`, so the suite can see
//! what the runtime does with a payload before the handler runs, and what it logs.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// What the runtime posted back for one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub request_id: String,
    /// `response`, `error` or `init-error`.
    pub kind: String,
    /// `Lambda-Runtime-Function-Error-Type`, on errors.
    pub error_header: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// `errorType` of an error reply.
    pub fn error_type(&self) -> Option<String> {
        self.json().get("errorType").and_then(|v| v.as_str()).map(str::to_owned)
    }
}

struct Shared {
    pending: tokio::sync::Mutex<mpsc::Receiver<(String, Vec<u8>)>>,
    replies: mpsc::Sender<Reply>,
}

/// The fake Runtime API.
#[derive(Debug)]
pub struct FakeRuntime {
    pub addr: SocketAddr,
    events: mpsc::Sender<(String, Vec<u8>)>,
    replies: tokio::sync::Mutex<mpsc::Receiver<Reply>>,
    stop: Option<oneshot::Sender<()>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl FakeRuntime {
    pub async fn start() -> Self {
        let (events, pending) = mpsc::channel(16);
        let (reply_tx, replies) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            pending: tokio::sync::Mutex::new(pending),
            replies: reply_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port");
        let addr = listener.local_addr().expect("bound");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            events,
            replies: tokio::sync::Mutex::new(replies),
            stop: Some(stop),
            next_id: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Hands the runtime one payload (raw bytes, as Lambda would) and waits for its
    /// reply; `None` when none came within `wait` (the runtime died or hung).
    pub async fn invoke(&self, payload: &[u8], wait: Duration) -> Option<Reply> {
        let n = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("req-{n}");
        self.events.send((id.clone(), payload.to_vec())).await.ok()?;
        let mut replies = self.replies.lock().await;
        let reply = tokio::time::timeout(wait, replies.recv()).await.ok()??;
        assert_eq!(reply.request_id, id, "replies come in order");
        Some(reply)
    }
}

impl Drop for FakeRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let Some((id, body)) = shared.pending.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = SystemTime::now() + Duration::from_secs(30);
    let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:eu-west-1:111122223333:function:probe".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    response
}

async fn forward(shared: &Shared, id: String, kind: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let reply = Reply {
        request_id: id,
        kind: kind.to_owned(),
        error_header: headers
            .get("lambda-runtime-function-error-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(body).into_owned(),
    };
    let _ = shared.replies.send(reply).await;
    (StatusCode::ACCEPTED, "{\"status\":\"OK\"}").into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forward(&shared, id, "response", &headers, &body).await
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    forward(&shared, id, "error", &headers, &body).await
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    forward(&shared, String::new(), "init-error", &headers, &body).await
}

/// The runtime probe process: one function's `main.rs` wiring against `runtime`.
#[derive(Debug)]
pub struct Probe {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Probe {
    /// Starts `exe` (the `turnstile-runtime-probe` binary) for `function` with Lambda's
    /// environment, JSON logs, and the Identity Store at `endpoint`; `env` adds or
    /// replaces variables.
    pub fn spawn(exe: &Path, function: &str, runtime: SocketAddr, endpoint: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(exe);
        command
            .arg(function)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", function)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("IDENTITY_STORE_ID", "d-1234567890")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "emulator")
            .env("AWS_SECRET_ACCESS_KEY", "emulator")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_IDENTITYSTORE", endpoint)
            .env("BACKOFF_BASE_MS", "5")
            .env("BACKOFF_MAX_MS", "50")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the runtime probe starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = Arc::clone(&lines);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    lines
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(line);
                }
            });
        }
        Self { child, lines }
    }

    /// Every line the process wrote so far (stdout and stderr).
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the process has ended, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops the process (by its own handle) and waits for it.
    pub async fn stop(mut self) -> Vec<String> {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        // Let the readers drain what was written.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.lines()
    }
}
