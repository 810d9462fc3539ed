//! The joiner, re-onboard and leaver scenarios again with the ledger on: moto's DynamoDB
//! (started here on 127.0.0.1, stopped when the runs end) holds the table, and each event
//! comes in the EventBridge envelope, whose time and id the ledger orders and checks.
//! The Identity Store budgets are those without the ledger (its calls go to DynamoDB); a
//! redelivery must be `duplicate` with no Identity Store call at all.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use turnstile_emulator::moto::Moto;

use crate::Run;
use crate::client;
use crate::pace::Pace;
use crate::progress;
use crate::scenarios::{self, Bench, Invocation, Who, check, joiner};

/// The table's name, as the template's default would give it in a stack.
const TABLE: &str = "turnstile-ledger";
/// The region every function process runs in (its environment).
const REGION: &str = "eu-west-1";

/// An EventBridge envelope around `detail`.
fn envelope(detail_type: &str, id: &str, time: &str, detail: Value) -> Value {
    let mut envelope = json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "hr.bench",
        "account": "111122223333", "time": time, "region": REGION, "resources": []
    });
    envelope["detail"] = detail;
    envelope
}

/// A roster sync request as its event.
fn roster_event(id: &str, time: &str, request: Value) -> Value {
    envelope("Roster Changed", id, time, request)
}

/// Creates the ledger table on moto with DynamoDB's JSON protocol (moto reads the region
/// from the credential scope and checks no signature).
async fn create_table(addr: SocketAddr) -> Result<(), String> {
    let body = json!({
        "TableName": TABLE,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            { "AttributeName": "pk", "AttributeType": "S" },
            { "AttributeName": "sk", "AttributeType": "S" }
        ],
        "KeySchema": [
            { "AttributeName": "pk", "KeyType": "HASH" },
            { "AttributeName": "sk", "KeyType": "RANGE" }
        ]
    })
    .to_string();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.CreateTable\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=bench/20261203/{REGION}/dynamodb/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("moto: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("moto: {e}"))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .await
        .map_err(|e| format!("moto: {e}"))?;
    if reply.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "CreateTable on moto: {}",
            reply.lines().last().unwrap_or_default()
        ))
    }
}

/// The runs: a joiner into the existing groups `names`, its redelivery, a newer
/// unchanged onboarding, a leaver in `leaver_memberships` groups, and roster syncs
/// ([`scenarios::ledger_syncs`], time compressed past `max_run_secs`).
pub async fn lifecycle(
    bench: &mut Bench,
    names: &[String],
    leaver_memberships: usize,
    pace: Pace,
    max_run_secs: f64,
) -> Result<Vec<Run>, String> {
    let moto_server = std::path::Path::new(".venv/bin/moto_server");
    if !moto_server.is_file() {
        return Err(format!(
            "{} is missing: run ./scripts/bootstrap.sh (make bench does)",
            moto_server.display()
        ));
    }
    let moto = Moto::start().await;
    create_table(moto.addr).await?;
    let ledger = [
        ("LEDGER_TABLE", TABLE.to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto.endpoint()),
    ];
    bench.reset().await?;
    client::create_groups(bench.addr, names.iter().map(|n| (n.clone(), None)).collect())
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;
    let g = names.len() as u64;
    let onboard = bench.programs.native("onboard-user");
    let hired = envelope(
        "Employee Hired",
        "bench-hire",
        "2026-12-01T09:00:00Z",
        joiner("joiner.ledger", names),
    );
    // (title, event, budget, no writes, the status it must answer)
    let steps = [
        (
            format!("Joiner, G = {g} existing groups, ledger on"),
            hired.clone(),
            1 + 2 * g,
            false,
            "created",
        ),
        (
            "The joiner redelivered (duplicate), ledger on".to_owned(),
            hired,
            0,
            true,
            "duplicate",
        ),
        (
            format!("Unchanged re-onboard, G = {g}, ledger on"),
            envelope(
                "Employee Updated",
                "bench-again",
                "2026-12-02T09:00:00Z",
                joiner("joiner.ledger", names),
            ),
            g + 4,
            true,
            "unchanged",
        ),
    ];
    let mut runs = Vec::new();
    for (i, (title, event, budget, no_writes, status)) in steps.into_iter().enumerate() {
        progress(&format!("  {title}"));
        let (mut run, result) = bench
            .invoke(Invocation {
                id: format!("ledger-onboard-{i}"),
                title,
                who: Who::Turnstile,
                program: &onboard,
                pace,
                env: bench.env(pace, &ledger),
                event,
                expected_calls: 0,
                budget: Some(budget),
                expect_no_writes: no_writes,
                shape: None,
            })
            .await;
        if let Some(result) = result {
            check(
                &mut run,
                result.get("status").and_then(Value::as_str) == Some(status),
                || format!("expected status {status}: {result}"),
            );
        }
        runs.push(run);
    }

    runs.push(
        scenarios::leaver(
            bench,
            leaver_memberships,
            pace,
            ("leaver-ledger", ", ledger on"),
            &ledger,
            |request| envelope("Employee Terminated", "bench-leave", "2026-12-03T09:00:00Z", request),
        )
        .await?,
    );
    runs.extend(scenarios::ledger_syncs(bench, max_run_secs, &ledger, roster_event).await?);
    drop(moto);
    Ok(runs)
}
