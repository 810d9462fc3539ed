//! The joiner, re-onboard and leaver scenarios again with the ledger on: moto's DynamoDB
//! (started here on 127.0.0.1, stopped when the runs end) holds the table, and each event
//! comes in the EventBridge envelope, whose time and id the ledger orders and checks.
//! The Identity Store budgets are those without the ledger (its calls go to DynamoDB,
//! through [`CountingProxy`], and have budgets of their own); a redelivery must be
//! `duplicate` with no Identity Store call at all.

use serde_json::{Value, json};
use turnstile_emulator::moto::Moto;

use crate::Run;
use crate::client;
use crate::dynamodb::{self, CountingProxy};
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

/// The runs: a joiner into the existing groups `names`, its redelivery, a newer
/// unchanged onboarding, a leaver in `leaver_memberships` groups, a late hire of the
/// leaver and their re-hire, and roster syncs ([`scenarios::ledger_syncs`], time
/// compressed past `max_run_secs`); each with its DynamoDB calls counted.
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
    dynamodb::create_table(moto.addr, TABLE, REGION).await?;
    let counter = CountingProxy::start(moto.addr).await?;
    let ledger = [
        ("LEDGER_TABLE", TABLE.to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", counter.endpoint()),
    ];
    bench.ledger_counter = Some(counter);
    let runs = runs(bench, names, leaver_memberships, pace, max_run_secs, &ledger).await;
    bench.ledger_counter = None;
    drop(moto);
    runs
}

/// [`lifecycle`]'s runs, against the ledger in `ledger` (the functions' environment).
async fn runs(
    bench: &mut Bench,
    names: &[String],
    leaver_memberships: usize,
    pace: Pace,
    max_run_secs: f64,
    ledger: &[(&str, String)],
) -> Result<Vec<Run>, String> {
    bench.reset().await?;
    client::create_groups(bench.addr, names.iter().map(|n| (n.clone(), None)).collect())
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;
    let g = names.len() as u64;
    let hired = envelope(
        "Employee Hired",
        "bench-hire",
        "2026-12-01T09:00:00Z",
        joiner("joiner.ledger", names),
    );
    let mut runs = Vec::new();
    for step in [
        Step {
            id: "ledger-onboard-0",
            title: format!("Joiner, G = {g} existing groups, ledger on"),
            event: hired.clone(),
            budget: 1 + 2 * g,
            no_writes: false,
            status: "created",
        },
        Step {
            id: "ledger-onboard-1",
            title: "The joiner redelivered (duplicate), ledger on".to_owned(),
            event: hired,
            budget: 0,
            no_writes: true,
            status: "duplicate",
        },
        Step {
            id: "ledger-onboard-2",
            title: format!("Unchanged re-onboard, G = {g}, ledger on"),
            event: envelope(
                "Employee Updated",
                "bench-again",
                "2026-12-02T09:00:00Z",
                joiner("joiner.ledger", names),
            ),
            budget: g + 4,
            no_writes: true,
            status: "unchanged",
        },
    ] {
        runs.push(onboarding(bench, pace, ledger, step).await);
    }

    let mut leave = scenarios::leaver(
        bench,
        leaver_memberships,
        pace,
        ("leaver-ledger", ", ledger on"),
        ledger,
        |request| envelope("Employee Terminated", "bench-leave", "2026-12-03T09:00:00Z", request),
    )
    .await?;
    leave.ledger_budget = Some(USER_EVENT);
    runs.push(leave);
    runs.extend(after_the_leave(bench, pace, ledger, names.len(), leaver_memberships).await);
    runs.extend(scenarios::ledger_syncs(bench, max_run_secs, ledger, roster_event).await?);
    Ok(runs)
}

/// After the leave of [`scenarios::leaver`]: a late hire of the leaver, `stale`, then
/// their re-hire into `groups` of the groups the leave took from them.
async fn after_the_leave(
    bench: &mut Bench,
    pace: Pace,
    ledger: &[(&str, String)],
    groups: usize,
    leaver_memberships: usize,
) -> Vec<Run> {
    // The leaver's own groups (the seeding replaced the joiner's store).
    let theirs: Vec<String> = (1..=groups).map(|i| format!("dept-{i:03}")).collect();
    let hire = |id: &str, time: &str| envelope("Employee Hired", id, time, joiner("leaver", &theirs));
    let (g, m) = (groups as u64, leaver_memberships as u64);
    let steps = [
        Step {
            id: "ledger-late-hire",
            title: format!("A late Employee Hired of the leaver, G = {g} (stale), ledger on"),
            event: hire("bench-late-hire", "2026-12-02T12:00:00Z"),
            budget: 0,
            no_writes: true,
            status: "stale",
        },
        // The leave took M memberships: the re-hire reads those groups (their names key
        // the ledger) to restore what a newer roster decided; none did here.
        Step {
            id: "ledger-rehire",
            title: format!("The leaver re-hired after the leave took M = {m}, G = {g}, ledger on"),
            event: hire("bench-rehire", "2026-12-06T09:00:00Z"),
            budget: 1 + 2 * g + m,
            no_writes: false,
            status: "created",
        },
    ];
    let mut runs = Vec::new();
    for step in steps {
        runs.push(onboarding(bench, pace, ledger, step).await);
    }
    runs
}

/// The most DynamoDB calls a user event may add (issue 11).
const USER_EVENT: u64 = 2;

/// One onboard-user event of [`runs`]: its Identity Store budget, whether it must write
/// nothing, and the status it must answer.
struct Step {
    id: &'static str,
    title: String,
    event: Value,
    budget: u64,
    no_writes: bool,
    status: &'static str,
}

async fn onboarding(bench: &mut Bench, pace: Pace, ledger: &[(&str, String)], step: Step) -> Run {
    progress(&format!("  {}", step.title));
    let onboard = bench.programs.native("onboard-user");
    let (mut run, result) = bench
        .invoke(Invocation {
            id: step.id.to_owned(),
            title: step.title,
            who: Who::Turnstile,
            program: &onboard,
            pace,
            env: bench.env(pace, ledger),
            event: step.event,
            expected_calls: 0,
            budget: Some(step.budget),
            expect_no_writes: step.no_writes,
            shape: None,
        })
        .await;
    if let Some(result) = result {
        check(
            &mut run,
            result.get("status").and_then(Value::as_str) == Some(step.status),
            || format!("expected status {}: {result}", step.status),
        );
    }
    run.ledger_budget = Some(USER_EVENT);
    run
}
