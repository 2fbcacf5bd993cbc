#!/usr/bin/env bash
# Evaluations end to end: a dataset of CASES cases (contains + regex checks), evaluated on two versions
# of an agent answering with the built-in test/echo model, at each concurrency of CONCURRENCIES; the time
# from the start request to `completed` (every case's task created, claimed and answered by the runtime,
# then checked, and the report written) and the cases settled a second. Both databases.
# Usage: bench/evaluations.sh   (CASES=200, CONCURRENCIES="4 16"; NO_BUILD=1 uses the built binaries)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CASES="${CASES:-200}"
CONCURRENCIES="${CONCURRENCIES:-4 16}"
[ -n "${NO_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p talon --quiet)
machine
echo "cases: $CASES a version, 2 versions, test/echo; the runtime's default workers"

dataset() {
  jq -nc --argjson n "$CASES" '{name: "bench", cases: [range(0; $n) | {name: "case \(.)",
    input: {prompt: "answer \(.) please"}, checks: [{type: "contains", value: "answer \(.)"},
    {type: "regex", pattern: "please$"}]}]}'
}

for backend in sqlite postgres; do
  dir=$(mktemp -d)
  start_server "$backend" 3977 "$dir"
  session_and_key
  auth=(-H "Authorization: Bearer $KEY" -H 'content-type: application/json')
  agent=$(curl -sf -X POST "$BASE/api/agents" "${auth[@]}" \
    -d '{"name": "Bench Echo", "prompt": "one", "model": "test/echo"}' | jq -r .id)
  curl -sf -o /dev/null -X POST "$BASE/api/agents/$agent/versions" "${auth[@]}" -d '{"prompt": "two"}'
  dataset | curl -sf -o /dev/null -X POST "$BASE/api/agents/$agent/datasets" "${auth[@]}" -d @-
  for concurrency in $CONCURRENCIES; do
    start=$(date +%s.%N)
    evaluation=$(curl -sf -X POST "$BASE/api/agents/$agent/evaluations" "${auth[@]}" \
      -d "{\"dataset\": \"bench\", \"versions\": [1, 2], \"concurrency\": $concurrency}" | jq -r .id)
    until [ "$(curl -sf "$BASE/api/agents/$agent/evaluations/$evaluation" "${auth[@]}" | jq -r .status)" = completed ]; do
      sleep 0.05
    done
    seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
    rate=$(echo "2 * $CASES / $seconds" | bc -l)
    rates=$(curl -sf "$BASE/api/agents/$agent/evaluations/$evaluation" "${auth[@]}" | jq -c '[.summaries[].passRate]')
    printf '%-8s concurrency %-3s %6.2f s  %7.1f cases/s  pass rates %s\n' "$backend" "$concurrency" "$seconds" "$rate" "$rates"
    record evaluation "$backend" "concurrency" "$concurrency" seconds "$seconds"
    record evaluation "$backend" "concurrency" "$concurrency" cases_per_s "$rate"
  done
  stop_server
  rm -rf "$dir"
done
