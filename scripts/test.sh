#!/usr/bin/env bash
# The project's test command: formatting, lints, and every test in the workspace.
# Needs only the Rust toolchain; runs offline once the crates are fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
