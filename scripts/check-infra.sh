#!/usr/bin/env bash
# Checks the deployment infrastructure (infra/) without an AWS account or network access
# beyond the package registries: cfn-lint with the serverless rules on the SAM template,
# `sam validate --lint`, asl-validator on the state machines, and the pytest suite in
# infra/tests (drift between the infrastructure, the contract and the Rust code, which
# describes itself through `cargo xtask describe`, `cargo metadata` and `cargo tree`: no
# Rust source is parsed; no test code in the deployed build; EventBridge routing against
# a local moto server on 127.0.0.1; parliament on the expanded IAM roles). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh

started=$SECONDS
step() { printf '\n== %s\n' "$*"; }

step "cfn-lint $(.venv/bin/cfn-lint --version | awk '{print $2}') + cfn-lint-serverless rules: infra/template.yaml"
# The serverless rules (ES*/WS* ids) are appended as a Python module; make sure they are
# really loaded, or the lint below would pass without them.
rules=$(.venv/bin/cfn-lint --append-rules cfn_lint_serverless.rules --list-rules)
if ! grep -q '^ES4000:' <<<"$rules" || ! grep -q '^WS1003:' <<<"$rules"; then
  echo "cfn-lint did not load the cfn-lint-serverless rules" >&2
  exit 1
fi
# Any error or warning fails (deliberate exceptions are per resource in the template's
# Metadata, each with its reason).
.venv/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- infra/template.yaml
echo "no findings"

step "sam validate --lint, SAM CLI $(.venv/sam/bin/sam --version | awk '{print $NF}'): infra/template.yaml"
# Offline and without an AWS account: a dummy region, no credentials or profiles (the
# AWS config and credentials files hidden), telemetry off, and a SAM CLI settings
# directory of our own that records a version check just made, so that SAM does not ask
# PyPI for a newer release (__SAM_CLI_APP_DIR is the SAM CLI's own switch for that
# directory). Where this user may create a network namespace (root, as in CI), the
# command runs in one with no network at all, which proves the step needs none.
sam_home=$(mktemp -d)
printf '{"lastVersionCheck": %s, "telemetryEnabled": false}\n' "$(date +%s)" > "$sam_home/metadata.json"
no_network=()
if command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
  no_network=(unshare -n)
fi
sam_started=$SECONDS
(cd infra && env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
  AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1 \
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  SAM_CLI_TELEMETRY=0 __SAM_CLI_APP_DIR="$sam_home" \
  "${no_network[@]}" ../.venv/sam/bin/sam validate --lint --template-file template.yaml)
rm -rf "$sam_home"
if [ ${#no_network[@]} -gt 0 ]; then
  echo "(in a network namespace without network; $((SECONDS - sam_started)) s)"
else
  echo "(unshare -n is not allowed here: network not isolated; $((SECONDS - sam_started)) s)"
fi

step "asl-validator $(node_modules/.bin/asl-validator --version): infra/statemachines/*.asl.json"
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
shopt -s nullglob
definitions=(infra/statemachines/*.asl.json)
if [ ${#definitions[@]} -eq 0 ]; then
  echo "no state machine definitions found" >&2
  exit 1
fi
# Each file as written (placeholders in place) and as deployed (DefinitionSubstitutions
# applied with dummy ARNs), which also fails on a placeholder without a substitution.
written=$(.venv/bin/python infra/tests/render_asl.py "$rendered")
mapfile -t substituted <<<"$written"
if [ ${#substituted[@]} -ne ${#definitions[@]} ]; then
  echo "the template deploys ${#substituted[@]} state machine(s) but infra/statemachines has ${#definitions[@]}" >&2
  exit 1
fi
args=()
for file in "${definitions[@]}" "${substituted[@]}"; do
  args+=(--json-path "$file")
done
node_modules/.bin/asl-validator "${args[@]}"

step "pytest: infra/tests"
.venv/bin/pytest -q -p no:cacheprovider infra/tests

printf '\ninfra checks passed in %ss\n' "$((SECONDS - started))"
