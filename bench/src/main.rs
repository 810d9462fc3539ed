//! Turnstile's benchmark harness (`make bench`).
//!
//! Runs the functions' release binaries under a Lambda Runtime API stand-in against
//! the in-process Identity Store emulator, with its per-API rate limit and added
//! latency on; counts calls per API; times roster syncs against the quota bound;
//! compares cold start and size with a hello-world lambda_runtime binary and a boto3
//! handler; writes BENCHMARKS.md and a PNG plot, and prints the same tables.

mod bulk;
mod calls;
mod client;
mod dynamodb;
mod ledger;
mod machine;
mod pace;
mod plot;
mod process;
mod report;
mod scenarios;
mod standin;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Parser;
use tokio::time::Instant;
use turnstile_emulator::{Emulator, Options};

use crate::calls::to_f64;
use crate::machine::Machine;
use crate::pace::Pace;
use crate::plot::Series;
use crate::process::Program;
use crate::report::{Binary, Report};
use crate::scenarios::{Bench, Programs, Run, SyncPlan, Who};

/// The store the emulator serves.
pub const STORE_ID: &str = turnstile_emulator::DEFAULT_STORE_ID;

/// Progress, on stderr, so that stdout carries only the tables.
pub fn progress(line: &str) {
    eprintln!("{line}");
}

// Command-line switches are naturally booleans.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Parser)]
#[command(about = "Turnstile's benchmark harness: writes BENCHMARKS.md and the sync-time plot")]
struct Args {
    /// Where the release binaries are (onboard-user, offboard-user, sync-group, hello-lambda).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Python with boto3 for the baselines (default: .venv/bin/python when it imports boto3).
    #[arg(long)]
    python: Option<PathBuf>,
    /// The markdown report to write.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// The PNG plot to write (linked from the report by this path).
    #[arg(long, default_value = "bench/sync-time.png")]
    plot: PathBuf,
    /// Where function logs go.
    #[arg(long, default_value = "target/bench")]
    scratch: PathBuf,
    /// Added latency per call at the real quota, in ms.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// Roster sizes N for sync-group.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    sizes: Vec<u64>,
    /// The functions' MAX_CONCURRENCY (their default is 8).
    #[arg(long, default_value_t = 8)]
    max_concurrency: u32,
    /// Skip the extra run of two sync-group invocations sharing the quota.
    #[arg(long)]
    no_shared_quota: bool,
    /// Rounds of cold starts.
    #[arg(long, default_value_t = 25)]
    rounds: usize,
    /// Compress the time of sync runs that would take longer than this at 20 TPS.
    #[arg(long, default_value_t = 60.0)]
    max_run_secs: f64,
    /// Run the naive baseline from an empty group where it takes at most this long.
    #[arg(long, default_value_t = 150.0)]
    baseline_max_secs: f64,
    /// Skip the naive sync baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Existing groups G of the joiner.
    #[arg(long, default_value_t = 10)]
    groups: usize,
    /// Memberships M of the leaver (at most 100).
    #[arg(long, default_value_t = 100)]
    leaver_memberships: usize,
    /// Also time and size the functions built elsewhere, as NAME=DIR (repeatable): for
    /// comparing build options side by side. They are listed, not judged.
    #[arg(long = "variant", value_parser = parse_variant)]
    variants: Vec<(String, PathBuf)>,
    /// Extra environment for every function process, as KEY=VALUE (repeatable): for
    /// experiments (e.g. SSL_CERT_FILE=... to see what loading the CA roots costs).
    #[arg(long = "function-env", value_parser = parse_variant)]
    function_env: Vec<(String, PathBuf)>,
    /// Only the cold start and size measurements.
    #[arg(long)]
    cold_start_only: bool,
    /// A short run to try the harness: N = 100 and 500, 3 cold-start rounds, no baseline
    /// from empty, a bulk load of 500 joiners.
    #[arg(long)]
    quick: bool,
    /// Only the bulk load through the SQS path; rewrites only its section of the report.
    #[arg(long)]
    bulk_only: bool,
    /// Skip the bulk load.
    #[arg(long)]
    no_bulk: bool,
    /// Joiners in the bulk load.
    #[arg(long, default_value_t = 10_000)]
    bulk_joiners: usize,
    /// Leavers in the bulk load.
    #[arg(long, default_value_t = 100)]
    bulk_leavers: usize,
    /// Time compression of the bulk load (rates ×k, latency and backoff ÷k).
    #[arg(long, default_value_t = 10)]
    bulk_speedup: u32,
    /// Added latency per call in the bulk load at the real quota, in ms.
    #[arg(long, default_value_t = 50)]
    bulk_latency_ms: u64,
    /// Skip the bulk load's comparison run with the fixed 6/6/8 split.
    #[arg(long)]
    bulk_no_fixed: bool,
    /// Skip the bulk load's run with injected throttles and server errors.
    #[arg(long)]
    bulk_no_faults: bool,
    /// The bulk load's PNG plot.
    #[arg(long, default_value = "bench/bulk-load.png")]
    bulk_plot: PathBuf,
}

fn parse_variant(text: &str) -> Result<(String, PathBuf), String> {
    let (name, dir) = text.split_once('=').ok_or("expected NAME=VALUE")?;
    Ok((name.to_owned(), PathBuf::from(dir)))
}

#[allow(clippy::print_stdout)]
fn print_tables(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The size after `strip`, on a copy (the profile strips already; this checks it).
fn stripped_size(path: &Path, scratch: &Path) -> Option<u64> {
    let copy = scratch.join(format!("stripped-{}", path.file_name()?.to_string_lossy()));
    let status = std::process::Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(path)
        .status()
        .ok()?;
    let size = status.success().then(|| file_size(&copy)).flatten();
    let _ = std::fs::remove_file(&copy);
    size
}

fn find_python(args: &Args) -> Option<PathBuf> {
    let candidate = args.python.clone().unwrap_or_else(|| PathBuf::from(".venv/bin/python"));
    let works = std::process::Command::new(&candidate)
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|o| o.status.success());
    if works {
        // Absolute, so that the function processes find it from anywhere.
        Some(std::path::absolute(&candidate).unwrap_or(candidate))
    } else {
        progress(&format!(
            "no python with boto3 at {}: the boto3 baselines are skipped (make bench installs it with scripts/bootstrap.sh)",
            candidate.display()
        ));
        None
    }
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "an unknown date".into())
}

fn plot_series(syncs: &[Run]) -> Vec<Series> {
    let mut series = Vec::new();
    let real = |r: &Run| r.pace.to_real(r.wall).as_secs_f64();
    let bound = |r: &Run| r.pace.to_real(r.bound()).as_secs_f64();
    let pick = |who: Who, kind: &str| -> Vec<&Run> {
        syncs
            .iter()
            .filter(|r| r.who == who && r.id.ends_with(kind) && r.failure.is_none() && r.shape.is_some())
            .collect()
    };
    let n = |r: &Run| to_f64(r.shape.map_or(0, |s| s.n));
    for (kind, label, color) in [
        ("empty", "from an empty group", plot::BLUE_),
        ("churn", "with 1% churn", plot::GREEN_),
    ] {
        let ours = pick(Who::Turnstile, kind);
        if ours.is_empty() {
            continue;
        }
        series.push(Series {
            label: format!("sync-group, {label}"),
            points: ours.iter().map(|r| (n(r), real(r))).collect(),
            color,
            bound: false,
        });
        series.push(Series {
            label: format!("quota bound (20 TPS per API), {label}"),
            points: ours.iter().map(|r| (n(r), bound(r))).collect(),
            color,
            bound: true,
        });
    }
    for (kind, label, color) in [
        ("empty", "from an empty group", plot::RED_),
        ("churn", "with 1% churn", plot::ORANGE_),
    ] {
        let naive = pick(Who::Boto3, kind);
        if !naive.is_empty() {
            series.push(Series {
                label: format!("naive boto3 sync, {label}"),
                points: naive.iter().map(|r| (n(r), real(r))).collect(),
                color,
                bound: false,
            });
        }
    }
    series
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    if args.quick {
        args.sizes = vec![100, 500];
        args.rounds = 3;
        args.baseline_max_secs = 0.0;
        args.bulk_joiners = args.bulk_joiners.min(500);
    }
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            progress(&format!("bench: {e}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Init times side by side, and the binaries' sizes.
async fn cold_start_and_size(
    bench: &mut Bench,
    programs: &Programs,
    bins: &[&str],
    variants: &[(String, PathBuf)],
    rounds: usize,
    scratch: &Path,
) -> Result<Vec<Binary>, String> {
    progress("cold start and size");
    let mut timed: Vec<(String, Program)> = bins
        .iter()
        .rev()
        .map(|b| ((*b).to_owned(), programs.native(b)))
        .collect();
    for (name, dir) in variants {
        for b in bins.iter().rev().filter(|b| dir.join(b).is_file()) {
            timed.push((format!("{b} [{name}]"), Program::Native(dir.join(b))));
        }
    }
    if let Some(p) = programs.python("onboard.handler") {
        timed.push(("boto3 onboard".into(), p));
    }
    let inits = scenarios::cold_starts(bench, &timed, rounds).await?;
    Ok(timed
        .iter()
        .zip(inits)
        .map(|((label, program), samples)| {
            let (size, stripped) = match program {
                Program::Native(path) => (file_size(path), stripped_size(path, scratch)),
                Program::Python { .. } => (None, None),
            };
            Binary {
                label: label.clone(),
                size,
                stripped,
                init: samples.iter().map(|s| s.0).collect(),
                init_cpu: samples.iter().filter_map(|s| s.1).collect(),
            }
        })
        .collect())
}

/// Joiner, re-onboard, leaver; the roster syncs; two syncs sharing the quota.
async fn scenario_runs(bench: &mut Bench, args: &Args) -> Result<(Vec<Run>, Vec<Run>, Option<Run>), String> {
    progress(&format!(
        "joiner, re-onboard, leaver at {}",
        Pace::real(args.latency_ms).describe()
    ));
    let lifecycle = scenarios::lifecycle(bench, args.groups, args.leaver_memberships, args.max_run_secs).await?;
    progress("roster syncs");
    let plan = SyncPlan {
        sizes: args.sizes.clone(),
        max_run_secs: args.max_run_secs,
        baseline_max_secs: args.baseline_max_secs,
        baseline: !args.no_baseline,
    };
    let syncs = scenarios::syncs(bench, &plan).await?;
    let shared = if args.no_shared_quota {
        None
    } else {
        Some(scenarios::shared_quota(bench, if args.quick { 100 } else { 300 }).await?)
    };
    Ok((lifecycle, syncs, shared))
}

/// The bulk load with both splits, its plot, and its section of the report.
async fn bulk_load(args: &Args, addr: std::net::SocketAddr, bin_dir: &Path, scratch: &Path) -> Result<String, String> {
    let plan = bulk::Plan {
        joiners: args.bulk_joiners,
        leavers: args.bulk_leavers,
        pace: Pace {
            speedup: args.bulk_speedup.max(1),
            latency_ms: args.bulk_latency_ms,
        },
        bin_dir: bin_dir.to_path_buf(),
        scratch: scratch.to_path_buf(),
    };
    let mut outcomes = Vec::new();
    let mut splits = vec![bulk::Split::borrowing()];
    if !args.bulk_no_fixed {
        splits.push(bulk::Split::fixed());
    }
    if !args.bulk_no_faults {
        splits.push(bulk::Split::borrowing_with_faults());
    }
    for split in splits {
        outcomes.push(bulk::run(addr, &plan, split).await?);
    }
    if let Err(e) = bulk::plot(&args.bulk_plot, &outcomes) {
        progress(&format!("bulk plot: {e}"));
    }
    let section = bulk::render(&plan, &outcomes, &args.bulk_plot);
    print_tables(&format!("{section}\n"));
    Ok(section)
}

/// Writes `section` into the report file in place of its old bulk section.
fn write_bulk_section(out: &Path, section: &str) -> Result<(), String> {
    let report = std::fs::read_to_string(out).unwrap_or_default();
    std::fs::write(out, bulk::splice(&report, section)).map_err(|e| format!("{}: {e}", out.display()))?;
    progress(&format!("wrote the bulk section of {}", out.display()));
    Ok(())
}

/// The PNG, the markdown file and the terminal tables.
fn write_outputs(args: &Args, report: &Report) -> Result<(), String> {
    if let Some(dir) = args.plot.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let series = plot_series(&report.syncs);
    if let Err(e) = plot::draw(
        &args.plot,
        &format!(
            "Roster sync (sync-group replace) time against group size, at 20 TPS per API, {} ms latency",
            args.latency_ms
        ),
        "Group size N (desired members)",
        "Time at the real quota (s, log scale)",
        &series,
    ) {
        progress(&format!("plot: {e}"));
    }
    std::fs::write(&args.out, report.markdown()).map_err(|e| format!("{}: {e}", args.out.display()))?;
    print_tables(&report.terminal());
    Ok(())
}

/// The release binaries the run needs are there.
fn check_binaries(args: &Args, bins: &[&str]) -> Result<(), String> {
    for b in if args.bulk_only { &bins[..2] } else { bins } {
        if !args.bin_dir.join(b).is_file() {
            return Err(format!(
                "{} is missing: build the release binaries first (make bench does: ./scripts/bench.sh builds them as SAM does)",
                args.bin_dir.join(b).display()
            ));
        }
    }
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let started_utc = utc_now();
    if args.sizes.iter().any(|n| *n < 100) || args.leaver_memberships > 100 {
        return Err("sizes must be at least 100 and the leaver's memberships at most 100".into());
    }
    let bins = ["onboard-user", "offboard-user", "sync-group", "hello-lambda"];
    check_binaries(&args, &bins)?;
    std::fs::create_dir_all(&args.scratch).map_err(|e| format!("{}: {e}", args.scratch.display()))?;
    let scratch = std::path::absolute(&args.scratch).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(scratch.join("home")).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let python = find_python(&args);
    let machine = Machine::probe(python.as_deref());
    progress(&format!("machine: {}", machine.describe()));

    let emulator = Emulator::start(Options::default())
        .await
        .map_err(|e| format!("emulator: {e}"))?;
    let bin_dir = std::path::absolute(&args.bin_dir).map_err(|e| e.to_string())?;
    if args.bulk_only {
        let section = bulk_load(&args, emulator.addr, &bin_dir, &scratch).await;
        emulator.stop().await;
        return write_bulk_section(&args.out, &section?);
    }
    let programs = Programs {
        bin_dir: bin_dir.clone(),
        python,
        boto3_dir: std::path::absolute("bench/boto3").map_err(|e| e.to_string())?,
    };
    let mut bench = Bench::new(
        emulator.addr,
        programs.clone(),
        scratch.clone(),
        args.latency_ms,
        args.max_concurrency,
    );
    bench.extra_env = args
        .function_env
        .iter()
        .map(|(k, v)| (k.clone(), v.display().to_string()))
        .collect();

    let binaries = cold_start_and_size(&mut bench, &programs, &bins, &args.variants, args.rounds, &scratch).await?;

    let (lifecycle, syncs, shared) = if args.cold_start_only {
        (Vec::new(), Vec::new(), None)
    } else {
        scenario_runs(&mut bench, &args).await?
    };
    // A run without the bulk load keeps the report's bulk section as it was measured.
    let bulk_section = if args.no_bulk || args.cold_start_only {
        bulk::section_of(&std::fs::read_to_string(&args.out).unwrap_or_default())
    } else {
        Some(bulk_load(&args, emulator.addr, &bin_dir, &scratch).await?)
    };
    emulator.stop().await;

    let plot_file = args.plot.display().to_string();
    let raw_args: Vec<String> = std::env::args().skip(1).collect();
    let report = Report {
        machine,
        started_utc,
        elapsed: started.elapsed(),
        args: if raw_args.is_empty() {
            "(defaults)".into()
        } else {
            raw_args.join(" ")
        },
        latency_ms: args.latency_ms,
        rounds: args.rounds,
        groups: args.groups,
        leaver_memberships: args.leaver_memberships,
        lifecycle,
        syncs,
        shared,
        binaries,
        plot_file,
        notes: Vec::new(),
    };
    write_outputs(&args, &report)?;
    if let Some(section) = &bulk_section {
        write_bulk_section(&args.out, section)?;
    }
    progress(&format!(
        "wrote {} and {} in {:.1} min",
        args.out.display(),
        args.plot.display(),
        started.elapsed().as_secs_f64() / 60.0
    ));
    // A missed target is a finding, reported above; a run that did not do its job
    // (an error, a wrong result) makes the figures unreliable.
    let failed = report
        .lifecycle
        .iter()
        .chain(&report.syncs)
        .chain(&report.shared)
        .filter(|r| r.failure.is_some())
        .count();
    if failed > 0 {
        return Err(format!("{failed} run(s) failed; see the report"));
    }
    Ok(())
}
