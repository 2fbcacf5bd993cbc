#!/usr/bin/env bash
# Cross-replica wake-ups: two `talon serve` processes (A and B) on one database, on PostgreSQL (the bus
# over LISTEN/NOTIFY) and on SQLite sharing one file with Redis (the bus over pub/sub). Measures, one
# sample at a time:
#   - a task created on A → claimed by a worker long-polling on B (and, as the baseline, on A itself);
#   - an event committed on A → its webhook received from B (A sends none: TALON_WEBHOOK_WORKERS=0).
# Each latency runs from the answer to the write on A. Usage: bench/wakeups.sh  (SAMPLES=300)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SAMPLES="${SAMPLES:-300}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
(cd "$ROOT" && cargo build --release -p talon -p talon-bench --quiet)
machine

# start_replica URL PORT DIR [VAR=VALUE...]: a `talon serve` on database URL, with the secrets every
# replica shares; prints its pid.
start_replica() {
  local url=$1 port=$2 dir=$3
  shift 3
  env "$@" DATABASE_URL="$url" TALON_DATA_DIR="$dir" TALON_CONFIG="$dir/talon.toml" RUST_LOG="${BENCH_LOG:-warn}" \
    JWT_SECRET="bench-secret-bench-secret-bench-secret-0123" TALON_SECRET_KEY="$(printf '42%.0s' {1..32})" \
    TALON_WEBHOOK_ALLOW_PRIVATE=true "${SERVER_PIN[@]}" "$TALON" serve --listen "127.0.0.1:$port" >"$dir/server-$port.log" 2>&1 &
  echo $!
}

# until_listening BASE: waits until the server answers and its bus hears the other replicas.
until_listening() {
  for _ in $(seq 1 200); do
    curl -sf "$1/metrics" 2>/dev/null | grep -q '^talon_bus_connected 1' && return 0
    sleep 0.05
  done
  echo "$1 is not listening to the other replicas:" >&2; cat "$dir"/server-*.log >&2; exit 1
}

for backend in postgres sqlite; do
  dir=$(mktemp -d)
  cat >"$dir/talon.toml" <<TOML
[plans.default]
key_requests_per_minute = 1000000000
account_requests_per_day = 1000000000
TOML
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS talon_bench" -qc "CREATE DATABASE talon_bench" >/dev/null
    url="postgres://postgres@127.0.0.1:5432/talon_bench"
    extra=()
    label="PostgreSQL, LISTEN/NOTIFY"
    name=postgres
  else
    url="sqlite://$dir/talon.db"
    extra=("REDIS_URL=$REDIS_URL")
    label="SQLite, Redis pub/sub"
    name=sqlite
  fi
  # A first, alone, so that it creates (and migrates) the database.
  a_pid=$(start_replica "$url" 3911 "$dir" "${extra[@]}" TALON_WEBHOOK_WORKERS=0)
  A="http://127.0.0.1:3911"
  until_listening "$A"
  b_pid=$(start_replica "$url" 3912 "$dir" "${extra[@]}")
  B="http://127.0.0.1:3912"
  until_listening "$B"
  BASE="$A"
  session_and_key
  agent=$(curl -sf -X POST "$A/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"name":"Worker","prompt":"p"}' | jq -r .id)
  echo "[$label] task created on A → claimed by a worker waiting on B ($SAMPLES samples)"
  across=$(load --base "$A" --token "$KEY" cross-claim --agent "$agent" --claim-base "$B" --samples "$SAMPLES")
  within=$(load --base "$A" --token "$KEY" cross-claim --agent "$agent" --claim-base "$A" --samples "$SAMPLES")
  echo "  A → B: $across"
  echo "  A → A (baseline): $within"
  record_load wakeup_claim "$name" a_to_b - "$across"
  record_load wakeup_claim "$name" a_to_a - "$within"
  echo "[$label] event committed on A → webhook received from B"
  hooks=$(load --base "$A" --token "$KEY" webhook-latency --agent "$agent" --events "$SAMPLES")
  echo "  A → B: $hooks"
  record_load wakeup_webhook "$name" a_to_b - "$hooks"
  kill "$a_pid" "$b_pid" 2>/dev/null || true
  wait "$a_pid" "$b_pid" 2>/dev/null || true
  rm -rf "$dir"
done
