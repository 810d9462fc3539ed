#!/usr/bin/env bash
# Installs the project's non-Rust tools locally: Python tools into ./.venv (the SAM CLI
# into ./.venv/sam), npm tools into ./node_modules. Idempotent: does nothing when all
# are current.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

# The SAM CLI (sam validate --lint in scripts/check-infra.sh) in a venv of its own inside
# .venv: it pins boto3 exactly, to another version than moto's above.
sam_stamp=.venv/sam/.requirements.sha256
want_sam=$(sha256sum infra/requirements-sam.txt | cut -d' ' -f1)
if [ ! -x .venv/sam/bin/sam ] || [ "$(cat "$sam_stamp" 2>/dev/null)" != "$want_sam" ]; then
  python3 -m venv .venv/sam
  .venv/sam/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-sam.txt
  echo "$want_sam" > "$sam_stamp"
fi

if [ -f package.json ]; then
  lock_stamp=node_modules/.package-lock.sha256
  want_npm=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$lock_stamp" 2>/dev/null)" != "$want_npm" ]; then
    npm ci --no-audit --no-fund --silent
    echo "$want_npm" > "$lock_stamp"
  fi
fi
