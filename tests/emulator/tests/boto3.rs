//! boto3 against the emulator: the same protocol from another SDK. The client script,
//! `boto3_client.py`, runs with the project's `.venv` (./scripts/bootstrap.sh).

mod support;

use turnstile_emulator::{Emulator, Options};

#[tokio::test]
#[ignore = "needs boto3 from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn boto3_works_against_the_emulator() {
    let emulator = Emulator::start(Options::default()).await.expect("emulator");
    let python = support::workspace().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/bootstrap.sh",
        python.display()
    );
    let script = support::workspace().join("tests/emulator/tests/boto3_client.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .arg(emulator.endpoint())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "boto3 checks failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    emulator.stop().await;
}
