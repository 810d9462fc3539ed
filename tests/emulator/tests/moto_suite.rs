//! moto's own Identity Store tests (moto 5.2.5's `tests/test_identitystore/
//! test_identitystore.py`, vendored in `tests/emulator/moto/`) run against the
//! emulator through moto's server mode. Cases where moto departs from the service
//! are strict expected failures listed in `tests/emulator/moto/conftest.py` and the
//! README; any other failure, or an expected failure that passes, fails this test.

use std::path::PathBuf;

use turnstile_emulator::{DEFAULT_STORE_ID, Emulator, Options};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The cases of the vendored file, and how many of them are expected failures.
const CASES: usize = 40;
const EXPECTED_FAILURES: usize = 4;

#[tokio::test]
#[ignore = "needs pytest and moto from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn motos_identity_store_tests_pass_against_the_emulator_but_for_the_listed_departures() {
    // moto's tests check that ids parse as bare UUIDs, and that deleting what does not
    // exist succeeds: the two possibilities the emulator plays when asked.
    let emulator = Emulator::start(Options {
        plain_uuid_ids: true,
        idempotent_deletes: true,
        ..Options::default()
    })
    .await
    .expect("emulator");
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./scripts/bootstrap.sh",
        python.display()
    );
    let dir = workspace().join("tests/emulator/moto");
    let output = tokio::process::Command::new(python)
        .current_dir(&dir)
        .args([
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rfEX",
            "test_identitystore.py",
        ])
        .env("TEST_SERVER_MODE", "true")
        .env("TEST_SERVER_MODE_ENDPOINT", emulator.endpoint())
        .env("MOTO_CALL_RESET_API", "false")
        .env("EMULATOR_IDENTITY_STORE_ID", DEFAULT_STORE_ID)
        .env("AWS_ACCESS_KEY_ID", "emulator")
        .env("AWS_SECRET_ACCESS_KEY", "emulator")
        .env("AWS_DEFAULT_REGION", "us-east-2")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_IDENTITYSTORE")
        .env_remove("AWS_PROFILE")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .await
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "moto's tests failed:\n{report}");
    let summary = stdout.lines().rev().find(|l| l.contains(" in ")).unwrap_or_default();
    let passed = CASES - EXPECTED_FAILURES;
    assert!(
        summary.contains(&format!("{passed} passed")) && summary.contains(&format!("{EXPECTED_FAILURES} xfailed")),
        "expected {passed} passed and {EXPECTED_FAILURES} xfailed:\n{report}"
    );
    emulator.stop().await;
}
