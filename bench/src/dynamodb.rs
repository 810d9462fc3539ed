//! The ledger's DynamoDB calls, counted: a forwarding proxy on 127.0.0.1 in front of
//! moto's server, which itself keeps no count. The functions' `AWS_ENDPOINT_URL_DYNAMODB`
//! points here; every request goes on to moto unchanged (moto checks no signature, so
//! the Host it was signed for does not matter) and is counted by its `X-Amz-Target`
//! operation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// DynamoDB's JSON protocol names the operation in this header, after this prefix.
const TARGET: &str = "x-amz-target";
const PREFIX: &str = "DynamoDB_20120810.";

/// Calls per DynamoDB operation.
pub type Counts = BTreeMap<String, u64>;

struct Shared {
    upstream: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
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
            client: client(),
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

/// The HTTP/1.1 client the counter forwards with (moto's server speaks plain HTTP).
fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Creates the ledger's table (string `pk` and `sk`, on demand, as the template's) on
/// moto at `upstream`, with DynamoDB's JSON protocol: moto reads the region from the
/// credential scope and checks no signature.
pub async fn create_table(upstream: SocketAddr, table: &str, region: &str) -> Result<(), String> {
    let body = serde_json::json!({
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            { "AttributeName": "pk", "AttributeType": "S" },
            { "AttributeName": "sk", "AttributeType": "S" }
        ],
        "KeySchema": [
            { "AttributeName": "pk", "KeyType": "HASH" },
            { "AttributeName": "sk", "KeyType": "RANGE" }
        ]
    });
    let request = axum::http::Request::post(format!("http://{upstream}/"))
        .header(CONTENT_TYPE, "application/x-amz-json-1.0")
        .header(TARGET, format!("{PREFIX}CreateTable"))
        .header(
            AUTHORIZATION,
            format!(
                "AWS4-HMAC-SHA256 Credential=bench/20261203/{region}/dynamodb/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("CreateTable on moto: {e}"))?;
    let reply = client().request(request).await.map_err(|e| format!("moto: {e}"))?;
    let status = reply.status();
    if status.is_success() {
        return Ok(());
    }
    let text = reply
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("moto: {e}"))?
        .to_bytes();
    Err(format!(
        "CreateTable on moto: {status}: {}",
        String::from_utf8_lossy(&text)
    ))
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

/// The operation a request names, as counted.
fn operation(request: &Request) -> String {
    request
        .headers()
        .get(TARGET)
        .and_then(|v| v.to_str().ok())
        .map_or("(no operation)", |t| t.strip_prefix(PREFIX).unwrap_or(t))
        .to_owned()
}

/// Counts the request and relays it to moto.
async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    *shared
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(operation(&request))
        .or_default() += 1;
    match relay(&shared, request).await {
        Ok(reply) => reply,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("the DynamoDB call counter: {e}")).into_response(),
    }
}

async fn relay(shared: &Shared, request: Request) -> Result<Response, String> {
    let (mut parts, body) = request.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = format!("http://{}{path}", shared.upstream)
        .parse()
        .map_err(|e| format!("{e}"))?;
    parts.headers.remove(HOST);
    let reply = shared
        .client
        .request(axum::http::Request::from_parts(parts, Full::new(body)))
        .await
        .map_err(|e| e.to_string())?;
    let (parts, body) = reply.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Response::from_parts(parts, Body::from(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_by_the_operation_its_target_names() {
        let request = Request::builder()
            .header(TARGET, "DynamoDB_20120810.TransactWriteItems")
            .body(Body::empty())
            .unwrap();
        assert_eq!(operation(&request), "TransactWriteItems");
        let unnamed = Request::builder().body(Body::empty()).unwrap();
        assert_eq!(operation(&unnamed), "(no operation)");
    }
}
