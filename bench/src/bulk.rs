//! The bulk load through the SQS path: thousands of joiners and a hundred leavers
//! delivered at once, each function's queue drained by its execution environments in
//! batches as Lambda's event source mapping would, against the emulator's per-API quota.
//!
//! The harness stands in for the queues and the event source mappings: each
//! environment takes up to `BatchSize` messages, invokes its function process with an
//! SQS batch event, deletes what the answer does not name, and returns the named
//! records to the queue (at once: a real queue would hold them for its visibility
//! timeout) until their fifth receive, after which they go to the dead-letter queue with
//! the errorType the function logged for them.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use turnstile_emulator::ThrottleShape;
use turnstile_emulator::admin::Admin;
use turnstile_emulator::snapshot::Snapshot;

use crate::STORE_ID;
use crate::calls::{Calls, thousands, to_f64};
use crate::client;
use crate::pace::{Pace, QUOTA_TPS};
use crate::plot::{self, Series};
use crate::process::{Function, Program, lambda_env};
use crate::progress;

/// The template's queue setting (infra/template.yaml).
const MAX_RECEIVE_COUNT: u32 = 5;
/// Groups each joiner is given (they exist beforehand).
const GROUPS: [&str; 3] = ["Bulk Engineering", "Bulk All Staff", "Bulk Office"];

/// How one function is deployed in a run: its floor and ceiling at the real quota and
/// how many environments drain its queue at once.
#[derive(Debug, Clone, Copy)]
pub struct Deployment {
    pub floor: u32,
    pub ceiling: u32,
    pub environments: usize,
    /// Records per invocation (the event source mapping's BatchSize).
    pub batch_size: usize,
}

/// A way of sharing the quota, for onboard-user and offboard-user.
#[derive(Debug, Clone)]
pub struct Split {
    pub label: &'static str,
    pub onboard: Deployment,
    pub offboard: Deployment,
    /// Whether the emulator also injects throttles and server errors (see [`FAULTS`]).
    pub faults: bool,
}

/// The faults of a run with them on: on every call, a throttle in the captured shape
/// (HTTP 400, "Rate exceeded", no hint) with this probability, and an HTTP 500 with the
/// other: the reliability suite's bulk scenario, at full size.
pub const FAULTS: (f64, f64) = (0.10, 0.05);

impl Split {
    /// The template's: floors 3 and 4 per environment, borrowing up to 20, two
    /// environments each (MaximumConcurrency 2), batches of 10 (BatchSize).
    pub const fn borrowing() -> Self {
        Self {
            label: "floor plus borrowing (template)",
            onboard: Deployment {
                floor: 3,
                ceiling: 20,
                environments: 2,
                batch_size: 10,
            },
            offboard: Deployment {
                floor: 4,
                ceiling: 20,
                environments: 2,
                batch_size: 10,
            },
            faults: false,
        }
    }

    /// The template's, with the emulator's throttles and server errors on.
    pub const fn borrowing_with_faults() -> Self {
        Self {
            label: "template, with throttles and server errors",
            faults: true,
            ..Self::borrowing()
        }
    }

    /// What it replaced: EventBridge invoking each function asynchronously, one event per
    /// invocation, reserved concurrency 1, a fixed 6/6/8 split without borrowing.
    pub const fn fixed() -> Self {
        Self {
            label: "fixed 6/6/8 split (before)",
            onboard: Deployment {
                floor: 6,
                ceiling: 6,
                environments: 1,
                batch_size: 1,
            },
            offboard: Deployment {
                floor: 6,
                ceiling: 6,
                environments: 1,
                batch_size: 1,
            },
            faults: false,
        }
    }
}

/// The load.
#[derive(Debug, Clone)]
pub struct Plan {
    pub joiners: usize,
    pub leavers: usize,
    pub pace: Pace,
    pub bin_dir: PathBuf,
    pub scratch: PathBuf,
}

/// What one run measured, in real-quota time.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub split: Split,
    pub wall: Duration,
    pub calls: Calls,
    pub applied: usize,
    pub dead: BTreeMap<String, usize>,
    pub lost: usize,
    pub redelivered: usize,
    pub leaver_times: Vec<Duration>,
    /// (seconds, joiners done) and (seconds, leavers done), for the plot.
    pub joiner_curve: Vec<(f64, f64)>,
    pub leaver_curve: Vec<(f64, f64)>,
    pub store_users: Option<usize>,
    /// The store after the run, by names, to compare runs.
    pub store: Snapshot,
    /// Failures the emulator made: the quota's throttles, and the injected ones.
    pub injected: u64,
}

impl Outcome {
    pub fn bound(&self) -> Duration {
        self.calls.bound(QUOTA_TPS)
    }

    pub fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.bound().as_secs_f64().max(f64::EPSILON)
    }

    pub fn throttled_share(&self) -> f64 {
        to_f64(self.calls.throttled()) / to_f64(self.calls.total().max(1))
    }

    pub fn slowest_leaver(&self) -> Duration {
        self.leaver_times.iter().copied().max().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: String,
    receives: u32,
    leaver: bool,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<Message>,
    in_flight: usize,
}

#[derive(Debug, Default)]
struct Tally {
    applied: usize,
    redelivered: usize,
    dead: Vec<String>,
    joiners_done: Vec<Duration>,
    leavers_done: Vec<Duration>,
}

fn envelope(id: &str, detail_type: &str, detail: &Value) -> String {
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "com.example.hr",
        "account": "111122223333", "time": "2026-12-01T09:00:00Z", "region": "eu-west-1",
        "resources": [], "detail": detail
    })
    .to_string()
}

fn joiner(index: usize) -> Message {
    let name = format!("joiner.{index:05}");
    let detail = json!({
        "user": {
            "userName": name, "displayName": "Bulk Joiner",
            "name": {"givenName": "Bulk", "familyName": "Joiner"},
            "emails": [{"value": format!("{name}@example.com"), "type": "work", "primary": true}]
        },
        "groups": GROUPS,
    });
    Message {
        id: format!("m-join-{index:05}"),
        body: envelope(&format!("hire-{index:05}"), "Employee Hired", &detail),
        receives: 0,
        leaver: false,
    }
}

fn leaver_name(index: usize) -> String {
    format!("leaver.{index:03}")
}

fn leaver(index: usize) -> Message {
    let detail = json!({"userName": leaver_name(index), "mode": "delete"});
    Message {
        id: format!("m-leave-{index:03}"),
        body: envelope(&format!("leave-{index:03}"), "Employee Terminated", &detail),
        receives: 0,
        leaver: true,
    }
}

/// The store before the run: the groups, and the leavers in all of them.
async fn seed(addr: std::net::SocketAddr, admin: &Admin, leavers: usize) -> Result<(), String> {
    admin.reset().await.map_err(|e| format!("reset: {e}"))?;
    let groups = client::create_groups(addr, GROUPS.iter().map(|g| ((*g).to_owned(), None)).collect())
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;
    let users = client::create_users(addr, (0..leavers).map(leaver_name).collect())
        .await
        .map_err(|e| format!("seeding leavers: {e}"))?;
    let pairs = groups
        .iter()
        .flat_map(|g| users.iter().map(move |u| (g.clone(), u.clone())))
        .collect();
    client::create_memberships(addr, pairs)
        .await
        .map_err(|e| format!("seeding memberships: {e}"))
}

fn batch_event(messages: &[Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.id, "receiptHandle": format!("rh-{}-{}", m.id, m.receives),
                "body": m.body, "eventSource": "aws:sqs", "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:111122223333:bench",
                "attributes": {"ApproximateReceiveCount": (m.receives + 1).to_string()},
                "messageAttributes": {}
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The message ids an answer names as failed; every record when the invocation failed.
fn failed_ids(messages: &[Message], answer: &crate::standin::Outcome) -> Vec<String> {
    if answer.is_error {
        return messages.iter().map(|m| m.id.clone()).collect();
    }
    answer
        .body
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .map(|failures| {
            failures
                .iter()
                .filter_map(|f| f.get("itemIdentifier").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// One execution environment: takes batches from `queue` until it is drained.
async fn drain(
    mut function: Function,
    batch_size: usize,
    queue: Arc<Mutex<Queue>>,
    tally: Arc<Mutex<Tally>>,
    started: Instant,
) -> Result<(), String> {
    loop {
        let batch: Vec<Message> = {
            let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if q.waiting.is_empty() && q.in_flight == 0 {
                break;
            }
            let take = q.waiting.len().min(batch_size);
            let batch: Vec<Message> = q.waiting.drain(..take).collect();
            q.in_flight += batch.len();
            batch
        };
        if batch.is_empty() {
            // Records another environment holds may come back.
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let answer = function.invoke(batch_event(&batch)).await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                function.stop().await;
                return Err(e);
            }
        };
        let failed = failed_ids(&batch, &answer);
        let now = started.elapsed();
        let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut t = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        q.in_flight -= batch.len();
        for mut message in batch {
            if failed.contains(&message.id) {
                message.receives += 1;
                if message.receives >= MAX_RECEIVE_COUNT {
                    t.dead.push(message.id);
                } else {
                    t.redelivered += 1;
                    q.waiting.push_back(message);
                }
            } else {
                t.applied += 1;
                if message.leaver {
                    t.leavers_done.push(now);
                } else {
                    t.joiners_done.push(now);
                }
            }
        }
    }
    function.stop().await;
    Ok(())
}

/// The errorType each dead-lettered record was last logged with.
fn reasons(logs: &[PathBuf], dead: &[String]) -> BTreeMap<String, usize> {
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for log in logs {
        let Ok(text) = std::fs::read_to_string(log) else {
            continue;
        };
        for line in text.lines() {
            let Ok(value) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if value.pointer("/fields/message").and_then(Value::as_str) != Some("record failed") {
                continue;
            }
            let field = |name: &str| value.pointer(&format!("/fields/{name}")).and_then(Value::as_str);
            if let (Some(id), Some(kind)) = (field("message_id"), field("error_type")) {
                last.insert(id.to_owned(), kind.to_owned());
            }
        }
    }
    let mut counted = BTreeMap::new();
    for id in dead {
        *counted
            .entry(last.get(id).cloned().unwrap_or_else(|| "unknown".into()))
            .or_insert(0) += 1;
    }
    counted
}

fn curve(done: &mut [Duration], pace: Pace) -> Vec<(f64, f64)> {
    done.sort();
    done.iter()
        .enumerate()
        .map(|(i, at)| (pace.to_real(*at).as_secs_f64(), to_f64(i as u64 + 1)))
        .collect()
}

type Environment = (Function, usize, Arc<Mutex<Queue>>);
/// A function's Lambda environment for one deployment.
type EnvFor<'a> = dyn Fn(&str, Deployment) -> Vec<(String, String)> + 'a;

/// Every environment's process, warm (init done) before the load is delivered.
async fn start_environments(
    plan: &Plan,
    split: &Split,
    env: &EnvFor<'_>,
    [onboard, offboard]: [&Arc<Mutex<Queue>>; 2],
) -> Result<(Vec<Environment>, Vec<PathBuf>), String> {
    let mut functions = Vec::new();
    let mut logs = Vec::new();
    for (name, deployment, queue) in [
        ("onboard-user", split.onboard, onboard),
        ("offboard-user", split.offboard, offboard),
    ] {
        for n in 0..deployment.environments {
            let log = plan
                .scratch
                .join(format!("bulk-{}-{name}-{n}.log", split.onboard.floor));
            let program = Program::Native(plan.bin_dir.join(name));
            functions.push((
                Function::start(&program, &env(name, deployment), &log).await?,
                deployment.batch_size,
                Arc::clone(queue),
            ));
            logs.push(log);
        }
    }
    Ok((functions, logs))
}

/// The emulator's quota and latency, and the injected faults of a split with them on.
fn faults_of(plan: &Plan, split: &Split) -> turnstile_emulator::FaultConfig {
    let mut faults = plan.pace.faults();
    if split.faults {
        (faults.default.throttle_probability, faults.default.error_probability) = FAULTS;
        faults.default.throttle_shape = ThrottleShape::Captured;
    }
    faults
}

/// One run of the load with `split`.
pub async fn run(addr: std::net::SocketAddr, plan: &Plan, split: Split) -> Result<Outcome, String> {
    let admin = Admin::new(addr);
    progress(&format!(
        "bulk load, {}: {} joiners and {} leavers",
        split.label,
        thousands(plan.joiners as u64),
        plan.leavers
    ));
    seed(addr, &admin, plan.leavers).await?;
    let k = plan.pace.speedup;
    let env = |name: &str, d: Deployment| {
        let extra: Vec<(String, String)> = [
            ("IDENTITY_STORE_ID", STORE_ID.to_owned()),
            ("AWS_ENDPOINT_URL_IDENTITYSTORE", format!("http://{addr}")),
            ("CALLS_PER_SECOND", (d.floor * k).to_string()),
            ("MAX_CALLS_PER_SECOND", (d.ceiling * k).to_string()),
            // The template's backoff, compressed with time like everything else.
            ("BACKOFF_BASE_MS", (100 / k).max(1).to_string()),
            ("BACKOFF_MAX_MS", (10_000 / k).max(1).to_string()),
            ("LEAVERS_GROUP", "turnstile-leavers".to_owned()),
            ("AWS_LAMBDA_LOG_LEVEL", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        lambda_env(name, &plan.scratch, &extra)
    };
    let onboard_queue = Arc::new(Mutex::new(Queue {
        waiting: (0..plan.joiners).map(joiner).collect(),
        in_flight: 0,
    }));
    let offboard_queue = Arc::new(Mutex::new(Queue {
        waiting: (0..plan.leavers).map(leaver).collect(),
        in_flight: 0,
    }));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (functions, logs) = start_environments(plan, &split, &env, [&onboard_queue, &offboard_queue]).await?;
    admin
        .set_faults(&faults_of(plan, &split))
        .await
        .map_err(|e| format!("faults: {e}"))?;
    admin.reset_counters().await.map_err(|e| format!("counters: {e}"))?;
    let started = Instant::now();
    let ticker = {
        let tally = Arc::clone(&tally);
        let total = plan.joiners + plan.leavers;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let done = tally.lock().map_or(0, |t| t.applied + t.dead.len());
                progress(&format!(
                    "    {done} of {total} events, {:.0} s",
                    started.elapsed().as_secs_f64()
                ));
            }
        })
    };
    let tasks: Vec<_> = functions
        .into_iter()
        .map(|(function, batch_size, queue)| {
            tokio::spawn(drain(function, batch_size, queue, Arc::clone(&tally), started))
        })
        .collect();
    let mut failure = None;
    for task in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(e.to_string()),
        }
    }
    ticker.abort();
    let wall = started.elapsed();
    if let Some(e) = failure {
        return Err(e);
    }
    let counters = admin.counters().await.map_err(|e| format!("counters: {e}"))?;
    admin
        .set_faults(&turnstile_emulator::FaultConfig::default())
        .await
        .map_err(|e| format!("faults: {e}"))?;
    let store_users = client::user_count(addr).await.ok();
    let store = admin.snapshot().await.map_err(|e| format!("state: {e}"))?;
    let mut tally = std::mem::take(&mut *tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let total = plan.joiners + plan.leavers;
    Ok(Outcome {
        dead: reasons(&logs, &tally.dead),
        lost: total - tally.applied - tally.dead.len(),
        applied: tally.applied,
        redelivered: tally.redelivered,
        leaver_times: tally.leavers_done.iter().map(|d| plan.pace.to_real(*d)).collect(),
        joiner_curve: curve(&mut tally.joiners_done, plan.pace),
        leaver_curve: curve(&mut tally.leavers_done, plan.pace),
        wall: plan.pace.to_real(wall),
        calls: Calls::from_counters(&counters),
        split,
        store_users,
        store,
        injected: counters.injected_total(),
    })
}

/// The leaver bound the README states: every leaver done within this of its delivery
/// during a bulk onboarding, at the real quota.
pub const LEAVER_BOUND: Duration = Duration::from_secs(60);

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

/// The section's heading, what the load is, and the table's header.
fn intro(plan: &Plan, outcomes: &[Outcome]) -> String {
    let mut text = String::from(MARK_START);
    let _ = write!(
        text,
        "\n## Bulk load through the SQS path\n\n\
         {} joiners (3 existing groups each) and {} leavers (each in the same 3 groups) put on \
         the functions' queues at once, drained in batches as the event source mapping would (the harness stands in for the queues: a failed record is returned to its \
         queue at once, and dead-lettered on its {MAX_RECEIVE_COUNT}th receive). Emulator quota \
         20 TPS per API with a 20-token bucket, {} ms added latency, time compressed ÷{} \
         (rates ×{}, latency and backoff ÷{}); times below are at the real quota. The ledger is \
         off (its DynamoDB calls do not count against the Identity Store quota); the leavers \
         fence is on. The template's run with faults is the same load with the emulator also \
         injecting, on every call, a throttle in the captured shape ({:.0}%: HTTP 400 \
         \"Rate exceeded\", no hint) and an HTTP 500 ({:.0}%); every run's store is compared \
         with the first's (the reliability suite's oracle), and the injected throttles count \
         in its time and throttled calls, so the 1.15 and 5% goals are not its measure. \
         Produced by `make bench` (`--bulk-only` runs this section alone).\n\n\
         | | {} |\n| --- | {} |\n",
        thousands(plan.joiners as u64),
        plan.leavers,
        plan.pace.latency_ms,
        plan.pace.speedup,
        plan.pace.speedup,
        plan.pace.speedup,
        100.0 * FAULTS.0,
        100.0 * FAULTS.1,
        outcomes.iter().map(|o| o.split.label).collect::<Vec<_>>().join(" | "),
        outcomes.iter().map(|_| "---").collect::<Vec<_>>().join(" | "),
    );
    text
}

/// The BENCHMARKS.md section, between its markers.
pub fn render(plan: &Plan, outcomes: &[Outcome], plot_path: &Path) -> String {
    let mut text = intro(plan, outcomes);
    let row = |text: &mut String, label: &str, cell: &dyn Fn(&Outcome) -> String| {
        let cells: Vec<String> = outcomes.iter().map(cell).collect();
        let _ = writeln!(text, "| {label} | {} |", cells.join(" | "));
    };
    row(&mut text, "environments (onboard, offboard)", &|o| {
        format!("{}, {}", o.split.onboard.environments, o.split.offboard.environments)
    });
    row(&mut text, "records per invocation (onboard, offboard)", &|o| {
        format!("{}, {}", o.split.onboard.batch_size, o.split.offboard.batch_size)
    });
    row(&mut text, "pace per environment (floor-ceiling)", &|o| {
        format!(
            "onboard {}-{}, offboard {}-{}",
            o.split.onboard.floor, o.split.onboard.ceiling, o.split.offboard.floor, o.split.offboard.ceiling
        )
    });
    row(&mut text, "total time", &|o| secs(o.wall));
    row(&mut text, "quota bound of the calls made", &|o| {
        format!("{} ({})", secs(o.bound()), o.calls.busiest().unwrap_or("-"))
    });
    row(&mut text, "time ÷ bound (goal ≤ 1.15)", &|o| {
        format!("{:.2}", o.ratio())
    });
    row(&mut text, "throttled calls (goal ≤ 5%)", &|o| {
        format!(
            "{} of {} ({:.1}%)",
            thousands(o.calls.throttled()),
            thousands(o.calls.total()),
            100.0 * o.throttled_share()
        )
    });
    row(
        &mut text,
        &format!("slowest leaver (bound {})", secs(LEAVER_BOUND)),
        &|o| secs(o.slowest_leaver()),
    );
    row(&mut text, "median leaver", &|o| {
        let mut times = o.leaver_times.clone();
        times.sort();
        times.get(times.len() / 2).map_or("-".into(), |d| secs(*d))
    });
    row(&mut text, "applied / dead-lettered / lost", &|o| {
        let dead: Vec<String> = o.dead.iter().map(|(k, n)| format!("{n} {k}")).collect();
        format!(
            "{} / {}{} / {}",
            thousands(o.applied as u64),
            o.dead.values().sum::<usize>(),
            if dead.is_empty() {
                String::new()
            } else {
                format!(" ({})", dead.join(", "))
            },
            o.lost
        )
    });
    row(&mut text, "records delivered again", &|o| {
        thousands(o.redelivered as u64)
    });
    row(&mut text, "users in the store after", &|o| {
        o.store_users.map_or("-".into(), |n| thousands(n as u64))
    });
    row(
        &mut text,
        "failures the emulator made (the quota's throttles and any injected)",
        &|o| thousands(o.injected),
    );
    // The first run is the reference: the reliability suite's oracle, at full size.
    row(&mut text, "store as the first run left it", &|o| {
        let differences = o.store.differences(&outcomes[0].store);
        match (o.store.anomalies(), differences.lines.first()) {
            (0, None) => "yes".into(),
            (anomalies, first) => format!(
                "**no**: {} differences, {anomalies} duplicates ({})",
                differences.lines.len(),
                first.map_or("", String::as_str)
            ),
        }
    });
    let _ = write!(
        text,
        "\n![Events done over time, both splits]({})\n\n",
        plot_path.display()
    );
    text.push_str(MARK_END);
    text
}

pub fn plot(path: &Path, outcomes: &[Outcome]) -> Result<(), String> {
    // The two splits; a run with injected faults is left out (its time measures them).
    let colors = [(plot::BLUE_, plot::GREEN_), (plot::RED_, plot::ORANGE_)];
    let mut series = Vec::new();
    for (outcome, (joiners, leavers)) in outcomes.iter().filter(|o| !o.split.faults).zip(colors) {
        series.push(Series {
            label: format!("joiners done, {}", outcome.split.label),
            points: outcome.joiner_curve.clone(),
            color: joiners,
            bound: false,
        });
        series.push(Series {
            label: format!("leavers done, {}", outcome.split.label),
            points: outcome.leaver_curve.clone(),
            color: leavers,
            bound: true,
        });
    }
    plot::draw(
        path,
        "Bulk load through SQS: events done over time",
        "seconds since delivery (at 20 TPS)",
        "events done",
        &series,
    )
}

pub const MARK_START: &str = "<!-- bulk:start -->";
pub const MARK_END: &str = "<!-- bulk:end -->";

/// The bulk section of `report`, markers included, when it has one.
pub fn section_of(report: &str) -> Option<String> {
    let start = report.find(MARK_START)?;
    let end = report[start..].find(MARK_END)? + start + MARK_END.len();
    Some(report[start..end].to_owned())
}

/// `report` with its bulk section replaced by `section` (or `section` appended).
pub fn splice(report: &str, section: &str) -> String {
    match (report.find(MARK_START), report.find(MARK_END)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{section}{}", &report[..start], &report[end + MARK_END.len()..])
        }
        _ => format!("{}\n\n{section}\n", report.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::{section_of, splice};

    #[test]
    fn a_reports_bulk_section_is_read_back_with_its_markers() {
        let section = "<!-- bulk:start -->kept<!-- bulk:end -->";
        assert_eq!(section_of(&format!("# B\n\n{section}\n")).as_deref(), Some(section));
        assert_eq!(section_of("# B without one"), None);
    }

    #[test]
    fn the_bulk_section_replaces_its_old_self_or_is_appended() {
        let section = "<!-- bulk:start -->new<!-- bulk:end -->";
        assert_eq!(splice("# B\n\ntext", section), format!("# B\n\ntext\n\n{section}\n"));
        assert_eq!(
            splice("a <!-- bulk:start -->old<!-- bulk:end --> b", section),
            format!("a {section} b")
        );
    }
}
