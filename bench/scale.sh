#!/usr/bin/env bash
# Cost against the size of an account (issue: lists, queues and accounting at a million rows): one
# account filled with N agents, N tasks (half queued) and 10·N usage records over the last year, then at
# concurrency 1: the first page of the agent and task lists, a page reached by cursor halfway down, a
# deep page by number (for comparison), one agent, a claim, and a year's usage summary. On SQLite and
# PostgreSQL, for each N in SIZES; writes bench/results/<date>/scale.md and scale.svg.
# Usage: bench/scale.sh  (SIZES="1000 100000 1000000" BACKENDS="sqlite postgres" DURATION=5s)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
out="$ROOT/bench/results/$(date -u +%Y-%m-%d)"
mkdir -p "$out"
RESULTS="${RESULTS:-$out/scale.jsonl}"
[ -n "${KEEP:-}" ] || : >"$RESULTS"
export RESULTS
from=$(date -u -d '365 days ago' +%Y-%m-%dT%H:%M:%SZ)
to=$(date -u -d '1 minute' +%Y-%m-%dT%H:%M:%SZ)
for backend in ${BACKENDS:-sqlite postgres}; do
  for n in ${SIZES:-1000 100000}; do
    dir=$(mktemp -d)
    start_server "$backend" 3905 "$dir"
    session_and_key
    url="sqlite://$dir/talon.db"
    [ "$backend" = postgres ] && url="postgres://postgres@127.0.0.1:5432/talon_bench"
    started=$SECONDS
    read -r agent middle_agent middle_task < <(load --token unused seed --database-url "$url" --email bench@example.com \
      --agents "$n" --tasks "$n" --usage $((n * 10)) 2>"$dir/seed.log")
    echo "[$backend, $n rows] seeded in $((SECONDS - started)) s: $(tr '\n' ';' <"$dir/seed.log")"
    auth=(-H "Authorization: Bearer $KEY")
    run() {  # run NAME ARGS…: one request shape at concurrency 1, recorded as scale/<backend>/<name>/<n>
      local name=$1; shift
      local result
      result=$(oha_json -c 1 "${auth[@]}" "$@")
      printf '  %-28s %s\n' "$name" "$(summary "$result")"
      record_oha scale "$backend" "$name" "$n" "$result"
    }
    run agents_first_page -z "$DURATION" "$BASE/api/agents?limit=20"
    run agents_by_cursor -z "$DURATION" "$BASE/api/agents?limit=20&startingAfter=$middle_agent"
    run agents_deep_page -z "$DURATION" "$BASE/api/agents?limit=20&page=$((n / 40 + 1))"
    run agent -z "$DURATION" "$BASE/api/agents/$agent"
    run tasks_queued_first_page -z "$DURATION" "$BASE/api/tasks?status=queued&limit=20"
    run tasks_by_cursor -z "$DURATION" "$BASE/api/tasks?limit=20&startingAfter=$middle_task"
    run usage_year -z "$DURATION" "$BASE/api/agents/$agent/usage?from=$from&to=$to"
    # Claims take tasks: a fixed count, fewer than the queue holds.
    run claim -n $((n / 4 < 400 ? n / 4 : 400)) -m POST -T application/json -d '{"limit": 1}' "$BASE/api/tasks/claim"
    stop_server
    # Retention under load: a restarted server purges at once the usage records older than 30 days
    # (eleven months of the seeded year) while the first page of the agent list is read.
    REUSE_DB=1 BENCH_LOG="warn,talon_server::workers::retention=info" start_server "$backend" 3905 "$dir"
    run agents_first_page_during_retention -z "$DURATION" "$BASE/api/agents?limit=20"
    sleep 1
    echo "  retention: $(grep -o 'rows past their retention removed.*' "$dir/server.log" | head -1 || echo 'still running')"
    stop_server
    rm -rf "$dir"
  done
done
python3 "$ROOT/bench/scale_report.py" "$RESULTS" "$out"
