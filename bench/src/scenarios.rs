//! The scenarios: stores seeded through the emulator's protocol, one function process
//! per run under the Runtime API stand-in, calls counted by the emulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use turnstile_emulator::FaultConfig;
use turnstile_emulator::admin::Admin;

use crate::calls::{Calls, thousands, to_f64};
use crate::client;
use crate::dynamodb::{CountingProxy, Counts};
use crate::pace::Pace;
use crate::process::{Function, Program, lambda_env};
use crate::{STORE_ID, progress};

/// Who ran a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// The Turnstile function's release binary.
    Turnstile,
    /// A boto3 handler under the minimal Python runtime.
    Boto3,
}

/// The letters of the sync-group budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncShape {
    /// Desired members.
    pub n: u64,
    /// Current members.
    pub m: u64,
    /// Users in the store.
    pub u: u64,
    /// Memberships to add or remove.
    pub d: u64,
    /// Of which removals.
    pub r: u64,
}

impl SyncShape {
    /// 2 + ceil(M/100) + min(N + R, ceil(U/100)) + D.
    pub const fn budget(self) -> u64 {
        let listing = self.u.div_ceil(100);
        let lookups = self.n + self.r;
        2 + self.m.div_ceil(100) + if lookups < listing { lookups } else { listing } + self.d
    }
}

/// The result of one scenario run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Stable id (`sync-10000-empty`), for the report's lookups.
    pub id: String,
    pub title: String,
    pub who: Who,
    pub pace: Pace,
    pub calls: Calls,
    /// Call budget the scenario must meet, if it has one.
    pub budget: Option<u64>,
    /// Whether the scenario must write nothing.
    pub expect_no_writes: bool,
    pub shape: Option<SyncShape>,
    /// Invocation time as measured (compressed when `pace.speedup` > 1).
    pub wall: Duration,
    pub init: Duration,
    pub peak_rss: Option<u64>,
    /// Why the run did not do what it should, if it did not.
    pub failure: Option<String>,
    /// With the ledger on: its DynamoDB calls per operation, and their budget.
    pub ledger_calls: Option<Counts>,
    pub ledger_budget: Option<u64>,
}

impl Run {
    pub fn bound(&self) -> Duration {
        self.calls.bound(self.pace.rate())
    }

    /// Measured time over the quota bound.
    pub fn ratio(&self) -> f64 {
        let bound = self.bound().as_secs_f64();
        if bound > 0.0 {
            self.wall.as_secs_f64() / bound
        } else {
            f64::INFINITY
        }
    }

    pub fn throttled_share(&self) -> f64 {
        let total = self.calls.total();
        if total == 0 {
            0.0
        } else {
            to_f64(self.calls.throttled()) / to_f64(total)
        }
    }

    pub fn budget_met(&self) -> Option<bool> {
        self.budget.map(|b| {
            self.calls.total() <= b && (!self.expect_no_writes || self.calls.writes == 0) && self.failure.is_none()
        })
    }

    /// The ledger's DynamoDB calls, in all.
    pub fn ledger_total(&self) -> Option<u64> {
        self.ledger_calls.as_ref().map(|c| c.values().sum())
    }

    /// Whether the ledger's calls stayed within their budget (`None` without one).
    pub fn ledger_budget_met(&self) -> Option<bool> {
        let budget = self.ledger_budget?;
        Some(self.failure.is_none() && self.ledger_total().is_some_and(|t| t <= budget))
    }

    /// The floor that the data dependencies of a roster sync leave, for this run's
    /// calls: GetGroupId, then the listings (each paginated listing one page after the
    /// other, so no faster than its pages times the latency) beside the other reads,
    /// then the writes, each API at its rate.
    pub fn dependency_floor(&self) -> Duration {
        let rate = self.pace.rate();
        let latency = self.pace.latency().as_secs_f64();
        let paced = |api: &str| to_f64(self.calls.accepted(api)) / rate;
        let listing = |api: &str| {
            let pages = to_f64(self.calls.accepted(api));
            pages * latency.max(1.0 / rate)
        };
        let lookup = |api: &str| {
            if self.calls.accepted(api) == 0 {
                0.0
            } else {
                paced(api) + latency
            }
        };
        let reads = [
            listing("ListGroupMemberships"),
            listing("ListUsers"),
            lookup("GetUserId"),
            lookup("DescribeGroup"),
        ]
        .into_iter()
        .fold(0.0, f64::max);
        let writes = [
            lookup("CreateGroupMembership"),
            lookup("DeleteGroupMembership"),
            lookup("DescribeUser"),
        ]
        .into_iter()
        .fold(0.0, f64::max);
        Duration::from_secs_f64(lookup("GetGroupId") + reads + lookup("CreateGroup") + writes)
    }
}

/// Paths the runs need.
#[derive(Debug, Clone)]
pub struct Programs {
    pub bin_dir: PathBuf,
    /// The project's .venv python with boto3, when present.
    pub python: Option<PathBuf>,
    /// bench/boto3.
    pub boto3_dir: PathBuf,
}

impl Programs {
    pub fn native(&self, name: &str) -> Program {
        Program::Native(self.bin_dir.join(name))
    }

    pub fn python(&self, handler: &str) -> Option<Program> {
        Some(Program::Python {
            python: self.python.clone()?,
            bootstrap: self.boto3_dir.join("bootstrap.py"),
            handler: handler.to_owned(),
        })
    }
}

/// The harness's view of one emulator.
#[derive(Debug)]
pub struct Bench {
    pub addr: SocketAddr,
    pub admin: Admin,
    pub programs: Programs,
    /// Logs of the function processes.
    pub scratch: PathBuf,
    /// Added latency at the real quota, in ms.
    pub latency_ms: u64,
    /// The functions' `MAX_CONCURRENCY`.
    pub max_concurrency: u32,
    /// Added to every function's environment (`--function-env`).
    pub extra_env: Vec<(String, String)>,
    /// While the ledger runs: what counts its DynamoDB calls (see [`CountingProxy`]).
    pub ledger_counter: Option<CountingProxy>,
    runs: u32,
}

/// One invocation to make.
pub struct Invocation<'a> {
    pub id: String,
    pub title: String,
    pub who: Who,
    pub program: &'a Program,
    pub pace: Pace,
    pub env: Vec<(String, String)>,
    pub event: Value,
    /// For progress: roughly how many calls the run makes.
    pub expected_calls: u64,
    pub budget: Option<u64>,
    pub expect_no_writes: bool,
    pub shape: Option<SyncShape>,
}

impl Bench {
    pub fn new(addr: SocketAddr, programs: Programs, scratch: PathBuf, latency_ms: u64, max_concurrency: u32) -> Self {
        Self {
            addr,
            admin: Admin::new(addr),
            programs,
            scratch,
            latency_ms,
            max_concurrency,
            extra_env: Vec::new(),
            ledger_counter: None,
            runs: 0,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The environment every function process gets.
    pub fn env(&self, pace: Pace, extra: &[(&str, String)]) -> Vec<(String, String)> {
        // The budgets are set for the fence off (docs/contract.md states its cost); it is
        // on by default, so it is turned off here, before anything that may turn it on.
        let mut env: Vec<(String, String)> = vec![("LEAVERS_GROUP".into(), String::new())];
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        env.push(("IDENTITY_STORE_ID".into(), STORE_ID.into()));
        env.push(("AWS_ENDPOINT_URL_IDENTITYSTORE".into(), self.endpoint()));
        env.push(("CALLS_PER_SECOND".into(), pace.calls_per_second().to_string()));
        env.push(("MAX_CONCURRENCY".into(), self.max_concurrency.to_string()));
        env.extend(self.extra_env.iter().cloned());
        lambda_env("bench", &self.scratch, &env)
    }

    /// Empties the store and switches faults off (for seeding).
    pub async fn reset(&self) -> Result<(), String> {
        self.admin.reset().await.map_err(|e| format!("reset: {e}"))?;
        self.admin
            .set_faults(&FaultConfig::default())
            .await
            .map_err(|e| format!("faults: {e}"))
    }

    fn log_path(&mut self, id: &str) -> PathBuf {
        self.runs += 1;
        self.scratch.join(format!("{:02}-{id}.log", self.runs))
    }

    /// Starts the program, sets the run's quota and latency, zeroes the counters,
    /// invokes, and collects what the emulator counted.
    pub async fn invoke(&mut self, inv: Invocation<'_>) -> (Run, Option<Value>) {
        let log = self.log_path(&inv.id);
        let mut run = Run {
            id: inv.id.clone(),
            title: inv.title.clone(),
            who: inv.who,
            pace: inv.pace,
            calls: Calls::default(),
            budget: inv.budget,
            expect_no_writes: inv.expect_no_writes,
            shape: inv.shape,
            wall: Duration::ZERO,
            init: Duration::ZERO,
            peak_rss: None,
            failure: None,
            ledger_calls: None,
            ledger_budget: None,
        };
        let mut function = match Function::start(inv.program, &inv.env, &log).await {
            Ok(f) => f,
            Err(e) => {
                run.failure = Some(e);
                return (run, None);
            }
        };
        run.init = function.init;
        if let Err(e) = self.admin.set_faults(&inv.pace.faults()).await {
            run.failure = Some(format!("faults: {e}"));
            function.stop().await;
            return (run, None);
        }
        if let Err(e) = self.admin.reset_counters().await {
            run.failure = Some(format!("counters: {e}"));
            function.stop().await;
            return (run, None);
        }
        let ticker = (inv.expected_calls >= 200).then(|| {
            let admin = self.admin;
            let title = inv.title.clone();
            let expected = inv.expected_calls;
            tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    if let Ok(counters) = admin.counters().await {
                        progress(&format!(
                            "    {title}: {} of ~{} calls, {:.0} s",
                            thousands(counters.total()),
                            thousands(expected),
                            started.elapsed().as_secs_f64()
                        ));
                    }
                }
            })
        });
        if let Some(counter) = &self.ledger_counter {
            counter.take();
        }
        let outcome = function.invoke(inv.event).await;
        run.ledger_calls = self.ledger_counter.as_ref().map(CountingProxy::take);
        if let Some(t) = ticker {
            t.abort();
        }
        run.peak_rss = function.peak_rss();
        function.stop().await;
        match self.admin.counters().await {
            Ok(counters) => run.calls = Calls::from_counters(&counters),
            Err(e) => run.failure = Some(format!("counters: {e}")),
        }
        let _ = self.admin.set_faults(&FaultConfig::default()).await;
        match outcome {
            Ok(outcome) => {
                run.wall = outcome.duration;
                if outcome.is_error {
                    run.failure = Some(format!("the function failed: {}", outcome.body));
                    (run, None)
                } else {
                    (run, Some(outcome.body))
                }
            }
            Err(e) => {
                run.failure = Some(format!("{e} (log: {})", log.display()));
                (run, None)
            }
        }
    }
}

/// The joiner event of the budget tests, for `user_name` and `groups`.
pub fn joiner(user_name: &str, groups: &[String]) -> Value {
    json!({
        "user": {
            "userName": user_name,
            "displayName": "Joiner",
            "name": { "givenName": "Jo", "familyName": "Iner" },
            "emails": [{ "value": format!("{user_name}@example.com"), "type": "work", "primary": true }],
            "title": "Engineer"
        },
        "groups": groups
    })
}

pub fn check(run: &mut Run, ok: bool, what: impl FnOnce() -> String) {
    if !ok && run.failure.is_none() {
        run.failure = Some(what());
    }
}

fn len(v: &Value, key: &str) -> usize {
    v.get(key).and_then(Value::as_array).map_or(0, Vec::len)
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(|x| x.as_u64().or_else(|| x.as_array().map(|a| a.len() as u64)))
        .unwrap_or(0)
}

/// Joiner, unchanged re-onboard (Turnstile and boto3), leaver.
pub async fn lifecycle(
    bench: &mut Bench,
    groups: usize,
    leaver_memberships: usize,
    max_run_secs: f64,
) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    let pace = Pace::real(bench.latency_ms);
    let names: Vec<String> = (1..=groups).map(|i| format!("team-{i:02}")).collect();
    let g = groups as u64;

    bench.reset().await?;
    client::create_groups(bench.addr, names.iter().map(|n| (n.clone(), None)).collect())
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;

    let onboard = bench.programs.native("onboard-user");
    let boto3 = bench.programs.python("onboard.handler");
    let mut candidates = vec![(Who::Turnstile, &onboard, "joiner.turnstile")];
    if let Some(p) = &boto3 {
        candidates.push((Who::Boto3, p, "joiner.boto3"));
    }
    for (who, program, user) in candidates {
        let label = match who {
            Who::Turnstile => "onboard-user",
            Who::Boto3 => "boto3 onboard",
        };
        for (again, id, title) in [
            (false, "joiner", format!("Joiner, G = {groups} existing groups")),
            (true, "re-onboard", format!("Unchanged re-onboard, G = {groups}")),
        ] {
            progress(&format!("  {title} ({label})"));
            let (mut run, result) = bench
                .invoke(Invocation {
                    id: format!("{id}-{}", if who == Who::Turnstile { "turnstile" } else { "boto3" }),
                    title: title.clone(),
                    who,
                    program,
                    pace,
                    env: bench.env(pace, &[]),
                    event: joiner(user, &names),
                    expected_calls: 0,
                    budget: (who == Who::Turnstile).then_some(if again { g + 4 } else { 1 + 2 * g }),
                    expect_no_writes: again && who == Who::Turnstile,
                    shape: None,
                })
                .await;
            if let Some(result) = result {
                let status = result.get("status").and_then(Value::as_str).unwrap_or("");
                let added = result
                    .pointer("/groups/added")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                if again {
                    check(&mut run, status == "unchanged" && added == 0, || {
                        format!("expected status unchanged and nothing added: {result}")
                    });
                } else {
                    check(&mut run, status == "created" && added == groups, || {
                        format!("expected status created and {groups} groups added: {result}")
                    });
                }
            }
            runs.push(run);
        }
    }

    runs.push(department_move(bench, &onboard, &names, pace).await?);
    runs.push(
        leaver(
            bench,
            leaver_memberships,
            pace,
            ("leaver-turnstile", ""),
            &[],
            |request| request,
        )
        .await?,
    );
    runs.extend(crate::ledger::lifecycle(bench, &names, leaver_memberships, pace, max_run_secs).await?);
    Ok(runs)
}

/// The Turnstile joiner of [`lifecycle`] moved to another department, with a manager:
/// its first enterprise attributes. Budget: the unchanged re-onboard's G + 4, plus the
/// manager's GetUserId and the one UpdateUser.
async fn department_move(bench: &mut Bench, onboard: &Program, names: &[String], pace: Pace) -> Result<Run, String> {
    let title = format!("Department move with a manager, G = {}", names.len());
    progress(&format!("  {title} (onboard-user)"));
    client::create_users(bench.addr, vec!["manager.turnstile".into()])
        .await
        .map_err(|e| format!("seeding the manager: {e}"))?;
    let mut event = joiner("joiner.turnstile", names);
    event["user"]["enterprise"] =
        json!({ "department": "Platform", "costCenter": "CC-2300", "manager": "manager.turnstile" });
    let (mut run, result) = bench
        .invoke(Invocation {
            id: "department-move-turnstile".into(),
            title,
            who: Who::Turnstile,
            program: onboard,
            pace,
            env: bench.env(pace, &[]),
            event,
            expected_calls: 0,
            budget: Some(names.len() as u64 + 6),
            expect_no_writes: false,
            shape: None,
        })
        .await;
    if let Some(result) = result {
        check(
            &mut run,
            result.get("status").and_then(Value::as_str) == Some("updated")
                && result.get("updatedAttributes") == Some(&json!(["enterprise"])),
            || format!("expected status updated with updatedAttributes [enterprise]: {result}"),
        );
    }
    Ok(run)
}

/// A store with the user `leaver` in M groups `dept-001`...; M.
async fn seed_leaver(bench: &Bench, leaver_memberships: usize) -> Result<u64, String> {
    bench.reset().await?;
    let leaver_groups: Vec<(String, Option<String>)> = (1..=leaver_memberships)
        .map(|i| (format!("dept-{i:03}"), None))
        .collect();
    let group_ids = client::create_groups(bench.addr, leaver_groups)
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;
    let user = client::create_users(bench.addr, vec!["leaver".into()])
        .await
        .map_err(|e| format!("seeding the leaver: {e}"))?;
    client::create_memberships(
        bench.addr,
        group_ids.into_iter().map(|g| (g, user[0].clone())).collect(),
    )
    .await
    .map_err(|e| format!("seeding memberships: {e}"))?;
    Ok(leaver_memberships as u64)
}

/// Leaver: a user in M groups, deleted. The run's id and a suffix of its title name it;
/// `extra` goes into the function's environment, and `wrap` turns the request into the
/// event delivered (the ledger's runs: an envelope).
pub async fn leaver(
    bench: &mut Bench,
    leaver_memberships: usize,
    pace: Pace,
    (id, suffix): (&str, &str),
    extra: &[(&str, String)],
    wrap: impl FnOnce(Value) -> Value,
) -> Result<Run, String> {
    let m = seed_leaver(bench, leaver_memberships).await?;
    let title = format!("Leaver (delete), M = {leaver_memberships} memberships{suffix}");
    progress(&format!("  {title}"));
    let offboard = bench.programs.native("offboard-user");
    let (mut run, result) = bench
        .invoke(Invocation {
            id: id.into(),
            title,
            who: Who::Turnstile,
            program: &offboard,
            pace,
            env: bench.env(pace, extra),
            event: wrap(json!({ "userName": "leaver", "mode": "delete" })),
            expected_calls: m + 3,
            budget: Some(m + 3),
            expect_no_writes: false,
            shape: None,
        })
        .await;
    if let Some(result) = result {
        check(
            &mut run,
            result.get("status").and_then(Value::as_str) == Some("deleted")
                && count(&result, "removedMemberships") == m,
            || format!("expected deleted with {m} memberships removed: {result}"),
        );
    }
    Ok(run)
}

/// How the roster sync scenarios are sized and paced.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub sizes: Vec<u64>,
    /// Longest a run may take before its time is compressed, in seconds.
    pub max_run_secs: f64,
    /// Run the one-call-at-a-time baseline where it fits in this many seconds at the
    /// real quota.
    pub baseline_max_secs: f64,
    pub baseline: bool,
}

/// Speed-ups whose compressed latency stays a whole number of ms for 100 ms.
const SPEEDUPS: [u32; 8] = [1, 2, 4, 5, 10, 20, 25, 50];

/// The smallest speed-up that keeps a run of `real_secs` under `max_secs`.
pub fn speedup_for(real_secs: f64, max_secs: f64, latency_ms: u64) -> u32 {
    SPEEDUPS
        .into_iter()
        .filter(|k| latency_ms % u64::from(*k) == 0)
        .find(|k| real_secs / f64::from(*k) <= max_secs)
        .unwrap_or(50)
}

/// The store for a roster of size `n`: U = n + n/10 users `user-00000`..., twenty
/// other groups of 50 members each, and the group `roster` with the first `members`
/// users.
struct RosterStore {
    users: Vec<String>,
    group: String,
}

const OTHER_GROUPS: usize = 20;
const OTHER_GROUP_SIZE: usize = 50;
const ROSTER: &str = "roster";
const ROSTER_DESCRIPTION: &str = "Everyone on the benchmark roster";

async fn seed_roster(bench: &Bench, n: usize, members: usize) -> Result<RosterStore, String> {
    bench.reset().await?;
    let u = n + n / 10;
    let started = Instant::now();
    let users: Vec<String> = (0..u).map(|i| format!("user-{i:05}")).collect();
    let ids = client::create_users(bench.addr, users.clone())
        .await
        .map_err(|e| format!("seeding users: {e}"))?;
    let mut groups: Vec<(String, Option<String>)> = (0..OTHER_GROUPS).map(|j| (format!("team-{j:02}"), None)).collect();
    groups.push((ROSTER.into(), Some(ROSTER_DESCRIPTION.into())));
    let group_ids = client::create_groups(bench.addr, groups)
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;
    let roster_id = group_ids[OTHER_GROUPS].clone();
    let mut pairs = Vec::new();
    for (j, group) in group_ids[..OTHER_GROUPS].iter().enumerate() {
        for i in 0..OTHER_GROUP_SIZE {
            pairs.push((group.clone(), ids[(j * OTHER_GROUP_SIZE + i * 7) % u].clone()));
        }
    }
    pairs.extend(ids[..members].iter().map(|id| (roster_id.clone(), id.clone())));
    client::create_memberships(bench.addr, pairs)
        .await
        .map_err(|e| format!("seeding memberships: {e}"))?;
    progress(&format!(
        "  seeded {} users, {} groups, {} roster members in {:.1} s",
        thousands(u as u64),
        OTHER_GROUPS + 1,
        thousands(members as u64),
        started.elapsed().as_secs_f64()
    ));
    Ok(RosterStore {
        users,
        group: roster_id,
    })
}

/// A sync request in the contract's form.
fn sync_event(members: &[String], max_removals: u64, description: bool) -> Value {
    let group = if description {
        json!({ "displayName": ROSTER, "description": ROSTER_DESCRIPTION })
    } else {
        json!({ "displayName": ROSTER })
    };
    json!({
        "group": group,
        "members": members,
        "mode": "replace",
        "maxRemovals": max_removals,
    })
}

/// From an empty group: the first `n` users. With 1% churn: the same group less its
/// first n/100 members, plus n/100 users who are not members.
fn rosters(users: &[String], n: usize) -> (Vec<String>, Vec<String>, usize) {
    let churn = (n / 100).max(1);
    let empty = users[..n].to_vec();
    let churned = users[churn..n].iter().chain(&users[n..n + churn]).cloned().collect();
    (empty, churned, churn)
}

/// One sync of the roster group through a function process.
struct SyncCase<'a> {
    id: String,
    title: String,
    who: Who,
    program: &'a Program,
    pace: Pace,
    members: &'a [String],
    shape: SyncShape,
    /// Whether the request gives the group's description (sync-group then reads the
    /// group with DescribeGroup to compare it).
    description: bool,
    /// With the ledger: its environment, and the request wrapped in an event.
    ledger: Option<Ledgered<'a>>,
}

/// A roster sync run as an event with the ledger on.
pub struct Ledgered<'a> {
    pub env: &'a [(&'a str, String)],
    pub wrap: &'a dyn Fn(Value) -> Value,
}

async fn sync_once(bench: &mut Bench, case: SyncCase<'_>, group: &str) -> Run {
    let SyncShape { u, d, r, .. } = case.shape;
    progress(&format!(
        "  {} ({}, {})",
        case.title,
        who_label(case.who),
        case.pace.describe()
    ));
    let mut extra = vec![("EXPECTED_STORE_USERS", u.to_string())];
    extra.extend(case.ledger.iter().flat_map(|l| l.env.iter().cloned()));
    let env = bench.env(case.pace, &extra);
    let request = sync_event(case.members, r, case.description);
    let (mut run, result) = bench
        .invoke(Invocation {
            id: case.id,
            title: case.title,
            who: case.who,
            program: case.program,
            pace: case.pace,
            env,
            event: case.ledger.as_ref().map_or(request.clone(), |l| (l.wrap)(request)),
            expected_calls: case.shape.budget(),
            budget: (case.who == Who::Turnstile).then(|| case.shape.budget()),
            expect_no_writes: false,
            shape: Some(case.shape),
        })
        .await;
    let adds = d - r;
    if let Some(result) = result {
        let (added, removed) = match case.who {
            Who::Turnstile => (len(&result, "added") as u64, len(&result, "removed") as u64),
            Who::Boto3 => (count(&result, "added"), count(&result, "removed")),
        };
        check(&mut run, added == adds && removed == r, || {
            format!("expected {adds} added and {r} removed, got {added} and {removed}")
        });
    }
    if run.failure.is_none() {
        match client::members_of(bench.addr, group).await {
            Ok(now) => check(&mut run, now.len() as u64 == case.shape.n, || {
                format!("the group has {} members afterwards, not {}", now.len(), case.shape.n)
            }),
            Err(e) => run.failure = Some(format!("reading the group back: {e}")),
        }
    }
    run
}

pub const fn who_label(who: Who) -> &'static str {
    match who {
        Who::Turnstile => "sync-group",
        Who::Boto3 => "naive boto3 sync",
    }
}

/// The case of `kind` ("empty" or "churn") at the shape's size.
fn case<'a>(who: Who, program: &'a Program, pace: Pace, members: &'a [String], shape: SyncShape) -> SyncCase<'a> {
    let kind = if shape.m == 0 { "empty" } else { "churn" };
    let prefix = if who == Who::Turnstile { "sync" } else { "naive" };
    let title = if shape.m == 0 {
        format!("sync-group replace, N = {}, from empty", thousands(shape.n))
    } else {
        format!("sync-group replace, N = {}, 1% churn", thousands(shape.n))
    };
    SyncCase {
        id: format!("{prefix}-{}-{kind}", shape.n),
        title,
        who,
        program,
        pace,
        members,
        shape,
        description: false,
        ledger: None,
    }
}

/// sync-group replace at each size, from an empty group and with 1% churn, and the
/// naive baseline where it fits.
pub async fn syncs(bench: &mut Bench, plan: &SyncPlan) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    let sync = bench.programs.native("sync-group");
    let naive = bench.programs.python("naive_sync.handler").filter(|_| plan.baseline);
    for &n in &plan.sizes {
        runs.extend(sync_size(bench, plan, n, &sync, naive.as_ref()).await?);
    }
    // The same from an empty group, with the group's description in the request:
    // sync-group then also reads the group (DescribeGroup) to compare it.
    let store = seed_roster(bench, 100, 0).await?;
    let shape = SyncShape {
        n: 100,
        m: 0,
        u: 110,
        d: 100,
        r: 0,
    };
    let mut described = case(
        Who::Turnstile,
        &sync,
        Pace::real(bench.latency_ms),
        &store.users[..100],
        shape,
    );
    "sync-described-100".clone_into(&mut described.id);
    described.title.push_str(", request with the description");
    described.description = true;
    runs.push(sync_once(bench, described, &store.group).await);
    Ok(runs)
}

/// With the ledger on (`ledger`): sync-group replace at N = 1,000 from an empty group,
/// then with 1% churn, each within its budget (the ledger's calls go to DynamoDB), and
/// the churn redelivered, which must be `duplicate` with no Identity Store call.
pub async fn ledger_syncs(
    bench: &mut Bench,
    max_run_secs: f64,
    env: &[(&str, String)],
    wrap: impl Fn(&str, &str, Value) -> Value,
) -> Result<Vec<Run>, String> {
    const N: u64 = 1_000;
    let n = usize::try_from(N).map_err(|e| e.to_string())?;
    let sync = bench.programs.native("sync-group");
    let latency = bench.latency_ms;
    let store = seed_roster(bench, n, 0).await?;
    let (empty, churned, churn) = rosters(&store.users, n);
    let c = churn as u64;
    let u = N + N / 10;
    let pace = |real_secs: f64| Pace {
        speedup: speedup_for(real_secs, max_run_secs, latency),
        latency_ms: latency,
    };
    let filled = |request| wrap("bench-roster-1", "2026-12-04T09:00:00Z", request);
    let churning = |request| wrap("bench-roster-2", "2026-12-05T09:00:00Z", request);
    let shapes = [
        (
            SyncShape {
                n: N,
                m: 0,
                u,
                d: N,
                r: 0,
            },
            &empty,
            &filled as &dyn Fn(Value) -> Value,
            "empty",
        ),
        (
            SyncShape {
                n: N,
                m: N,
                u,
                d: 2 * c,
                r: c,
            },
            &churned,
            &churning as &dyn Fn(Value) -> Value,
            "churn",
        ),
    ];
    // The most DynamoDB calls a roster of N members may add (issue 11).
    let roster_ledger_budget = N.div_ceil(100) + 2;
    let mut runs = Vec::new();
    for (shape, members, wrap, kind) in shapes {
        let mut run = case(
            Who::Turnstile,
            &sync,
            pace(to_f64(shape.budget()) / 20.0),
            members,
            shape,
        );
        run.id = format!("sync-ledger-{N}-{kind}");
        run.title.push_str(", ledger on");
        run.ledger = Some(Ledgered { env, wrap });
        let mut run = sync_once(bench, run, &store.group).await;
        run.ledger_budget = Some(roster_ledger_budget);
        runs.push(run);
    }
    let title = format!(
        "sync-group replace, N = {}, 1% churn, redelivered (duplicate), ledger on",
        thousands(N)
    );
    progress(&format!("  {title}"));
    let real = Pace::real(latency);
    let mut extra = vec![("EXPECTED_STORE_USERS", u.to_string())];
    extra.extend(env.iter().cloned());
    let (mut run, result) = bench
        .invoke(Invocation {
            id: format!("sync-ledger-{N}-again"),
            title,
            who: Who::Turnstile,
            program: &sync,
            pace: real,
            env: bench.env(real, &extra),
            event: churning(sync_event(&churned, c, false)),
            expected_calls: 0,
            budget: Some(0),
            expect_no_writes: true,
            shape: None,
        })
        .await;
    if let Some(result) = result {
        check(
            &mut run,
            result.get("status").and_then(Value::as_str) == Some("duplicate"),
            || format!("expected status duplicate: {result}"),
        );
    }
    run.ledger_budget = Some(roster_ledger_budget);
    runs.push(run);
    Ok(runs)
}

async fn sync_size(
    bench: &mut Bench,
    plan: &SyncPlan,
    n64: u64,
    sync: &Program,
    naive: Option<&Program>,
) -> Result<Vec<Run>, String> {
    let mut runs = Vec::new();
    let latency = bench.latency_ms;
    let n = usize::try_from(n64).map_err(|e| e.to_string())?;
    let u = n64 + n64 / 10;
    let c = (n64 / 100).max(1);
    let empty_shape = SyncShape {
        n: n64,
        m: 0,
        u,
        d: n64,
        r: 0,
    };
    let churn_shape = SyncShape {
        n: n64,
        m: n64,
        u,
        d: 2 * c,
        r: c,
    };
    // One page or one call costs at least the latency, or 1/20 s at the quota.
    let per_call = (to_f64(latency) / 1000.0).max(0.05);
    let pace_for = |real_secs: f64| Pace {
        speedup: speedup_for(real_secs, plan.max_run_secs, latency),
        latency_ms: latency,
    };
    let empty_pace = pace_for(to_f64(n64) / 20.0);
    let churn_pace = pace_for(to_f64(u.div_ceil(100)) * per_call + to_f64(c) / 20.0);

    let store = seed_roster(bench, n, 0).await?;
    let (empty, churned, _) = rosters(&store.users, n);
    let runs_here = [
        case(Who::Turnstile, sync, empty_pace, &empty, empty_shape),
        case(Who::Turnstile, sync, churn_pace, &churned, churn_shape),
    ];
    for c in runs_here {
        runs.push(sync_once(bench, c, &store.group).await);
    }

    let Some(naive) = naive else { return Ok(runs) };
    let reads = to_f64(u.div_ceil(100) + 1 + OTHER_GROUPS as u64);
    let naive_empty_secs = (reads + to_f64(n64)) * per_call;
    let real = Pace::real(latency);
    let store = if naive_empty_secs <= plan.baseline_max_secs {
        let store = seed_roster(bench, n, 0).await?;
        let c = case(Who::Boto3, naive, real, &empty, empty_shape);
        runs.push(sync_once(bench, c, &store.group).await);
        store
    } else {
        progress(&format!(
            "  naive baseline from empty at N = {}: not run (one call at a time needs over {:.0} s)",
            thousands(n64),
            naive_empty_secs
        ));
        seed_roster(bench, n, n).await?
    };
    let c = case(Who::Boto3, naive, real, &churned, churn_shape);
    runs.push(sync_once(bench, c, &store.group).await);
    Ok(runs)
}

/// Two sync-group invocations at once, each filling its own empty group with the same
/// `n` users. The quota is per identity store, so they share it: each paces itself at
/// the full 20 TPS, together they offer twice the quota, and the service's throttles
/// (with `RetryAfterSeconds`) are what must slow them down.
pub async fn shared_quota(bench: &mut Bench, n: usize) -> Result<Run, String> {
    let store = seed_roster(bench, n, 0).await?;
    client::create_groups(bench.addr, vec![("roster-2".into(), None)])
        .await
        .map_err(|e| format!("seeding groups: {e}"))?;
    let pace = Pace::real(bench.latency_ms);
    let sync = bench.programs.native("sync-group");
    let env = bench.env(pace, &[("EXPECTED_STORE_USERS", (n + n / 10).to_string())]);
    let members = &store.users[..n];
    let title = format!(
        "Two sync-group invocations at once, each N = {} from empty, sharing the quota",
        thousands(n as u64)
    );
    progress(&format!("  {title} ({})", pace.describe()));
    let mut run = Run {
        id: "shared-quota".into(),
        title,
        who: Who::Turnstile,
        pace,
        calls: Calls::default(),
        budget: None,
        expect_no_writes: false,
        shape: None,
        wall: Duration::ZERO,
        init: Duration::ZERO,
        peak_rss: None,
        failure: None,
        ledger_calls: None,
        ledger_budget: None,
    };
    let log_a = bench.log_path("shared-quota-a");
    let log_b = bench.log_path("shared-quota-b");
    let mut first = Function::start(&sync, &env, &log_a).await?;
    let mut second = Function::start(&sync, &env, &log_b).await?;
    bench
        .admin
        .set_faults(&pace.faults())
        .await
        .map_err(|e| format!("faults: {e}"))?;
    bench
        .admin
        .reset_counters()
        .await
        .map_err(|e| format!("counters: {e}"))?;
    let event_b =
        json!({ "group": { "displayName": "roster-2" }, "members": members, "mode": "replace", "maxRemovals": 0 });
    let (outcome_a, outcome_b) = tokio::join!(first.invoke(sync_event(members, 0, false)), second.invoke(event_b));
    run.peak_rss = first.peak_rss().max(second.peak_rss());
    first.stop().await;
    second.stop().await;
    run.calls = Calls::from_counters(&bench.admin.counters().await.map_err(|e| format!("counters: {e}"))?);
    let _ = bench.admin.set_faults(&FaultConfig::default()).await;
    for outcome in [outcome_a, outcome_b] {
        match outcome {
            Ok(o) if !o.is_error => {
                run.wall = run.wall.max(o.duration);
                let added = len(&o.body, "added");
                check(&mut run, added == n, || format!("expected {n} added, got {added}"));
            }
            Ok(o) => run.failure = Some(format!("the function failed: {}", o.body)),
            Err(e) => run.failure = Some(e),
        }
    }
    Ok(run)
}

/// Init times of each program, measured side by side: `rounds` rounds, each starting
/// every program once in a rotating order, after one discarded warm-up round.
pub async fn cold_starts(
    bench: &mut Bench,
    programs: &[(String, Program)],
    rounds: usize,
) -> Result<Vec<Vec<(Duration, Option<Duration>)>>, String> {
    let env = bench.env(Pace::real(bench.latency_ms), &[]);
    let mut times = vec![Vec::new(); programs.len()];
    for round in 0..=rounds {
        for k in 0..programs.len() {
            let i = (k + round) % programs.len();
            let (label, program) = &programs[i];
            let log = bench.scratch.join(format!("init-{label}.log"));
            let function = Function::start(program, &env, &log).await?;
            if round > 0 {
                times[i].push((function.init, function.init_cpu));
            }
            function.stop().await;
        }
        if round > 0 && round % 5 == 0 {
            progress(&format!("  cold starts: {round} of {rounds} rounds"));
        }
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sync_budget_follows_the_issue() {
        // From empty at N = 10,000 in a store of 11,000: 2 + 0 + 110 + 10,000.
        let shape = SyncShape {
            n: 10_000,
            m: 0,
            u: 11_000,
            d: 10_000,
            r: 0,
        };
        assert_eq!(shape.budget(), 10_112);
        // Few names in a large store: lookups are cheaper than the listing.
        let shape = SyncShape {
            n: 2,
            m: 2,
            u: 350,
            d: 2,
            r: 1,
        };
        assert_eq!(shape.budget(), 2 + 1 + 3 + 2);
    }

    #[test]
    fn churn_swaps_one_percent() {
        let users: Vec<String> = (0..330).map(|i| format!("u{i}")).collect();
        let (empty, churned, c) = rosters(&users, 300);
        assert_eq!(c, 3);
        assert_eq!(empty.len(), 300);
        assert_eq!(churned.len(), 300);
        assert!(!churned.contains(&users[0]));
        assert!(churned.contains(&users[300]));
    }

    #[test]
    fn long_runs_are_compressed_to_whole_milliseconds() {
        assert_eq!(speedup_for(50.0, 60.0, 100), 1);
        assert_eq!(speedup_for(250.0, 60.0, 100), 5);
        assert_eq!(speedup_for(500.0, 60.0, 100), 10);
        assert_eq!(speedup_for(500.0, 60.0, 50), 10);
    }
}
