#!/usr/bin/env bash
# Task queue and webhook benchmark on SQLite and PostgreSQL: create → claim → complete cycles over HTTP
# and through the store alone (talon-load), and event-to-delivery latency of webhooks to a receiver in
# the load process. Usage: bench/tasks.sh  (DURATION=10s by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
seconds="${DURATION%s}"
for backend in sqlite postgres; do
  dir=$(mktemp -d)
  export TALON_WEBHOOK_ALLOW_PRIVATE=true
  start_server "$backend" 3903 "$dir"
  session_and_key
  agent=$(curl -sf -X POST "$BASE/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"name":"Worker","prompt":"p"}' | jq -r .id)
  echo "[$backend] create → claim → complete over HTTP (3 requests per task)"
  for c in 1 8; do
    echo "  concurrency $c: $("$LOAD" --base "$BASE" --token "$KEY" tasks --agent "$agent" --concurrency "$c" --seconds "$seconds")"
  done
  echo "[$backend] event → webhook delivery (task.created, one at a time)"
  echo "  $("$LOAD" --base "$BASE" --token "$KEY" webhook-latency --agent "$agent" --events 500)"
  url="sqlite://$dir/talon.db"
  [ "$backend" = postgres ] && url="postgres://postgres@127.0.0.1:5432/talon_bench"
  stop_server
  echo "[$backend] create → claim → complete through the store alone"
  for c in 1 8; do
    echo "  concurrency $c: $("$LOAD" --token unused store-tasks --database-url "$url" --concurrency "$c" --seconds "$seconds")"
  done
  rm -rf "$dir"
done
