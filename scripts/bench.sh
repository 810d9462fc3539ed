#!/usr/bin/env bash
# The benchmarks (`make bench`): call budgets, roster sync at the quota, cold start,
# size and memory, the bulk load through the SQS path, against the bundled Identity Store emulator with its per-API rate
# limit and added latency on. Every server it starts listens on 127.0.0.1.
#
# Installs boto3 into .venv/ (scripts/bootstrap.sh) for the boto3 baselines, builds the
# three functions and the hello-world lambda_runtime binary once with the release
# profile, builds the harness (bench/), runs it, and rewrites BENCHMARKS.md,
# bench/sync-time.png and bench/bulk-load.png. Arguments go to the harness: `./scripts/bench.sh --help`,
# `./scripts/bench.sh --quick` for a short trial run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
echo "bench: building the release binaries (LTO: several minutes from scratch)" >&2
# The hello-world baseline is built together with the functions, as every earlier run
# built it, so that it links the same tokio and lambda_runtime features (built alone it
# is a smaller, faster binary, and every ratio against it moves; BENCHMARKS.md says by
# how much). Then the functions exactly as SAM's rust-cargolambda build selects them,
# last, so theirs are the binaries measured: `--bin <name>` at the workspace root, which
# resolves features over the default members only (no test code).
functions=()
packages=()
while read -r name; do
  functions+=(--bin "$name")
  packages+=(-p "$name")
done < <(cargo xtask functions)
cargo build --release --locked "${packages[@]}" -p turnstile-bench-hello
cargo build --release --locked "${functions[@]}"
# The harness hosts the emulator in-process: optimised, or its own per-request cost would
# slow the listings it serves. Without LTO (only the functions need the release profile
# as is), so that it builds in a minute or two; these overrides apply to this build only.
echo "bench: building the harness" >&2
cargo build --release --locked -p turnstile-bench \
  --config profile.release.lto=false --config profile.release.codegen-units=16
exec target/release/bench "$@"
