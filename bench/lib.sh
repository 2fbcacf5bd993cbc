# Shared helpers for the load benchmarks: build, start a server on a backend, wait, stop, report.
# The server logs at `warn` unless BENCH_LOG names another level (`info` is the default of `talon serve`).
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/talon-target}"
TALON="${TALON:-$CARGO_TARGET_DIR/release/talon}"
LOAD="$CARGO_TARGET_DIR/release/talon-load"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DURATION="${DURATION:-10s}"
# Pinning (bench/all.sh sets both): the server on SERVER_CPUS, the load generators and mock upstreams on
# CLIENT_CPUS, so that they do not take each other's time. Unset: no pinning.
SERVER_PIN=()
CLIENT_PIN=()
[ -n "${SERVER_CPUS:-}" ] && SERVER_PIN=(taskset -c "$SERVER_CPUS")
[ -n "${CLIENT_CPUS:-}" ] && CLIENT_PIN=(taskset -c "$CLIENT_CPUS")

# build_release: builds the server and talon-load (NO_BUILD=1 uses the binaries already built).
build_release() {
  [ -n "${NO_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -p talon -p talon-bench --quiet)
  command -v oha >/dev/null || { echo "oha is missing: cargo install oha --locked" >&2; exit 1; }
}

machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ)"
}

# start_server BACKEND PORT DIR: starts talon with unlimited rate limits; sets SERVER_PID and BASE.
start_server() {
  local backend=$1 port=$2 dir=$3
  cat >"$dir/talon.toml" <<TOML
[plans.default]
key_requests_per_minute = 1000000000
account_requests_per_day = 1000000000
agent_chats_per_minute = 1000000000
account_concurrent_chats = 1000000
agent_concurrent_chats = 1000000
marketplace_requests_per_hour = 1000000000
proposals_per_minute = 1000000000
${EXTRA_TOML:-}
TOML
  local url="sqlite://$dir/talon.db"
  if [ "$backend" = postgres ]; then
    # REUSE_DB=1 starts on the database a previous start_server left (a restart).
    [ -n "${REUSE_DB:-}" ] ||
      psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS talon_bench" -qc "CREATE DATABASE talon_bench" >/dev/null
    url="postgres://postgres@127.0.0.1:5432/talon_bench"
  fi
  DATABASE_URL="$url" TALON_DATA_DIR="$dir" TALON_CONFIG="$dir/talon.toml" RUST_LOG="${BENCH_LOG:-warn}" \
    "${SERVER_PIN[@]}" "$TALON" serve --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  BASE="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "server did not start:" >&2; cat "$dir/server.log" >&2; exit 1
}

# start_chat_server PORT DIR: the zero-latency mock upstream on 127.0.0.1:3990 (stopped on exit; MOCK is
# its pid) and a SQLite server with it as the `mock` provider.
start_chat_server() {
  # Started directly (not through `load`) so that $! is the mock itself, which the trap stops.
  "${CLIENT_PIN[@]}" "$LOAD" --token unused mock-upstream --listen 127.0.0.1:3990 >/dev/null &
  MOCK=$!
  trap 'kill $MOCK 2>/dev/null || true' EXIT
  EXTRA_TOML='[[providers]]
name = "mock"
kind = "openai"
base_url = "http://127.0.0.1:3990/v1"' start_server sqlite "$1" "$2"
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

rss_mib() {
  awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"
}

# anon_mib PID: the part of the resident memory that is the process's own (heap, stacks), without the
# executable's mapped pages, which are shared and can be dropped by the kernel.
anon_mib() {
  awk '/RssAnon/{printf "%.1f", $2/1024}' "/proc/$1/status"
}

# session_and_key: registers an account, sets TOKEN and KEY (scopes: every one).
session_and_key() {
  local creds='{"email":"bench@example.com","password":"bench-password-123"}'
  curl -sf -o /dev/null -X POST "$BASE/api/auth/register" -H 'content-type: application/json' -d "$creds"
  TOKEN=$(curl -sf -X POST "$BASE/api/auth/login" -H 'content-type: application/json' -d "$creds" | jq -r .token)
  KEY=$(curl -sf -X POST "$BASE/api/api-keys" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name":"bench","scopes":["agents:read","agents:write","tasks:read","tasks:write","webhooks:read","webhooks:write","chat"]}' | jq -r .key)
}

# oha_json ARGS...: runs oha and prints its JSON summary.
oha_json() {
  "${CLIENT_PIN[@]}" oha --no-tui --output-format json "$@" 2>/dev/null
}

# load ARGS...: runs talon-load on the client cores.
load() {
  "${CLIENT_PIN[@]}" "$LOAD" "$@"
}

# record SCENARIO BACKEND SERIES X METRIC VALUE: one figure for bench/summarize.py, appended as a JSON
# line to $RESULTS when it is set (X may be "-" for none).
record() {
  [ -n "${RESULTS:-}" ] || return 0
  jq -nc --arg scenario "$1" --arg backend "$2" --arg series "$3" --arg x "$4" --arg metric "$5" --arg value "$6" \
    '{scenario: $scenario, backend: $backend, series: $series, x: (if $x == "-" then null else ($x | tonumber) end),
      metric: $metric, value: ($value | tonumber)}' >>"$RESULTS"
}

# record_oha SCENARIO BACKEND SERIES X JSON: an oha summary's p50_ms, p99_ms, rps and errors.
record_oha() {
  local metric
  for metric in p50_ms p99_ms rps errors; do record "$1" "$2" "$3" "$4" "$metric" "$(field "$5" "$metric")"; done
}

# record_load SCENARIO BACKEND SERIES X LINE: a talon-load report line ("<rate> <unit>/s … p50 <ms> ms
# p99 <ms> ms …"): its rate as rps, and its percentiles when it has them.
record_load() {
  local rate p50 p99
  rate=$(awk '{print $1}' <<<"$5")
  p50=$(grep -o 'p50 [0-9.]*' <<<"$5" | head -n1 | awk '{print $2}')
  p99=$(grep -o 'p99 [0-9.]*' <<<"$5" | head -n1 | awk '{print $2}')
  record "$1" "$2" "$3" "$4" rps "$rate"
  if [ -n "$p50" ]; then record "$1" "$2" "$3" "$4" p50_ms "$p50"; fi
  if [ -n "$p99" ]; then record "$1" "$2" "$3" "$4" p99_ms "$p99"; fi
}

# field JSON NAME: one figure of an oha summary: rps, p50_ms, p99_ms or errors (non-2xx responses and
# failed requests; not those still in flight when the run's time was up, "aborted due to deadline").
field() {
  jq -r --arg name "$2" '{
      rps: (.summary.requestsPerSec|floor),
      p50_ms: (.latencyPercentiles.p50*1000),
      p99_ms: (.latencyPercentiles.p99*1000),
      errors: ((((.statusCodeDistribution // {}) | to_entries | map(select(.key|startswith("2")|not)) | map(.value) | add) // 0)
               + (((.errorDistribution // {}) | to_entries | map(select(.key != "aborted due to deadline") | .value) | add) // 0))
    }[$name]' <<<"$1"
}

# summary JSON: "rps p50 p99" (latencies in ms) and the count of non-2xx responses.
summary() {
  jq -r '[ (.summary.requestsPerSec|floor),
           (.latencyPercentiles.p50*1000*1000|round/1000),
           (.latencyPercentiles.p99*1000*1000|round/1000),
           ((.statusCodeDistribution // {}) | to_entries | map(select(.key|startswith("2")|not)) | map(.value) | add // 0)
         ] | "\(.[0]) req/s  p50 \(.[1]) ms  p99 \(.[2]) ms  errors \(.[3])"' <<<"$1"
}
