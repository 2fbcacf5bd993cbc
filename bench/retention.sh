#!/usr/bin/env bash
# Retention under load: one account seeded with N agents, N tasks and 10·N usage records over the last
# year, then the server restarted on a fresh copy of it twice with retention off and twice with it on
# (deleting eleven months of usage records), reading the first page of agents at concurrency 1 for
# DURATION right after each start. The difference between the rounds is what a purge costs requests.
# Usage: bench/retention.sh  (N=100000 BACKENDS="sqlite postgres" DURATION=5s)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
N=${N:-100000}
DURATION=${DURATION:-5s}
url_of() { [ "$1" = postgres ] && echo "postgres://postgres@127.0.0.1:5432/talon_bench" || echo "sqlite://$2/talon.db"; }
for backend in ${BACKENDS:-sqlite postgres}; do
  dir=$(mktemp -d)
  start_server "$backend" 3905 "$dir"
  session_and_key
  load --token unused seed --database-url "$(url_of "$backend" "$dir")" --email bench@example.com \
    --agents "$N" --tasks "$N" --usage $((N * 10)) >/dev/null 2>&1
  stop_server
  # A copy of the seeded database to start each round from.
  if [ "$backend" = postgres ]; then
    psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS talon_seeded" -qc "CREATE DATABASE talon_seeded TEMPLATE talon_bench" >/dev/null
  else
    cp "$dir/talon.db" "$dir/seeded.db"
  fi
  for round in off on off on; do
    if [ "$backend" = postgres ]; then
      psql "$PG_ADMIN_URL" -qc "DROP DATABASE talon_bench" -qc "CREATE DATABASE talon_bench TEMPLATE talon_seeded" >/dev/null
    else
      cp "$dir/seeded.db" "$dir/talon.db"
      rm -f "$dir/talon.db-wal" "$dir/talon.db-shm"
    fi
    days=30
    [ "$round" = off ] && days=3650
    TALON_USAGE_RAW_RETENTION_DAYS=$days REUSE_DB=1 start_server "$backend" 3905 "$dir"
    result=$(oha_json -c 1 -H "Authorization: Bearer $KEY" -z "$DURATION" "$BASE/api/agents?limit=20")
    echo "[$backend, $N rows] retention $round: $(summary "$result")"
    stop_server
  done
  [ "$backend" = postgres ] && psql "$PG_ADMIN_URL" -qc "DROP DATABASE talon_seeded" >/dev/null
  rm -rf "$dir"
done
