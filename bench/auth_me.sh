#!/usr/bin/env bash
# Load benchmark: authenticated GET /api/auth/me with an API key, on SQLite and on PostgreSQL, and the
# server's idle and loaded memory. Every request is real work: key checksum, SHA-256, a database lookup
# joined with the account, rate-limit accounting. Usage: bench/auth_me.sh  (DURATION=10s by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
for backend in sqlite postgres; do
  dir=$(mktemp -d)
  start_server "$backend" 3901 "$dir"
  session_and_key
  sleep 1
  idle=$(rss_mib "$SERVER_PID")
  url="$BASE/api/auth/me"
  auth=(-H "Authorization: Bearer $KEY")
  oha_json -z 2s -c 16 "${auth[@]}" "$url" >/dev/null   # warm-up
  c1=$(oha_json -z "$DURATION" -c 1 "${auth[@]}" "$url")
  max=$(oha_json -z "$DURATION" -c 64 "${auth[@]}" "$url")
  open=$(oha_json -z "$DURATION" -q "${RATE:-5000}" -c 64 --latency-correction "${auth[@]}" "$url")
  loaded=$(rss_mib "$SERVER_PID")
  echo "[$backend] GET /api/auth/me (API key)"
  echo "  concurrency 1:            $(summary "$c1")"
  echo "  concurrency 64 (max):     $(summary "$max")"
  echo "  open loop ${RATE:-5000} req/s, c64: $(summary "$open")"
  echo "  memory: idle ${idle} MiB, after load ${loaded} MiB"
  stop_server
  rm -rf "$dir"
done
