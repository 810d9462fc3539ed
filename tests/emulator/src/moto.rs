//! moto's server (installed into `.venv/` by ./scripts/bootstrap.sh) on 127.0.0.1: an
//! independent implementation of the Identity Store and DynamoDB APIs, which tests
//! start beside the emulator and stop by dropping it.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A running `moto_server`; stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    // Held for `kill_on_drop`: dropping the handle stops moto_server.
    _child: Child,
    pub addr: SocketAddr,
}

impl Moto {
    /// Starts moto's server on a free loopback port, answering one request at a time
    /// (see `moto_server_serial.py`: moto's DynamoDB loses writes made during a
    /// cancelled transaction), and waits until it listens.
    pub async fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("../../.venv/bin/python");
        assert!(
            root.join("../../.venv/bin/moto_server").exists(),
            "moto is missing from .venv/: run ./scripts/bootstrap.sh"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new(python)
            .arg(root.join("moto_server_serial.py"))
            .args(["127.0.0.1", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Self { _child: child, addr };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not listen on {port}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}
