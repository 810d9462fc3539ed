//! BENCHMARKS.md and the terminal tables: the same markdown.

use std::fmt::Write as _;
use std::time::Duration;

use crate::calls::{thousands, to_f64};
use crate::machine::Machine;
use crate::pace::Pace;
use crate::scenarios::{Run, Who};

/// Targets of the issue.
pub const MAX_TIME_OVER_BOUND: f64 = 1.15;
pub const MAX_THROTTLED_SHARE: f64 = 0.05;
pub const MAX_INIT_OVER_HELLO: f64 = 1.5;
pub const MAX_BINARY_BYTES: u64 = 8_000_000;
pub const MAX_SYNC_RSS_BYTES: u64 = 32_000_000;

/// A program whose init was timed (and, for native binaries, whose size was measured).
#[derive(Debug, Clone)]
pub struct Binary {
    pub label: String,
    /// Size as built, and after `strip` (None when not a native binary).
    pub size: Option<u64>,
    pub stripped: Option<u64>,
    pub init: Vec<Duration>,
    /// CPU time at the first request for work, per start.
    pub init_cpu: Vec<Duration>,
}

impl Binary {
    pub fn median_init(&self) -> Option<Duration> {
        median(&self.init)
    }

    /// The fastest start: the one least disturbed by other work on the machine.
    pub fn best_init(&self) -> Option<Duration> {
        self.init.iter().min().copied()
    }

    pub fn median_cpu(&self) -> Option<Duration> {
        median(&self.init_cpu)
    }
}

pub fn median(times: &[Duration]) -> Option<Duration> {
    let mut sorted = times.to_vec();
    sorted.sort();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// Everything one run of the harness measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub machine: Machine,
    pub started_utc: String,
    pub elapsed: Duration,
    pub args: String,
    pub latency_ms: u64,
    pub rounds: usize,
    pub groups: usize,
    pub leaver_memberships: usize,
    pub lifecycle: Vec<Run>,
    pub syncs: Vec<Run>,
    /// Two sync-group invocations sharing the quota, if run.
    pub shared: Option<Run>,
    /// hello first, then the functions, then the boto3 handler.
    pub binaries: Vec<Binary>,
    pub plot_file: String,
    pub notes: Vec<String>,
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 100.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.0} s")
    }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", to_f64(bytes) / 1e6)
}

const fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::INFINITY
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

fn function_label(run: &Run) -> &'static str {
    match run.who {
        Who::Boto3 if run.id.starts_with("naive") => "naive boto3 sync",
        Who::Boto3 => "boto3 handler",
        Who::Turnstile if run.id.starts_with("sync") => "sync-group",
        Who::Turnstile if run.id.starts_with("leaver") => "offboard-user",
        Who::Turnstile => "onboard-user",
    }
}

fn pace_label(pace: Pace) -> String {
    if pace.speedup == 1 {
        "20 TPS".into()
    } else {
        format!("{} TPS, time ÷{}", pace.calls_per_second(), pace.speedup)
    }
}

impl Report {
    fn turnstile_syncs(&self) -> impl Iterator<Item = &Run> {
        self.syncs.iter().filter(|r| r.who == Who::Turnstile)
    }

    fn find(&self, id: &str) -> Option<&Run> {
        self.lifecycle.iter().chain(&self.syncs).find(|r| r.id == id)
    }

    fn hello(&self) -> Option<&Binary> {
        self.binaries.iter().find(|b| b.label == "hello-lambda")
    }

    fn binary(&self, label: &str) -> Option<&Binary> {
        self.binaries.iter().find(|b| b.label == label)
    }

    fn sync_rss(&self) -> Option<(u64, &Run)> {
        let largest = self.turnstile_syncs().map(|r| r.shape.map_or(0, |s| s.n)).max()?;
        self.turnstile_syncs()
            .filter(|r| r.shape.is_some_and(|s| s.n == largest))
            .filter_map(|r| r.peak_rss.map(|b| (b, r)))
            .max_by_key(|(b, _)| *b)
    }

    /// The whole document.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Written by `make bench` ([scripts/bench.sh](scripts/bench.sh), the harness in [bench/](bench/)) on {}; \
             the run took {:.1} min. Every figure below is from that run; to reproduce all of them:\n",
            self.started_utc,
            self.elapsed.as_secs_f64() / 60.0
        );
        let _ = writeln!(md, "```sh\nmake bench\n```\n");
        let _ = writeln!(
            md,
            "It works from a clean clone: it installs boto3 into `.venv/` with \
             [scripts/bootstrap.sh](scripts/bootstrap.sh), builds the three functions and a hello-world \
             `lambda_runtime` binary ([bench/hello](bench/hello)) once with the release profile, builds the \
             harness, runs every scenario, and rewrites this file and [{0}]({0}). Arguments after \
             `make bench ARGS=\"...\"` go to the harness (`--help` lists them). Harness arguments of this run: `{1}`.\n",
            self.plot_file, self.args
        );
        let _ = writeln!(md, "**Machine:** {}.\n", self.machine.describe());
        md.push_str(&self.summary());
        md.push_str(&self.setup());
        md.push_str(&self.budget_table());
        md.push_str(&self.ledger_table());
        md.push_str(&self.throughput_table());
        md.push_str(&self.baseline_table());
        md.push_str(&self.lifecycle_table());
        md.push_str(&self.cold_start_table());
        md.push_str(&self.boto3_table());
        md.push_str(&self.footprint());
        if !self.notes.is_empty() {
            let _ = writeln!(md, "## Notes\n");
            for note in &self.notes {
                let _ = writeln!(md, "- {note}");
            }
            md.push('\n');
        }
        md
    }

    /// The tables alone, for the terminal.
    pub fn terminal(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.summary());
        out.push_str(&self.budget_table());
        out.push_str(&self.throughput_table());
        out.push_str(&self.baseline_table());
        out.push_str(&self.lifecycle_table());
        out.push_str(&self.cold_start_table());
        out.push_str(&self.boto3_table());
        out.push_str(&self.footprint());
        out
    }

    fn setup(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## How the runs are set up\n");
        let _ = writeln!(
            md,
            "- **Quota and latency.** The in-process Identity Store emulator ([tests/emulator](tests/emulator/README.md)) \
             limits every API with its own token bucket of 20 requests per second (the documented quota: 20 TPS per API \
             per identity store), 20 tokens deep (one second's worth), and adds **{} ms** of latency to every call. \
             At the real quota a throttled call carries `RetryAfterSeconds: 1`, as the service's ThrottlingException can.",
            self.latency_ms
        );
        let _ = writeln!(
            md,
            "- **The functions** are the release binaries, each started as its own process under a minimal Lambda \
             Runtime API stand-in on 127.0.0.1 (the harness serves `GET /2018-06-01/runtime/invocation/next`, \
             `.../response` and `.../error`; `AWS_LAMBDA_RUNTIME_API` points at it), with the environment of a \
             Lambda execution environment and the emulator as `AWS_ENDPOINT_URL_IDENTITYSTORE`. Their own \
             configuration is the design's: `CALLS_PER_SECOND` equal to the emulator's rate (20, or 20 × k in a \
             compressed run), `MAX_CONCURRENCY` at its default 8, `MAX_ATTEMPTS` and backoff at their defaults, and \
             for sync-group `EXPECTED_STORE_USERS` = U and `maxRemovals` = R in the request. `LEAVERS_GROUP` is \
             set empty: the leavers fence, on by default and in the SAM template, is off, because the budgets \
             were set without it (docs/contract.md states its cost in calls). A time is the invocation's duration: \
             from handing the event out to the function's answer."
        );
        let _ = writeln!(
            md,
            "- **Time compression.** Runs that would take over a minute at 20 TPS are compressed by a factor k: the \
             emulator's rate and the functions' `CALLS_PER_SECOND` are multiplied by k and the added latency is \
             divided by k, while sizes, call counts and the bucket's depth in tokens stay the same. Every time in \
             such a run is 1/k of the time at the real quota; the tables give both, and the pace column names k. \
             What does not shrink with k (CPU time per call in the function and the emulator, loopback round trips) \
             makes compressed runs slightly pessimistic. A throttle in a compressed run carries no RetryAfterSeconds \
             (a whole second cannot be compressed); the functions then back off on their own."
        );
        let _ = writeln!(
            md,
            "- **Stores.** Lifecycle scenarios: G = {} existing groups for the joiner; a leaver in M = {} groups. \
             Roster syncs: U = N + N/10 users, 20 other groups of 50 members, and the group `roster`. \
             *From empty*: the group exists with no members and the roster lists N users. \
             *1% churn*: the group has N members and the roster drops N/100 of them and adds N/100 others \
             (R = N/100 removals, D = N/50 writes). The requests name the group by its displayName only, except \
             the one marked *request with the description*, which also gives the group's (unchanged) \
             description.",
            self.groups, self.leaver_memberships
        );
        let _ = writeln!(
            md,
            "- **Calls** are counted by the emulator per API and outcome, including throttled ones. The *quota \
             bound* is the largest, over the APIs a run used, of that API's calls (those the rate limit let \
             through) divided by its rate: no run can beat it.\n"
        );
        md
    }

    fn summary(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(md, "| Target | Measured | Met |");
        let _ = writeln!(md, "| --- | --- | --- |");
        for run in self.lifecycle.iter().chain(&self.syncs).filter(|r| r.budget.is_some()) {
            let budget = run.budget.unwrap_or(0);
            let mut measured = format!("{} calls", thousands(run.calls.total()));
            if run.expect_no_writes {
                let _ = write!(measured, ", {} writes", run.calls.writes);
            }
            if let Some(f) = &run.failure {
                let _ = write!(measured, "; failed: {}", short(f));
            }
            let _ = writeln!(
                md,
                "| {}: at most {} calls{} | {measured} | {} |",
                run.title,
                thousands(budget),
                if run.expect_no_writes { " and no write" } else { "" },
                yes(run.budget_met() == Some(true))
            );
        }
        md.push_str(&self.ledger_targets());
        for run in self.turnstile_syncs() {
            let real = run.pace.to_real(run.wall);
            let bound = run.pace.to_real(run.bound());
            let _ = writeln!(
                md,
                "| {}: time at most {MAX_TIME_OVER_BOUND}× the quota bound | {} against {} ({:.2}×) | {} |",
                run.title,
                secs(real),
                secs(bound),
                run.ratio(),
                yes(run.failure.is_none() && run.ratio() <= MAX_TIME_OVER_BOUND)
            );
            let _ = writeln!(
                md,
                "| {}: throttled at most 5% of calls | {} of {} ({:.2}%) | {} |",
                run.title,
                thousands(run.calls.throttled()),
                thousands(run.calls.total()),
                run.throttled_share() * 100.0,
                yes(run.throttled_share() <= MAX_THROTTLED_SHARE)
            );
        }
        if let (Some(hello), Some(hello_best)) = (
            self.hello().and_then(Binary::median_init),
            self.hello().and_then(Binary::best_init),
        ) {
            for b in self
                .binaries
                .iter()
                .filter(|b| b.size.is_some() && b.label != "hello-lambda" && !b.label.contains('['))
            {
                if let (Some(init), Some(best)) = (b.median_init(), b.best_init()) {
                    let r = ratio(init, hello);
                    let r_best = ratio(best, hello_best);
                    let _ = writeln!(
                        md,
                        "| {} init at most {MAX_INIT_OVER_HELLO}× hello-world's | fastest start {} against {} \
                         ({r_best:.2}×); median {} against {} ({r:.2}×) | {} |",
                        b.label,
                        ms(best),
                        ms(hello_best),
                        ms(init),
                        ms(hello),
                        yes(r_best <= MAX_INIT_OVER_HELLO && r <= MAX_INIT_OVER_HELLO)
                    );
                }
            }
        }
        for b in self
            .binaries
            .iter()
            .filter(|b| b.label != "hello-lambda" && !b.label.contains('['))
        {
            if let Some(size) = b.stripped.or(b.size) {
                let _ = writeln!(
                    md,
                    "| {} stripped release binary at most 8 MB | {} | {} |",
                    b.label,
                    mb(size),
                    yes(size <= MAX_BINARY_BYTES)
                );
            }
        }
        if let Some((rss, run)) = self.sync_rss() {
            let _ = writeln!(
                md,
                "| sync-group peak RSS (VmHWM) at N = {} at most 32 MB | {} ({}) | {} |",
                thousands(run.shape.map_or(0, |s| s.n)),
                mb(rss),
                run.title,
                yes(rss <= MAX_SYNC_RSS_BYTES)
            );
        }
        md.push('\n');
        md.push_str(&self.headlines());
        md
    }

    /// The ratios worth quoting.
    pub fn headlines(&self) -> String {
        let mut md = String::new();
        let mut lines = Vec::new();
        let worst = self
            .turnstile_syncs()
            .filter(|r| r.id.ends_with("empty"))
            .map(Run::ratio)
            .fold(0.0, f64::max);
        if worst > 0.0 {
            lines.push(format!(
                "Roster syncs from an empty group finish within {worst:.2}× of the quota bound at every size."
            ));
        }
        let (mut t_calls, mut n_calls, mut t_time, mut n_time) = (0, 0, Duration::ZERO, Duration::ZERO);
        for naive in self.syncs.iter().filter(|r| r.who == Who::Boto3 && r.failure.is_none()) {
            if let Some(ours) = self.find(&naive.id.replacen("naive", "sync", 1)) {
                t_calls += ours.calls.total();
                n_calls += naive.calls.total();
                t_time += ours.pace.to_real(ours.wall);
                n_time += naive.pace.to_real(naive.wall);
                if naive.id.ends_with("churn") {
                    lines.push(format!(
                        "{}: the naive one-call-at-a-time sync takes {:.1}× the time ({} against {}) and {:.2}× the calls.",
                        naive.title,
                        ratio(naive.pace.to_real(naive.wall), ours.pace.to_real(ours.wall)),
                        secs(naive.pace.to_real(naive.wall)),
                        secs(ours.pace.to_real(ours.wall)),
                        to_f64(naive.calls.total()) / to_f64(ours.calls.total().max(1)),
                    ));
                }
            }
        }
        if t_calls > 0 {
            lines.push(format!(
                "Over every sync scenario the naive baseline ran: {:.1}× the time and {:.2}× the calls of sync-group.",
                ratio(n_time, t_time),
                to_f64(n_calls) / to_f64(t_calls)
            ));
        }
        if let (Some(rust), Some(py)) = (self.find("joiner-turnstile"), self.find("joiner-boto3")) {
            lines.push(format!(
                "Joiner with {} groups: boto3 handler {} against onboard-user {} ({:.1}×).",
                self.groups,
                secs(py.wall),
                secs(rust.wall),
                ratio(py.wall, rust.wall)
            ));
        }
        if let (Some(rust), Some(py)) = (
            self.binary("onboard-user").and_then(Binary::median_init),
            self.binary("boto3 onboard").and_then(Binary::median_init),
        ) {
            lines.push(format!(
                "Cold start (init): boto3 handler {} against onboard-user {} ({:.0}×).",
                ms(py),
                ms(rust),
                ratio(py, rust)
            ));
        }
        if let Some(hello) = self.hello().and_then(Binary::median_init) {
            let worst = self
                .binaries
                .iter()
                .filter(|b| b.size.is_some() && b.label != "hello-lambda")
                .filter_map(Binary::median_init)
                .max();
            if let Some(worst) = worst {
                lines.push(format!(
                    "The slowest function init is {:.2}× a hello-world lambda_runtime binary's ({} against {}).",
                    ratio(worst, hello),
                    ms(worst),
                    ms(hello)
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(md, "Headlines:\n");
            for l in lines {
                let _ = writeln!(md, "- {l}");
            }
            md.push('\n');
        }
        md
    }

    fn budget_table(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Call budgets\n");
        let _ = writeln!(
            md,
            "Calls counted by the emulator, per API. The boto3 rows do the same job one call at a time, for \
             comparison (no budget applies to them).\n"
        );
        let _ = writeln!(
            md,
            "| Scenario | Function | Calls per API | Total | Budget | Writes | Met |"
        );
        let _ = writeln!(md, "| --- | --- | --- | ---: | ---: | ---: | --- |");
        for run in self.lifecycle.iter().chain(&self.syncs) {
            let budget = run.budget.map_or_else(|| "–".into(), thousands);
            let met = match run.budget_met() {
                Some(ok) => yes(ok).to_owned(),
                None if run.failure.is_some() => "**failed**".into(),
                None => "–".into(),
            };
            let _ = writeln!(
                md,
                "| {}{} | {} | {} | {} | {budget} | {} | {met} |",
                run.title,
                shape_label(run),
                function_label(run),
                run.calls.summary(),
                thousands(run.calls.total()),
                thousands(run.calls.writes),
            );
        }
        md.push('\n');
        for run in self.lifecycle.iter().chain(&self.syncs) {
            if let Some(f) = &run.failure {
                let _ = writeln!(md, "- {} ({}) failed: {}", run.title, function_label(run), short(f));
            }
        }
        md.push('\n');
        md.push_str(&self.budget_misses());
        md
    }

    /// The Targets rows of the ledger's DynamoDB calls.
    fn ledger_targets(&self) -> String {
        let mut md = String::new();
        for run in self.lifecycle.iter().chain(&self.syncs) {
            let Some(budget) = run.ledger_budget else { continue };
            let _ = writeln!(
                md,
                "| {}: the ledger at most {budget} DynamoDB calls more | {} | {} |",
                run.title,
                run.ledger_total()
                    .map_or_else(|| "not counted".into(), |t| format!("{t} calls")),
                yes(run.ledger_budget_met() == Some(true))
            );
        }
        md
    }

    /// The ledger's own calls, counted on the way to DynamoDB.
    fn ledger_table(&self) -> String {
        let ledgered: Vec<&Run> = self
            .lifecycle
            .iter()
            .chain(&self.syncs)
            .filter(|r| r.ledger_budget.is_some())
            .collect();
        if ledgered.is_empty() {
            return String::new();
        }
        let mut md = String::new();
        let _ = writeln!(md, "## The ledger's DynamoDB calls\n");
        let _ = writeln!(
            md,
            "The runs marked \"ledger on\" above, with the DynamoDB calls the function made besides its Identity \
             Store calls, counted by a forwarding proxy in front of moto's server (bench/src/dynamodb.rs; its hop adds a \
             loopback connection per call to the \"ledger on\" times). Budget \
             (issue 11): at most 2 more calls for a user event, at most ceil(N/100) + 2 for a roster of N \
             members.\n"
        );
        let _ = writeln!(md, "| Scenario | Calls per operation | Total | Budget | Met |");
        let _ = writeln!(md, "| --- | --- | ---: | ---: | --- |");
        for run in ledgered {
            let calls = run.ledger_calls.as_ref().map_or_else(
                || "–".to_owned(),
                |calls| {
                    calls
                        .iter()
                        .map(|(operation, n)| format!("{operation} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            );
            let met = match run.ledger_budget_met() {
                Some(true) => "yes",
                _ if run.failure.is_some() => "**failed**",
                _ => "**no**",
            };
            let _ = writeln!(
                md,
                "| {} | {calls} | {} | {} | {met} |",
                run.title,
                run.ledger_total().map_or_else(|| "–".into(), thousands),
                thousands(run.ledger_budget.unwrap_or(0)),
            );
        }
        md.push('\n');
        md
    }

    /// Why a sync missed its call budget, from its own calls.
    fn budget_misses(&self) -> String {
        let mut md = String::new();
        for run in self
            .turnstile_syncs()
            .filter(|r| r.budget_met() == Some(false) && r.failure.is_none())
        {
            let Some(shape) = run.shape else { continue };
            let _ = write!(
                md,
                "- {}: {} calls against a budget of {}.",
                run.title,
                thousands(run.calls.total()),
                thousands(run.budget.unwrap_or(0))
            );
            if shape.m == 0 && run.calls.accepted("DescribeGroup") > 0 && run.calls.accepted("ListGroupMemberships") > 0
            {
                let _ = write!(
                    md,
                    " The request gives the group's description, so sync-group reads the group (DescribeGroup) to \
                     compare it, and it lists the members of the empty group (one ListGroupMemberships page, where the \
                     budget's ceil(M/100) counts none): GetGroupId, DescribeGroup and one empty page make 3 fixed calls \
                     where the budget has 2. With M >= 1, or without a description in the request, the same sync \
                     meets the budget (see the rows above)."
                );
            }
            md.push('\n');
        }
        if !md.is_empty() {
            md.insert_str(0, "Where a call budget is missed, and why:\n\n");
            md.push('\n');
        }
        md
    }

    fn throughput_table(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Roster sync at the quota\n");
        let _ = writeln!(
            md,
            "sync-group's time against the quota bound (target: at most {MAX_TIME_OVER_BOUND}×, with at most 5% of \
             calls throttled). *Dependency floor*: the fastest any roster sync can be with these calls, given \
             what must wait for what: GetGroupId, then the reads (a paginated listing sends one page after the \
             other, so it takes at least its pages × the latency, or pages / rate if that is longer), then the \
             writes at their APIs' rates.\n"
        );
        let _ = writeln!(
            md,
            "| Scenario | Pace | Busiest API | Calls | Throttled | Time measured | Time at 20 TPS | Quota bound at 20 TPS | Time / bound | Dependency floor at 20 TPS | Time / floor | Peak RSS |"
        );
        let _ = writeln!(
            md,
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for run in self.turnstile_syncs() {
            let floor = run.dependency_floor();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} ({:.2}%) | {} | {} | {} | {:.2}× | {} | {:.2}× | {} |",
                run.title,
                pace_label(run.pace),
                run.calls.busiest().unwrap_or("–"),
                thousands(run.calls.total()),
                thousands(run.calls.throttled()),
                run.throttled_share() * 100.0,
                secs(run.wall),
                secs(run.pace.to_real(run.wall)),
                secs(run.pace.to_real(run.bound())),
                run.ratio(),
                secs(run.pace.to_real(floor)),
                ratio(run.wall, floor),
                run.peak_rss.map_or_else(|| "–".into(), mb),
            );
        }
        md.push('\n');
        let _ = writeln!(md, "![Roster sync time against group size]({})\n", self.plot_file);
        md.push_str(&self.misses());
        md.push_str(&self.shared_quota());
        md
    }

    fn shared_quota(&self) -> String {
        let mut md = String::new();
        let Some(run) = &self.shared else { return md };
        let _ = writeln!(
            md,
            "### Two invocations sharing the quota
"
        );
        let _ = writeln!(
            md,
            "Beyond the issue's scenarios: the quota is per identity store, so two sync-group invocations running \
             at once (two execution environments) share it, and each paces itself at the full 20 TPS. Together \
             they offer the busiest API twice its quota; the emulator throttles the excess with \
             `RetryAfterSeconds: 1`, and the functions' pacing halves its rate on a throttle and holds that API \
             for the hinted time. The bound is the busiest API's calls from both, over its one quota.\n"
        );
        let _ = writeln!(
            md,
            "| Run | Calls | Throttled | Time | Quota bound | Time / bound | Failure |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: | --- |");
        let _ = writeln!(
            md,
            "| {} | {} | {} ({:.1}%) | {} | {} | {:.2}× | {} |\n",
            run.title,
            run.calls.summary(),
            thousands(run.calls.throttled()),
            run.throttled_share() * 100.0,
            secs(run.wall),
            secs(run.bound()),
            run.ratio(),
            run.failure.as_deref().map_or_else(|| "none".into(), short),
        );
        md
    }

    /// Why a sync missed the time target, from its own numbers.
    fn misses(&self) -> String {
        let mut md = String::new();
        let missed: Vec<&Run> = self
            .turnstile_syncs()
            .filter(|r| r.failure.is_none() && r.ratio() > MAX_TIME_OVER_BOUND)
            .collect();
        if missed.is_empty() {
            return md;
        }
        let _ = writeln!(md, "Where the time target is missed, and why:\n");
        for run in missed {
            let rate = run.pace.rate();
            let latency = run.pace.latency().as_secs_f64();
            let pages = run
                .calls
                .accepted("ListUsers")
                .max(run.calls.accepted("ListGroupMemberships"));
            let listing = to_f64(pages) * latency.max(1.0 / rate);
            let floor = run.dependency_floor();
            let _ = write!(
                md,
                "- {}: {:.2}× the bound. No sync within the contract and the call budget can start writing \
                 before its listings end: an add needs the whole member listing (to know the user is not a member \
                 without a call per user), and a removal needs every member's userName and the number of removals \
                 (`MassRemovalBlocked` is decided before any write). The listings send their {} pages one after the \
                 other: at least {} at 20 TPS before the first write, against a quota bound of {} for the whole run. \
                 The dependency floor, listings then writes, is {} ({:.2}× the bound)",
                run.title,
                run.ratio(),
                thousands(pages),
                secs(run.pace.to_real(Duration::from_secs_f64(listing))),
                secs(run.pace.to_real(run.bound())),
                secs(run.pace.to_real(floor)),
                ratio(run.bound().max(floor), run.bound()),
            );
            let over = ratio(run.wall, floor);
            let _ = write!(md, "; the measured time is {over:.2}× that floor");
            md.push_str(".\n");
        }
        md.push('\n');
        md
    }

    fn baseline_table(&self) -> String {
        let mut md = String::new();
        let naive: Vec<&Run> = self.syncs.iter().filter(|r| r.who == Who::Boto3).collect();
        let _ = writeln!(md, "## Against the naive sync\n");
        if naive.is_empty() {
            let _ = writeln!(
                md,
                "The naive baseline was not run (no `.venv/bin/python` with boto3, or `--no-baseline`).\n"
            );
            return md;
        }
        let _ = writeln!(
            md,
            "The pattern of ssosync, idp-scim-sync and hand-written boto3 scripts, as a boto3 handler \
             ([bench/boto3/naive_sync.py](bench/boto3/naive_sync.py)) under the same stand-in, emulator, quota and \
             latency: every run reads every user, every group and every group's members, then writes the \
             difference one call at a time. Always at the real quota (its per-call Python overhead would not \
             compress); from an empty group only where one call at a time fits in a few minutes.\n"
        );
        let _ = writeln!(
            md,
            "| Scenario | sync-group calls | Naive calls | Calls ratio | sync-group time at 20 TPS | Naive time | Time ratio |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for run in &naive {
            let Some(ours) = self.find(&run.id.replacen("naive", "sync", 1)) else {
                continue;
            };
            let (ours_t, naive_t) = (ours.pace.to_real(ours.wall), run.pace.to_real(run.wall));
            let failed = run
                .failure
                .as_deref()
                .map(|f| format!(" (failed: {})", short(f)))
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| {}{failed} | {} | {} | {:.2}× | {} | {} | {:.1}× |",
                run.title,
                thousands(ours.calls.total()),
                thousands(run.calls.total()),
                to_f64(run.calls.total()) / to_f64(ours.calls.total().max(1)),
                secs(ours_t),
                secs(naive_t),
                ratio(naive_t, ours_t)
            );
        }
        md.push('\n');
        for run in self.turnstile_syncs() {
            let naive_id = run.id.replacen("sync", "naive", 1);
            if run.id.ends_with("empty") && self.find(&naive_id).is_none() {
                let n = run.shape.map_or(0, |s| s.n);
                let _ = writeln!(
                    md,
                    "- Naive from empty at N = {}: not run. One call at a time, its {} writes alone take at least \
                     {} at {} ms per call.",
                    thousands(n),
                    thousands(n),
                    secs(Duration::from_millis(self.latency_ms.max(50)) * u32::try_from(n).unwrap_or(u32::MAX)),
                    self.latency_ms.max(50)
                );
            }
        }
        md.push('\n');
        md
    }

    fn lifecycle_table(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Joiner, mover, leaver at 20 TPS\n");
        let _ = writeln!(
            md,
            "Rows marked \"ledger on\" run with `LEDGER_TABLE` set, the table on moto's DynamoDB server on \
             127.0.0.1 (no added latency), and each event in the EventBridge envelope, whose time and id the \
             ledger needs; Calls counts the Identity Store's calls only (the ledger's DynamoDB calls are in \
             [their own table](#the-ledgers-dynamodb-calls)), Time includes the ledger's.\n"
        );
        let _ = writeln!(md, "| Scenario | Function | Calls | Time | Quota bound | Peak RSS |");
        let _ = writeln!(md, "| --- | --- | ---: | ---: | ---: | ---: |");
        for run in &self.lifecycle {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                run.title,
                function_label(run),
                thousands(run.calls.total()),
                secs(run.wall),
                secs(run.bound()),
                run.peak_rss.map_or_else(|| "–".into(), mb),
            );
        }
        md.push('\n');
        md
    }

    fn cold_start_table(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Cold start and size\n");
        let _ = writeln!(
            md,
            "Init: from process start to the first `GET /2018-06-01/runtime/invocation/next`, measured side by \
             side ({} rounds, each starting every program once in rotating order, after a discarded warm-up \
             round). Sizes are of the release binaries (`strip = true` in the profile; `strip` changes nothing \
             further when the two columns agree). MB = 10^6 bytes.\n",
            self.rounds
        );
        let _ = writeln!(
            md,
            "| Program | Size | Stripped size | Init median | Init min – max | Init / hello-world | Init CPU median | CPU / hello-world |"
        );
        let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for b in &self.binaries {
            // A variant is compared with the hello-world built the same way, if given.
            let reference = b
                .label
                .split_once(" [")
                .and_then(|(_, variant)| self.binary(&format!("hello-lambda [{variant}")))
                .or_else(|| self.hello());
            let hello = reference.and_then(Binary::median_init);
            let hello_cpu = reference.and_then(Binary::median_cpu);
            let (lo, hi) = (b.init.iter().min(), b.init.iter().max());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                b.label,
                b.size.map_or_else(|| "–".into(), mb),
                b.stripped.map_or_else(|| "–".into(), mb),
                b.median_init().map_or_else(|| "–".into(), ms),
                match (lo, hi) {
                    (Some(lo), Some(hi)) => format!("{} – {}", ms(*lo), ms(*hi)),
                    _ => "–".into(),
                },
                match (b.median_init(), hello) {
                    (Some(i), Some(h)) => format!("{:.2}×", ratio(i, h)),
                    _ => "–".into(),
                },
                b.median_cpu().map_or_else(|| "–".into(), ms),
                match (b.median_cpu(), hello_cpu) {
                    (Some(i), Some(h)) => format!("{:.2}×", ratio(i, h)),
                    _ => "–".into(),
                },
            );
        }
        md.push('\n');
        md.push_str(&self.footprint_misses());
        md
    }

    /// Why the init or size target is missed, pointing at the measured options.
    fn footprint_misses(&self) -> String {
        let mut md = String::new();
        let judged = || {
            self.binaries
                .iter()
                .filter(|b| b.size.is_some() && b.label != "hello-lambda" && !b.label.contains('['))
        };
        let size_missed = judged().any(|b| b.stripped.or(b.size).is_some_and(|s| s > MAX_BINARY_BYTES));
        let init_missed = match (
            self.hello().and_then(Binary::median_init),
            self.hello().and_then(Binary::best_init),
        ) {
            (Some(hello), Some(hello_best)) => judged().any(|b| {
                b.median_init().is_some_and(|i| ratio(i, hello) > MAX_INIT_OVER_HELLO)
                    || b.best_init()
                        .is_some_and(|i| ratio(i, hello_best) > MAX_INIT_OVER_HELLO)
            }),
            _ => false,
        };
        if init_missed {
            let _ = writeln!(
                md,
                "- The init target is missed. The functions read no CA roots from the system any more (a fixed \
                 trust store, see [bench/FOOTPRINT.md](bench/FOOTPRINT.md)); what remains over the hello-world is \
                 the SDK's configuration loading, building the client with its TLS configuration (together 0.3 to \
                 0.7 ms in FOOTPRINT.md's probe), and a binary about four times the size (more pages to fault in \
                 and more relocations to apply at load). No build option measured there changes it."
            );
        }
        if size_missed {
            let _ = writeln!(
                md,
                "- The size target is missed with the committed release profile. [bench/FOOTPRINT.md](bench/FOOTPRINT.md) \
                 measures the options (opt-level \"z\", the ring provider, both) side by side; the profile is \
                 changed only by an option that meets both the size and the init target."
            );
        }
        if !md.is_empty() {
            md.push('\n');
        }
        md
    }

    fn boto3_table(&self) -> String {
        let mut md = String::new();
        let (Some(rust_init), Some(py_init)) = (
            self.binary("onboard-user").and_then(Binary::median_init),
            self.binary("boto3 onboard").and_then(Binary::median_init),
        ) else {
            return md;
        };
        let _ = writeln!(md, "## onboard-user against a boto3 handler\n");
        let _ = writeln!(
            md,
            "The boto3 handler ([bench/boto3/onboard.py](bench/boto3/onboard.py)) makes the same calls one at a \
             time and creates its client at import, as handlers usually do; it runs under a minimal Python \
             runtime loop ([bench/boto3/bootstrap.py](bench/boto3/bootstrap.py), urllib) and the same stand-in. \
             The onboarding is a joiner with G = {} existing groups, the first invocation of a fresh process, at \
             20 TPS with {} ms latency.\n",
            self.groups, self.latency_ms
        );
        let _ = writeln!(md, "| Measure | onboard-user | boto3 handler | boto3 / onboard-user |");
        let _ = writeln!(md, "| --- | ---: | ---: | ---: |");
        let _ = writeln!(
            md,
            "| Init (median) | {} | {} | {:.1}× |",
            ms(rust_init),
            ms(py_init),
            ratio(py_init, rust_init)
        );
        if let (Some(rust), Some(py)) = (self.find("joiner-turnstile"), self.find("joiner-boto3")) {
            let _ = writeln!(
                md,
                "| One onboarding (invocation) | {} | {} | {:.2}× |",
                ms(rust.wall),
                ms(py.wall),
                ratio(py.wall, rust.wall)
            );
            let _ = writeln!(
                md,
                "| Cold start + one onboarding (that process's init and first invocation) | {} | {} | {:.2}× |",
                ms(rust.init + rust.wall),
                ms(py.init + py.wall),
                ratio(py.init + py.wall, rust.init + rust.wall)
            );
            let _ = writeln!(
                md,
                "| Calls | {} | {} | {:.2}× |",
                rust.calls.total(),
                py.calls.total(),
                to_f64(py.calls.total()) / to_f64(rust.calls.total().max(1))
            );
        }
        md.push('\n');
        md
    }

    fn footprint(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Memory\n");
        let _ = writeln!(
            md,
            "Peak RSS is the function process's `VmHWM` from /proc, read after its answer, before it is stopped: \
             the whole process (runtime, SDK client, the request and every listing) for one invocation.\n"
        );
        for run in self.lifecycle.iter().chain(self.turnstile_syncs()) {
            if let Some(rss) = run.peak_rss {
                let _ = writeln!(md, "- {} ({}): {}", run.title, function_label(run), mb(rss));
            }
        }
        md.push('\n');
        md
    }
}

fn shape_label(run: &Run) -> String {
    run.shape.map_or_else(String::new, |s| {
        format!(
            " (N {}, M {}, U {}, D {}, R {})",
            thousands(s.n),
            thousands(s.m),
            thousands(s.u),
            thousands(s.d),
            thousands(s.r)
        )
    })
}

fn short(text: &str) -> String {
    let one_line = text.replace(['\n', '|'], " ");
    if one_line.chars().count() > 240 {
        let cut: String = one_line.chars().take(240).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}
