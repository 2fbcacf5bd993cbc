#!/usr/bin/env bash
# Task queue and webhook benchmark on SQLite and PostgreSQL: create → claim → complete cycles over HTTP,
# one task per call (POST /api/tasks, claim, PATCH) and batched (POST /api/tasks/batch, claim with a
# limit, POST /api/tasks/complete), then the same through the store alone (talon-load), and the
# event-to-delivery latency of webhooks to a receiver in the load process.
# Usage: bench/tasks.sh  (DURATION=10s WORKERS="1 8" BATCH=100 BACKENDS="sqlite postgres")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
seconds="${DURATION%s}"
batch="${BATCH:-100}"
for backend in ${BACKENDS:-sqlite postgres}; do
  dir=$(mktemp -d)
  export TALON_WEBHOOK_ALLOW_PRIVATE=true
  start_server "$backend" 3903 "$dir"
  session_and_key
  agent=$(curl -sf -X POST "$BASE/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"name":"Worker","prompt":"p"}' | jq -r .id)
  echo "[$backend] create → claim → complete over HTTP"
  for workers in ${WORKERS:-1 8}; do
    single=$(load --base "$BASE" --token "$KEY" tasks --agent "$agent" --concurrency "$workers" --seconds "$seconds")
    batched=$(load --base "$BASE" --token "$KEY" tasks --agent "$agent" --concurrency "$workers" --seconds "$seconds" --batch "$batch")
    echo "  $workers workers, one task per call:  $single"
    echo "  $workers workers, $batch tasks per call: $batched"
    record_load tasks_http "$backend" single "$workers" "$single"
    record_load tasks_http "$backend" batched "$workers" "$batched"
  done
  echo "[$backend] event → webhook delivery (task.created, one at a time)"
  echo "  $(load --base "$BASE" --token "$KEY" webhook-latency --agent "$agent" --events 500)"
  url="sqlite://$dir/talon.db"
  [ "$backend" = postgres ] && url="postgres://postgres@127.0.0.1:5432/talon_bench"
  stop_server
  echo "[$backend] create → claim → complete through the store alone"
  for workers in ${WORKERS:-1 8}; do
    single=$(load --token unused queue-store --database-url "$url" --workers "$workers" --duration "$DURATION")
    batched=$(load --token unused queue-store --database-url "$url" --workers "$workers" --duration "$DURATION" --mode batch --batch "$batch")
    echo "  $workers workers, one task per call:  $single"
    echo "  $workers workers, $batch tasks per call: $batched"
    record_load queue_store "$backend" single "$workers" "$single"
    record_load queue_store "$backend" batched "$workers" "$batched"
  done
  rm -rf "$dir"
done
