//! A keep-alive client for the emulator's protocol, to seed stores quickly.
//!
//! The emulator's own `Admin` client opens a connection per request, which is right for
//! a few admin calls; seeding tens of thousands of users that way would fill the
//! loopback port range with TIME_WAIT sockets.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::STORE_ID;

/// Parallel connections used for seeding.
const WORKERS: usize = 16;

/// One persistent HTTP/1.1 connection.
struct Conn {
    addr: SocketAddr,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    const fn new(addr: SocketAddr) -> Self {
        Self { addr, stream: None }
    }

    async fn call(&mut self, operation: &str, body: &Value) -> std::io::Result<(u16, Value)> {
        // One retry on a fresh connection: the server may have closed an idle one.
        if let Ok(reply) = self.try_call(operation, body).await {
            return Ok(reply);
        }
        self.stream = None;
        self.try_call(operation, body).await
    }

    async fn try_call(&mut self, operation: &str, body: &Value) -> std::io::Result<(u16, Value)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(BufReader::new(stream));
        }
        let stream = self.stream.as_mut().expect("connected above");
        let payload = body.to_string();
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSIdentityStore.{operation}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            payload.len()
        );
        stream.get_mut().write_all(head.as_bytes()).await?;
        stream.get_mut().write_all(payload.as_bytes()).await?;
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = None;
        loop {
            line.clear();
            stream.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.ok_or_else(|| std::io::Error::other("reply without Content-Length"))?;
        let mut raw = vec![0; length];
        stream.read_exact(&mut raw).await?;
        Ok((status, serde_json::from_slice(&raw).unwrap_or(Value::Null)))
    }
}

/// Runs `make(item)` requests for every item over [`WORKERS`] connections, in order of
/// the results.
async fn run_all<T: Send + 'static>(
    addr: SocketAddr,
    operation: &'static str,
    items: Vec<T>,
    make: fn(&T) -> Value,
    pick: fn(&Value) -> Option<String>,
) -> std::io::Result<Vec<String>> {
    let total = items.len();
    let mut chunks: Vec<Vec<(usize, T)>> = (0..WORKERS).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        chunks[i % WORKERS].push((i, item));
    }
    let mut tasks = Vec::new();
    for chunk in chunks {
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut out = Vec::with_capacity(chunk.len());
            for (i, item) in chunk {
                let body = make(&item);
                let (status, reply) = conn.call(operation, &body).await?;
                if status != 200 {
                    return Err(std::io::Error::other(format!("{operation} failed ({status}): {reply}")));
                }
                out.push((i, pick(&reply).unwrap_or_default()));
            }
            Ok::<_, std::io::Error>(out)
        }));
    }
    let mut results = vec![String::new(); total];
    for task in tasks {
        for (i, id) in task.await.map_err(std::io::Error::other)?? {
            results[i] = id;
        }
    }
    Ok(results)
}

fn string(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Creates users with these userNames; returns their ids in the same order.
pub async fn create_users(addr: SocketAddr, names: Vec<String>) -> std::io::Result<Vec<String>> {
    run_all(
        addr,
        "CreateUser",
        names,
        |name| {
            json!({
                "IdentityStoreId": STORE_ID,
                "UserName": name,
                "DisplayName": name,
                "Name": { "GivenName": "Bench", "FamilyName": name },
                "Emails": [{ "Value": format!("{name}@example.com"), "Type": "work", "Primary": true }],
            })
        },
        |reply| string(reply, "UserId"),
    )
    .await
}

/// Creates groups (displayName, description); returns their ids.
pub async fn create_groups(addr: SocketAddr, groups: Vec<(String, Option<String>)>) -> std::io::Result<Vec<String>> {
    run_all(
        addr,
        "CreateGroup",
        groups,
        |(name, description)| {
            let mut body = json!({ "IdentityStoreId": STORE_ID, "DisplayName": name });
            if let Some(description) = description {
                body["Description"] = json!(description);
            }
            body
        },
        |reply| string(reply, "GroupId"),
    )
    .await
}

/// Creates memberships (group id, user id).
pub async fn create_memberships(addr: SocketAddr, pairs: Vec<(String, String)>) -> std::io::Result<()> {
    run_all(
        addr,
        "CreateGroupMembership",
        pairs,
        |(group, user)| json!({ "IdentityStoreId": STORE_ID, "GroupId": group, "MemberId": { "UserId": user } }),
        |reply| string(reply, "MembershipId"),
    )
    .await
    .map(drop)
}

/// Every item of a listing (all pages of `operation`, 100 at a time, under `key`).
async fn list_all(addr: SocketAddr, operation: &str, mut body: Value, key: &str) -> std::io::Result<Vec<Value>> {
    let mut conn = Conn::new(addr);
    let mut items = Vec::new();
    body["MaxResults"] = json!(100);
    loop {
        let (status, mut reply) = conn.call(operation, &body).await?;
        if status != 200 {
            return Err(std::io::Error::other(format!("{operation} failed: {reply}")));
        }
        if let Some(Value::Array(page)) = reply.get_mut(key).map(Value::take) {
            items.extend(page);
        }
        match string(&reply, "NextToken") {
            Some(token) => body["NextToken"] = json!(token),
            None => return Ok(items),
        }
    }
}

/// Every member's user id of a group (ListGroupMemberships, all pages).
pub async fn members_of(addr: SocketAddr, group: &str) -> std::io::Result<Vec<String>> {
    let body = json!({ "IdentityStoreId": STORE_ID, "GroupId": group });
    let memberships = list_all(addr, "ListGroupMemberships", body, "GroupMemberships").await?;
    Ok(memberships
        .iter()
        .filter_map(|m| m.pointer("/MemberId/UserId").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

/// How many users the store holds (ListUsers, all pages).
pub async fn user_count(addr: SocketAddr) -> std::io::Result<usize> {
    let users = list_all(addr, "ListUsers", json!({ "IdentityStoreId": STORE_ID }), "Users").await?;
    Ok(users.len())
}
