//! moto's server (`moto_server` from ./scripts/bootstrap.sh) on 127.0.0.1: an
//! independent implementation of the Identity Store and DynamoDB APIs.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Moto {
    // Held for `kill_on_drop`: dropping the handle stops moto_server.
    _child: Child,
    pub addr: SocketAddr,
}

impl Moto {
    pub async fn start() -> Self {
        let binary = super::workspace().join(".venv/bin/moto_server");
        assert!(
            binary.exists(),
            "{} is missing: run ./scripts/bootstrap.sh",
            binary.display()
        );
        let port = super::free_port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}
