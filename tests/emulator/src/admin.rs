//! A client for the admin API (and raw protocol requests), for tests, benchmarks and
//! scripts in Rust. Plain HTTP/1.1 over loopback; no HTTP client dependency needed.

use std::fmt::Write as _;
use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::snapshot::Snapshot;
use crate::{Counters, FaultConfig, Rules};

/// A raw HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Talks to one emulator.
#[derive(Debug, Clone, Copy)]
pub struct Admin {
    pub addr: SocketAddr,
}

impl Admin {
    pub const fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// Sends one request and reads the whole reply.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut stream = TcpStream::connect(self.addr).await?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        parse(&raw).ok_or_else(|| std::io::Error::other("malformed HTTP reply"))
    }

    /// An Identity Store call by target, with a JSON body.
    pub async fn call(&self, operation: &str, body: &Value) -> std::io::Result<Reply> {
        let target = format!("AWSIdentityStore.{operation}");
        self.request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", &target),
            ],
            body.to_string().as_bytes(),
        )
        .await
    }

    pub async fn counters(&self) -> std::io::Result<Counters> {
        let reply = self.request("GET", "/_admin/counters", &[], b"").await?;
        serde_json::from_str(&reply.body).map_err(std::io::Error::other)
    }

    pub async fn reset_counters(&self) -> std::io::Result<()> {
        self.request("DELETE", "/_admin/counters", &[], b"").await.map(drop)
    }

    /// Empties the store and the counters.
    pub async fn reset(&self) -> std::io::Result<()> {
        self.request("POST", "/_admin/reset", &[], b"").await.map(drop)
    }

    pub async fn set_faults(&self, config: &FaultConfig) -> std::io::Result<()> {
        let body = serde_json::to_vec(config).map_err(std::io::Error::other)?;
        let reply = self
            .request("PUT", "/_admin/faults", &[("Content-Type", "application/json")], &body)
            .await?;
        if reply.status == 204 {
            Ok(())
        } else {
            Err(std::io::Error::other(reply.body))
        }
    }

    /// The readable summary: users, groups and their members by userName.
    pub async fn state(&self) -> std::io::Result<Value> {
        Ok(self.request("GET", "/_admin/state", &[], b"").await?.json())
    }

    /// The store by names (users, groups, memberships and any duplicates), to compare
    /// two runs.
    pub async fn snapshot(&self) -> std::io::Result<Snapshot> {
        let reply = self.request("GET", "/_admin/state?full=true", &[], b"").await?;
        Ok(Snapshot::from_full_state(&reply.json()))
    }

    /// Gives a user or group (`kind`) ExternalIds.
    pub async fn set_external_ids(&self, kind: &str, id: &str, external_ids: Value) -> std::io::Result<Reply> {
        let body = serde_json::json!({ "kind": kind, "id": id, "externalIds": external_ids });
        self.request(
            "POST",
            "/_admin/external-ids",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }

    /// The service rules in force (unique emails, case-insensitive names, ...).
    pub async fn rules(&self) -> std::io::Result<Rules> {
        let reply = self.request("GET", "/_admin/rules", &[], b"").await?;
        serde_json::from_str(&reply.body).map_err(std::io::Error::other)
    }

    /// Replaces the service rules; the store is re-indexed under them.
    pub async fn set_rules(&self, rules: &Rules) -> std::io::Result<()> {
        let body = serde_json::to_vec(rules).map_err(std::io::Error::other)?;
        let reply = self
            .request("PUT", "/_admin/rules", &[("Content-Type", "application/json")], &body)
            .await?;
        if reply.status == 204 {
            Ok(())
        } else {
            Err(std::io::Error::other(reply.body))
        }
    }

    /// Sets a user's `UserStatus` (`"ENABLED"` or `"DISABLED"`), as an operator does in
    /// the console: 204 when done, 404 for an unknown user, 400 for another status.
    pub async fn set_user_status(&self, user_id: &str, status: &str) -> std::io::Result<Reply> {
        let body = serde_json::json!({ "status": status });
        self.request(
            "PUT",
            &format!("/_admin/users/{user_id}/status"),
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await
    }
    /// Arms a hold: the next request to `operation` waits, before it is applied, until
    /// [`Self::release`]. One hold at a time.
    pub async fn hold(&self, operation: &str) -> std::io::Result<()> {
        let body = serde_json::json!({ "operation": operation });
        let reply = self
            .request(
                "PUT",
                "/_admin/hold",
                &[("Content-Type", "application/json")],
                body.to_string().as_bytes(),
            )
            .await?;
        if reply.status == 204 {
            Ok(())
        } else {
            Err(std::io::Error::other(reply.body))
        }
    }

    /// Waits until the held request has arrived (polling the admin API: a condition,
    /// not a duration, so it holds on a machine of any speed).
    pub async fn until_held(&self) -> std::io::Result<()> {
        loop {
            let reply = self.request("GET", "/_admin/hold", &[], b"").await?;
            match reply.json().get("waiting") {
                Some(Value::Bool(true)) => return Ok(()),
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
                None => return Err(std::io::Error::other("no hold is armed")),
            }
        }
    }

    /// Lets the held request (and any later one) through and disarms the hold.
    pub async fn release(&self) -> std::io::Result<()> {
        self.request("DELETE", "/_admin/hold", &[], b"").await.map(drop)
    }
}

fn parse(raw: &[u8]) -> Option<Reply> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}
