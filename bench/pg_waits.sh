#!/usr/bin/env bash
# Where a PostgreSQL task cycle's time goes: the commit ceiling of this machine's disk (pgbench, a
# one-row insert per transaction, with and without waiting for the WAL flush), the queue store alone
# with and without waiting for the flush, and what the store's backends wait on while it runs
# (pg_stat_activity sampled every 10 ms).
# Usage: bench/pg_waits.sh  (DURATION=10s WORKERS="1 8 32")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
seconds="${DURATION%s}"
TMPDIR_BENCH=$(mktemp -d)
pg=(psql -h 127.0.0.1 -U postgres -Atq)
"${pg[@]}" -c "DROP DATABASE IF EXISTS talon_commit_probe" -c "CREATE DATABASE talon_commit_probe"
"${pg[@]}" -d talon_commit_probe -c "CREATE TABLE probe (id bigserial PRIMARY KEY, v int)"
echo 'INSERT INTO probe (v) VALUES (1);' > "$TMPDIR_BENCH/probe.sql"
echo "Commits per second, one-row insert per transaction (pgbench)"
for sync in on off; do
  for clients in ${WORKERS:-1 8 32}; do
    tps=$(PGOPTIONS="-c synchronous_commit=$sync" pgbench -h 127.0.0.1 -U postgres -n -c "$clients" -j 2 -T "$seconds" \
      -f "$TMPDIR_BENCH/probe.sql" talon_commit_probe 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}')
    echo "  synchronous_commit=$sync, $clients clients: $tps commits/s"
    record pg_commits postgres "sync_$sync" "$clients" commits_per_s "$tps"
  done
done
"${pg[@]}" -c "DROP DATABASE talon_commit_probe"
url="postgres://postgres@127.0.0.1:5432/talon_bench"
"${pg[@]}" -c "DROP DATABASE IF EXISTS talon_bench" -c "CREATE DATABASE talon_bench"
echo "Queue store alone, one task per call (create, claim, complete: three transactions)"
for sync in on off; do
  for workers in ${WORKERS:-1 8 32}; do
    sampler_out="$TMPDIR_BENCH/waits-$sync-$workers"
    ( end=$((SECONDS + seconds)); while [ $SECONDS -lt $end ]; do
        "${pg[@]}" -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
                        WHERE datname = 'talon_bench' AND state = 'active' AND pid <> pg_backend_pid()"
        sleep 0.01
      done > "$sampler_out" ) &
    sampler=$!
    "${pg[@]}" -c "ALTER DATABASE talon_bench SET synchronous_commit = $sync"
    result=$(load --token unused queue-store \
      --database-url "$url" --workers "$workers" --duration "$DURATION")
    wait "$sampler"
    echo "  synchronous_commit=$sync, $workers workers: $result"
    record_load queue_store_sync "postgres" "sync_$sync" "$workers" "$result"
    echo "    backends' wait events (share of samples of active backends):"
    sort "$sampler_out" | uniq -c | sort -rn | head -6 | awk -v total="$(wc -l < "$sampler_out")" \
      '{printf "      %5.1f%%  %s\n", 100 * $1 / total, $2}'
  done
done
"${pg[@]}" -c "DROP DATABASE talon_bench"
rm -rf "$TMPDIR_BENCH"
