#!/usr/bin/env bash
# Sweeps the emulator's replication lag (look-ups and listings answering from the store
# as it was up to LAG ms ago) over the reliability suite's fault scenarios and the
# roster-add/revoke races (events back to back, and the fault scenarios also with events
# at least the lag apart), each also with the functions' LISTING_LAG_MS at the lag, and
# writes each run's figures to target/reliability/lag.jsonl (RELIABILITY.md,
# "Replication lag", is written from them). A run whose scenarios do not all converge
# is recorded, not fatal: finding that lag is the point.
#
#   ./scripts/replication-lag.sh [LAG_MS ...]      (default: 0 5 20 50 100 200 500)
set -euo pipefail
cd "$(dirname "$0")/.."
lags=("$@")
[ ${#lags[@]} -gt 0 ] || lags=(0 5 20 50 100 200 500)
out=$PWD/target/reliability/lag.jsonl
mkdir -p "$(dirname "$out")"
: >"$out"
cargo build --quiet --locked -p turnstile-reliability --tests
faults=faults::randomised_fault_scenarios_end_in_the_fault_free_state
fenced=races::a_roster_add_racing_a_fenced_revoke_never_leaves_the_membership
delete=races::a_roster_add_racing_a_leaver_delete_never_leaves_the_membership

# run TEST LAG SPACED SETTLE: one test under one setting, its figures appended to $out.
run() {
  local test=$1 lag=$2 spaced=$3 allowed=$4 status=passed
  RELIABILITY_LAG_MS=$lag RELIABILITY_LAG_SPACED=$spaced RELIABILITY_LISTING_LAG_MS=$allowed \
    RELIABILITY_REPORT=$out.part \
    cargo test --quiet --locked -p turnstile-reliability --test suite -- --exact "$test" \
    >"$out.log" 2>&1 || status=failed
  printf '{"lagMs":%s,"spaced":%s,"listingLagMs":%s,"test":"%s","result":"%s"}\n' \
    "$lag" "$([ -n "$spaced" ] && echo true || echo false)" "$allowed" "$test" "$status" >>"$out"
  if [ -f "$out.part" ]; then cat "$out.part" >>"$out"; rm -f "$out.part"; fi
  echo "lag ${lag} ms, $([ -n "$spaced" ] && echo spaced || echo back-to-back), LISTING_LAG_MS ${allowed}: $test $status" >&2
  if [ "$status" = failed ]; then grep -E "panicked|scenarios ended|assert" "$out.log" | head -n 3 >&2 || true; fi
}

for lag in "${lags[@]}"; do
  run "$faults" "$lag" "" 0
  run "$faults" "$lag" 1 0
  run "$delete" "$lag" "" 0
  run "$fenced" "$lag" "" 0
  if [ "$lag" -gt 0 ]; then
    run "$faults" "$lag" "" "$lag"
    run "$delete" "$lag" "" "$lag"
    run "$fenced" "$lag" "" "$lag"
  fi
done
rm -f "$out.log"
echo "figures in $out" >&2
