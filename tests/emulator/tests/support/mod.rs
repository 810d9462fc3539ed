//! Running the functions the way a developer does: `cargo lambda watch` in the
//! workspace, `cargo lambda invoke` per event.

#![allow(dead_code)]

pub mod store;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// A JSON file under `tests/fixtures/`.
pub fn fixture(path: &str) -> Value {
    let path = workspace().join("tests/fixtures").join(path);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture readable")).expect("fixture is JSON")
}

pub fn cargo_lambda() -> PathBuf {
    let path = workspace().join(".venv/bin/cargo-lambda");
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/bootstrap.sh",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One watcher at a time: parallel watchers would build into the same target
/// directory and wait on each other's locks. (The watcher builds into the workspace's
/// own target directory: `cargo test` holds no lock on it while tests run.)
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `cargo lambda watch` serving the three functions.
pub struct Watch {
    child: Child,
    port: u16,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Watch {
    /// Starts the watcher with the functions pointed at `endpoint`; `overrides` replace
    /// environment entries.
    pub async fn start(endpoint: &str, overrides: &[(&str, &str)]) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let port = free_port();
        let mut env = vec![
            ("IDENTITY_STORE_ID", "d-1234567890".to_owned()),
            ("AWS_REGION", "eu-west-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "emulator".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "emulator".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL_IDENTITYSTORE", endpoint.to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ];
        for (key, value) in overrides {
            env.retain(|(k, _)| k != key);
            env.push((key, (*value).to_owned()));
        }
        let mut command = Command::new(cargo_lambda());
        command
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .current_dir(workspace())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true);
        for (key, value) in &env {
            command.arg("--env-var").arg(format!("{key}={value}"));
        }
        let child = command.spawn().expect("cargo lambda watch starts");
        let watch = Self {
            child,
            port,
            _turn: turn,
        };
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return watch;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cargo lambda watch did not listen on {port}");
    }

    /// `cargo lambda invoke`: the result JSON, or `(errorType, errorMessage)`.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, (String, String)> {
        let output = Command::new(cargo_lambda())
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.port.to_string())
            .arg(function)
            .arg("--data-ascii")
            .arg(event.to_string())
            .current_dir(workspace())
            .env("NO_COLOR", "1")
            .output()
            .await
            .expect("cargo lambda invoke runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() {
            return Ok(
                serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{function} printed {stdout:?}: {e}"))
            );
        }
        // cargo lambda prints `Error: <errorType>`, then the message after `×`.
        let error_type = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("Error: "))
            .unwrap_or_else(|| panic!("{function} failed without an error type: {stderr}"))
            .to_owned();
        let message = stderr
            .lines()
            .skip_while(|l| !l.contains('×'))
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.trim().trim_start_matches(['×', '│']).trim())
            .collect::<Vec<_>>()
            .join(" ");
        Err((error_type, message))
    }

    /// Stops the watcher and everything it started.
    pub async fn stop(mut self) {
        self.kill_group();
        let _ = self.child.wait().await;
    }

    /// SIGINT, as Ctrl-C would: cargo lambda then stops the function processes it
    /// started (each runs in a process group of its own).
    fn kill_group(&self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.kill_group();
    }
}
