//! Function processes under the Runtime API stand-in: spawn, time the init, invoke,
//! read the peak RSS, stop.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::standin::{Outcome, RuntimeApi};

/// How long a process may take to ask for its first event.
const INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// What to run: a native binary (the Rust functions) or a Python handler under the
/// minimal Python runtime loop.
#[derive(Debug, Clone)]
pub enum Program {
    Native(PathBuf),
    Python {
        python: PathBuf,
        bootstrap: PathBuf,
        /// `module.function`, as Lambda's `_HANDLER`.
        handler: String,
    },
}

impl Program {
    pub fn label(&self) -> String {
        match self {
            Self::Native(path) => path
                .file_name()
                .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
            Self::Python { handler, .. } => format!("python {handler}"),
        }
    }
}

/// A running function process and its stand-in.
#[derive(Debug)]
pub struct Function {
    child: Child,
    api: RuntimeApi,
    /// Process start to the first `GET .../invocation/next`.
    pub init: Duration,
    /// CPU time of the process's threads when it first asked for work (it then waits
    /// for the answer): the init's own work, whatever else the machine is doing.
    pub init_cpu: Option<Duration>,
}

/// The environment of a Lambda execution environment (and nothing from the harness's
/// own: no proxies, no profile files, no credentials but the dummy keys).
pub fn lambda_env(name: &str, scratch: &Path, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("TZ", ":UTC"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "emulator"),
        ("AWS_SECRET_ACCESS_KEY", "emulator"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    // A home without ~/.aws: no profile files, as in Lambda.
    env.push(("HOME".into(), scratch.join("home").display().to_string()));
    env.extend(extra.iter().cloned());
    env
}

impl Function {
    /// Starts `program` under a fresh stand-in and waits for its first request for work.
    pub async fn start(program: &Program, env: &[(String, String)], log: &Path) -> Result<Self, String> {
        let api = RuntimeApi::start().await.map_err(|e| format!("stand-in: {e}"))?;
        let log_file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let log_err = log_file.try_clone().map_err(|e| e.to_string())?;
        let mut command = match program {
            Program::Native(path) => Command::new(path),
            Program::Python { python, bootstrap, .. } => {
                let mut c = Command::new(python);
                c.arg("-u").arg(bootstrap);
                c
            }
        };
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.host_port())
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .kill_on_drop(true);
        if let Program::Python { bootstrap, handler, .. } = program {
            command.env("_HANDLER", handler);
            if let Some(root) = bootstrap.parent() {
                command.env("LAMBDA_TASK_ROOT", root);
            }
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.label()))?;
        let mut function = Self {
            child,
            api,
            init: Duration::ZERO,
            init_cpu: None,
        };
        let asked = tokio::select! {
            asked = function.api.first_next(INIT_TIMEOUT) => asked,
            status = function.child.wait() => Err(format!("exited during init: {status:?}")),
        };
        match asked {
            Ok(at) => {
                function.init = at - started;
                function.init_cpu = function.cpu_time();
                Ok(function)
            }
            Err(e) => {
                function.stop().await;
                Err(format!("{}: {e} (log: {})", program.label(), log.display()))
            }
        }
    }

    pub async fn invoke(&mut self, event: serde_json::Value) -> Result<Outcome, String> {
        tokio::select! {
            outcome = self.api.invoke(event) => outcome,
            status = self.child.wait() => Err(format!("the function exited during the invocation: {status:?}")),
        }
    }

    /// CPU time of the live threads (`/proc/PID/task/*/schedstat`, nanoseconds).
    pub fn cpu_time(&self) -> Option<Duration> {
        let pid = self.child.id()?;
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let mut ns = 0u64;
        for task in tasks.flatten() {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(Duration::from_nanos(ns))
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    }

    /// Kills the process (it is ours, by its id) and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
