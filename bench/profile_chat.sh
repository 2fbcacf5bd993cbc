#!/usr/bin/env bash
# A flame graph of the chat hot path: Talon (SQLite) pinned to one core answers JSON completions from a
# zero-latency mock upstream at a fixed open-loop rate while `perf` samples it; inferno draws the SVG.
# Usage: bench/profile_chat.sh OUT.svg  (RATE=2000 SECONDS_TO_SAMPLE=10 FOLDED=stacks.txt to keep the
# folded stacks; needs perf and `cargo install inferno`)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=$(realpath -m "${1:?usage: bench/profile_chat.sh OUT.svg}")
export SERVER_CPUS="${SERVER_CPUS:-0}" CLIENT_CPUS="${CLIENT_CPUS:-1}"
SERVER_PIN=(taskset -c "$SERVER_CPUS")
CLIENT_PIN=(taskset -c "$CLIENT_CPUS")
build_release
command -v perf >/dev/null || { echo "perf is missing (apt-get install linux-perf)" >&2; exit 1; }
command -v inferno-flamegraph >/dev/null || { echo "inferno is missing: cargo install inferno --locked" >&2; exit 1; }
dir=$(mktemp -d)
start_chat_server 3905 "$dir"
session_and_key
curl -sf -X POST "$BASE/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
  -d '{"name":"bench-bot","prompt":"You help.","model":{"primary":"mock/instant"}}' >/dev/null
curl -sf -X POST "$BASE/api/agents/bench-bot/deploy" -H "authorization: Bearer $KEY" >/dev/null
talon=(-m POST -T application/json -H "Authorization: Bearer $KEY"
  -d '{"model":"bench-bot","messages":[{"role":"user","content":"Say hello"}]}' "$BASE/v1/chat/completions")
oha_json -z 3s -c 8 "${talon[@]}" >/dev/null
seconds="${SECONDS_TO_SAMPLE:-10}"
perf record -F 997 -g --call-graph dwarf,32768 -p "$SERVER_PID" -o "$dir/perf.data" -- sleep "$seconds" 2>/dev/null &
perf_pid=$!
sleep 0.5
echo "under load: $(summary "$(oha_json -z "$((seconds - 1))s" -q "${RATE:-2000}" -c 64 --latency-correction "${talon[@]}")")"
wait "$perf_pid"
perf script -i "$dir/perf.data" 2>/dev/null | inferno-collapse-perf >"$dir/folded"
if [ -n "${FOLDED:-}" ]; then cp "$dir/folded" "$FOLDED"; fi
inferno-flamegraph --title "talon: /v1/chat/completions at ${RATE:-2000} req/s, one core" <"$dir/folded" >"$out"
echo "wrote $out ($(wc -l <"$dir/folded") distinct stacks)"
stop_server
rm -rf "$dir"
