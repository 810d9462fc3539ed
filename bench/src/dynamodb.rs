//! The ledger's DynamoDB calls, counted: a forwarding proxy on 127.0.0.1 in front of
//! moto's server, which itself keeps no count. The functions' `AWS_ENDPOINT_URL_DYNAMODB`
//! points here; every request goes on to moto unchanged (moto checks no signature, so
//! the Host it was signed for does not matter) and is counted by its `X-Amz-Target`
//! operation.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// DynamoDB's JSON protocol names the operation in this header, after this prefix.
const TARGET: &str = "x-amz-target";
const PREFIX: &str = "DynamoDB_20120810.";

/// Calls per DynamoDB operation.
pub type Counts = BTreeMap<String, u64>;

struct Shared {
    upstream: SocketAddr,
    counts: Mutex<Counts>,
}

/// The proxy; stopped when dropped.
pub struct CountingProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl CountingProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the DynamoDB call counter: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            upstream,
            counts: Mutex::new(Counts::new()),
        });
        let app = Router::new().fallback(forward).with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The calls counted since the last take, which start a new count.
    pub fn take(&self) -> Counts {
        std::mem::take(&mut *self.shared.counts.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl std::fmt::Debug for CountingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountingProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts the request and relays it to moto on a connection of its own (closed after
/// the reply, so that the reply is the rest of the stream).
async fn forward(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let operation = headers
        .get(TARGET)
        .and_then(|v| v.to_str().ok())
        .map_or("(no operation)", |t| t.strip_prefix(PREFIX).unwrap_or(t))
        .to_owned();
    *shared
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(operation)
        .or_default() += 1;
    match relay(shared.upstream, &headers, &body).await {
        Ok(reply) => reply,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("the DynamoDB call counter: {e}")).into_response(),
    }
}

async fn relay(upstream: SocketAddr, headers: &HeaderMap, body: &[u8]) -> std::io::Result<Response> {
    let mut head = format!("POST / HTTP/1.1\r\nHost: {upstream}\r\n");
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "host" | "connection" | "content-length" | "transfer-encoding"
        ) {
            if let Ok(value) = value.to_str() {
                let _ = write!(head, "{name}: {value}\r\n");
            }
        }
    }
    let _ = write!(head, "Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let mut stream = TcpStream::connect(upstream).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_reply(&raw).ok_or_else(|| std::io::Error::other("moto's reply is not HTTP/1.1"))
}

/// An HTTP/1.1 reply with its body delimited by the closed connection or its
/// Content-Length (moto's server sends no chunked replies).
fn parse_reply(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let mut reply = Response::builder().status(status);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).ok()?;
        if matches!(name.as_str(), "connection" | "content-length" | "transfer-encoding") {
            continue;
        }
        reply = reply.header(name, HeaderValue::from_str(value.trim()).ok()?);
    }
    reply.body(axum::body::Body::from(raw[end + 4..].to_vec())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_keeps_its_status_headers_and_body() {
        let raw = b"HTTP/1.1 400 BAD REQUEST\r\nContent-Type: application/x-amz-json-1.0\r\n\
                    Content-Length: 2\r\nConnection: close\r\n\r\n{}";
        let reply = parse_reply(raw).unwrap();
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.headers().get("content-type").unwrap(),
            "application/x-amz-json-1.0"
        );
        assert!(reply.headers().get("connection").is_none());
    }

    #[test]
    fn a_reply_without_a_blank_line_is_refused() {
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 0").is_none());
    }
}
