#!/usr/bin/env bash
# Every scenario of the performance table in one run, on SQLite and PostgreSQL, with the server pinned to
# one core and the load generators and mock upstreams to the other: chat through the gateway against the
# direct call to the mock, agent reads, version appends, tasks over HTTP against the store alone,
# cross-replica wake-ups, lineage, memory. Writes bench/results/<date>/: each script's log,
# results.jsonl (every figure), summary.md (the goals beside this run's figures and their same-run
# baselines) and one SVG chart per scenario (bench/summarize.py).
# Usage: bench/all.sh  (DURATION=10s; SCRIPTS="chat registry tasks wakeups"; OUT=DIR; SERVER_CPUS=0 CLIENT_CPUS=1;
# KEEP=1 adds to OUT's results instead of starting them afresh, to rerun some scripts)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export SERVER_CPUS="${SERVER_CPUS:-0}" CLIENT_CPUS="${CLIENT_CPUS:-1}" DURATION="${DURATION:-10s}"
OUT="${OUT:-$ROOT/bench/results/$(date -u +%F)}"
mkdir -p "$OUT"
export RESULTS="$OUT/results.jsonl"
[ -n "${KEEP:-}" ] || : >"$RESULTS"
source "$ROOT/bench/lib.sh"
build_release
python3 -c "import matplotlib" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check matplotlib
echo "$(machine); server on CPU $SERVER_CPUS, load generators and mock upstreams on CPU $CLIENT_CPUS; DURATION=$DURATION" \
  | sed 's/^machine: //' >"$OUT/machine.txt"
cat "$OUT/machine.txt"
for script in ${SCRIPTS:-chat registry tasks wakeups}; do
  echo "== bench/$script.sh"
  bash "$ROOT/bench/$script.sh" 2>&1 | tee "$OUT/$script.log"
done
python3 "$ROOT/bench/summarize.py" "$OUT"
echo "wrote $OUT/summary.md"
