#!/usr/bin/env bash
# The main job, locally, with no AWS account: starts the Identity Store emulator, moto's
# server as the event ledger's DynamoDB, and the three functions under
# `cargo lambda watch` (the leavers fence on by default, the ledger on, as the SAM template
# deploys them), runs a joiner, a redelivery, a mover, a roster sync, a revoke, a newer
# roster, a late hire of the leaver, a delete, its redelivery and a bad event through
# `cargo lambda invoke`, prints each result with the Identity Store calls it cost and
# the store's final state, and stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
# The functions are the workspace's default members: built at the root with no package
# named, they get the feature set that `cargo lambda watch` builds too, so the watcher
# finds them built. The emulator is built on its own, so that its features stay out.
echo "demo: building the functions ($(cargo xtask functions | paste -sd' ')) and the emulator" >&2
cargo build --quiet --locked --bins
cargo build --quiet --locked -p turnstile-emulator --bin identitystore-emulator
lambda=.venv/bin/cargo-lambda
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
emulator_port=$(free_port)
ledger_port=$(free_port)
invoke_port=$(free_port)
logs=$(mktemp -d)

pids=()
cleanup() {
  local status=$?
  # A failure shows the logs it names before they go with the temporary folder.
  if [ "$status" -ne 0 ]; then
    for log in "$logs"/*.log; do
      [ -s "$log" ] || continue
      printf '\n--- %s (last 40 lines)\n' "$(basename "$log")" >&2
      tail -n 40 "$log" >&2
    done
  fi
  # SIGINT lets cargo lambda stop the function processes it started.
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for_port PORT: waits until the process just started (the last in `pids`) listens
# on 127.0.0.1:PORT. A process that exits first (a busy port, say) is an error naming the
# address, and so is a port that answers while the process is gone: something else has it.
wait_for_port() {
  local pid=${pids[-1]}
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server for 127.0.0.1:$1 exited before it listened (is the port busy?); its log follows" >&2
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "nothing listens on 127.0.0.1:$1 (its log follows)" >&2
  return 1
}

echo "demo: starting the Identity Store emulator" >&2
target/debug/identitystore-emulator --listen "127.0.0.1:$emulator_port" >"$logs/emulator.log" 2>&1 &
pids+=($!)
wait_for_port "$emulator_port"

# The ledger's DynamoDB: moto's server, an independent implementation of the API that
# the test command already installs (see the README), with the table as the SAM
# template creates it.
echo "demo: starting moto's DynamoDB for the event ledger" >&2
.venv/bin/moto_server -H 127.0.0.1 -p "$ledger_port" >"$logs/ledger.log" 2>&1 &
pids+=($!)
wait_for_port "$ledger_port"
.venv/bin/python - "http://127.0.0.1:$ledger_port" <<'PY'
import sys, boto3
boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="eu-west-1",
             aws_access_key_id="local", aws_secret_access_key="local").create_table(
    TableName="turnstile-ledger", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("pk", "sk")],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
PY

"$lambda" lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$invoke_port" \
  --env-var IDENTITY_STORE_ID=d-1234567890 \
  --env-var AWS_REGION=eu-west-1 \
  --env-var AWS_ACCESS_KEY_ID=emulator \
  --env-var AWS_SECRET_ACCESS_KEY=emulator \
  --env-var AWS_EC2_METADATA_DISABLED=true \
  --env-var LEDGER_TABLE=turnstile-ledger \
  --env-var "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$ledger_port" \
  --env-var "AWS_ENDPOINT_URL_IDENTITYSTORE=http://127.0.0.1:$emulator_port" \
  >"$logs/watch.log" 2>&1 &
pids+=($!)
echo "demo: starting the functions under cargo lambda watch" >&2
wait_for_port "$invoke_port"

echo "Identity Store emulator on http://127.0.0.1:$emulator_port; functions under cargo lambda watch on port $invoke_port"

step=0
invoke() {
  local title=$1 function=$2 file=$3
  step=$((step + 1))
  printf '\n== %d. %s\n   cargo lambda invoke %s --data-file %s\n' "$step" "$title" "$function" "$file"
  local out
  if out=$(NO_COLOR=1 "$lambda" lambda invoke --invoke-address 127.0.0.1 --invoke-port "$invoke_port" "$function" --data-file "$file" 2>&1); then
    .venv/bin/python -m json.tool <<<"$out" | sed 's/^/   /'
  else
    printf '%s\n' "$out" | grep -E '^Error:|×|│' | sed 's/^/   /'
  fi
  calls
}

# What the step cost the Identity Store, from the emulator's counters.
seen_calls=0
seen_writes=0
calls() {
  local now
  now=$(.venv/bin/python - "http://127.0.0.1:$emulator_port" <<'PY'
import json, sys, urllib.request
ops = json.load(urllib.request.urlopen(sys.argv[1] + "/_admin/counters"))["operations"]
writes = ("CreateUser", "UpdateUser", "DeleteUser", "CreateGroup", "UpdateGroup", "CreateGroupMembership", "DeleteGroupMembership")
print(sum(sum(v.values()) for v in ops.values()), sum(ops.get(op, {}).get("ok", 0) for op in writes))
PY
)
  read -r total writes <<<"$now"
  printf '   -> Identity Store calls: %d, writes: %d\n' "$((total - seen_calls))" "$((writes - seen_writes))"
  seen_calls=$total
  seen_writes=$writes
}

invoke "Joiner: alice.archer, with two groups and her HR attributes; her manager bob.baker has not joined yet (unresolved)" onboard-user events/onboard-user.json
invoke "The same event delivered again: the ledger says duplicate, nothing is called" onboard-user events/onboard-user.json
invoke "Joiner: bob.baker" onboard-user events/onboard-user.bob.json
invoke "Mover: new title, email and department, one more group; the manager is now bob.baker's user id" onboard-user events/onboard-user.mover.json
invoke "Roster of Engineering from HR (one name nobody has)" sync-group events/sync-group.json
invoke "Leaver, revoke: bob.baker keeps his user, loses his groups, is marked as a leaver" offboard-user events/offboard-user.revoke.json
invoke "A newer roster still listing bob.baker: the leavers fence keeps him out" sync-group events/sync-group.next.json
invoke "A late Employee Hired for bob.baker, older than his leave, redriven: stale, he stays out" onboard-user events/onboard-user.bob.late.json
invoke "Leaver, delete: alice.archer (EventBridge envelope form)" offboard-user events/offboard-user.envelope.json
invoke "The same leaver event again: duplicate" offboard-user events/offboard-user.envelope.json
invoke "A bad event" onboard-user events/onboard-user.invalid.json

printf '\n== Final state of the identity store\n'
.venv/bin/python - "http://127.0.0.1:$emulator_port" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
state = json.load(urllib.request.urlopen(base + "/_admin/state"))
counters = json.load(urllib.request.urlopen(base + "/_admin/counters"))
print(f"   Users ({len(state['users'])}):")
for u in state["users"]:
    hr = f"  {u['department']}, reports to {u.get('manager') or '(nobody yet)'}" if u.get("department") else ""
    print(f"     - {u['userName']:<14} {u.get('displayName') or '':<16} {u.get('title') or ''}{hr}")
print(f"   Groups ({len(state['groups'])}):")
for g in state["groups"]:
    members = ", ".join(g["members"]) or "(no members)"
    print(f"     - {g['displayName']:<14} {members}")
writes = ("CreateUser", "UpdateUser", "DeleteUser", "CreateGroup", "UpdateGroup", "CreateGroupMembership", "DeleteGroupMembership")
calls = sum(sum(v.values()) for v in counters["operations"].values())
done = sum(counters["operations"].get(op, {}).get("ok", 0) for op in writes)
print(f"   Identity Store calls: {calls}, of which successful writes: {done}")
PY
