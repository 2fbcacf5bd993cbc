#!/usr/bin/env bash
# Chat gateway benchmark: the same requests straight to a zero-latency mock upstream and through Talon
# (SQLite), side by side in one run: JSON completions at concurrency 1 and saturated; open loop at rising
# rates until Talon no longer holds the rate with p99 under 5 ms and no errors; the time to the first
# event of a 64-chunk stream (chunks 20 ms apart); the server's memory idle, as the run ends and 6 s later.
# Usage: bench/chat.sh  (RATES="…" DURATION=20s to change)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
dir=$(mktemp -d)
start_chat_server 3904 "$dir"
idle=$(rss_mib "$SERVER_PID")
idle_anon=$(anon_mib "$SERVER_PID")
session_and_key
for spec in 'bench-bot:mock/instant' 'stream-bot:mock/chunks-64'; do
  name=${spec%%:*}; model=${spec#*:}
  curl -sf -X POST "$BASE/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d "{\"name\":\"$name\",\"prompt\":\"You help.\",\"model\":{\"primary\":\"$model\"}}" >/dev/null
  curl -sf -X POST "$BASE/api/agents/$name/deploy" -H "authorization: Bearer $KEY" >/dev/null
done
messages='[{"role":"user","content":"Say hello"}]'
direct=(-m POST -T application/json -d "{\"model\":\"instant\",\"messages\":$messages}" http://127.0.0.1:3990/v1/chat/completions)
talon=(-m POST -T application/json -H "Authorization: Bearer $KEY" -d "{\"model\":\"bench-bot\",\"messages\":$messages}" "$BASE/v1/chat/completions")
oha_json -z 2s -c 8 "${talon[@]}" >/dev/null
echo "JSON completion, concurrency 1"
c1_direct=$(oha_json -z "$DURATION" -c 1 "${direct[@]}")
c1_talon=$(oha_json -z "$DURATION" -c 1 "${talon[@]}")
echo "  direct to the mock: $(summary "$c1_direct")"
echo "  through Talon:      $(summary "$c1_talon")"
record_oha chat_c1 sqlite direct - "$c1_direct"
record_oha chat_c1 sqlite talon - "$c1_talon"
echo "JSON completion, saturated (64 connections, no rate limit on the load generator)"
max_direct=$(oha_json -z "$DURATION" -c 64 "${direct[@]}")
max_talon=$(oha_json -z "$DURATION" -c 64 "${talon[@]}")
echo "  direct to the mock: $(summary "$max_direct")"
echo "  through Talon:      $(summary "$max_talon")"
record_oha chat_saturated sqlite direct - "$max_direct"
record_oha chat_saturated sqlite talon - "$max_talon"
held=none
for rate in ${RATES:-500 1000 2000 3000 4000 5000 6000 8000}; do
  echo "JSON completion, open loop $rate req/s, 64 connections"
  open_direct=$(oha_json -z "$DURATION" -q "$rate" -c 64 --latency-correction "${direct[@]}")
  through=$(oha_json -z "$DURATION" -q "$rate" -c 64 --latency-correction "${talon[@]}")
  echo "  direct to the mock: $(summary "$open_direct")"
  echo "  through Talon:      $(summary "$through")"
  record_oha chat_open sqlite direct "$rate" "$open_direct"
  record_oha chat_open sqlite talon "$rate" "$through"
  # Held: at least 98% of the rate served, p99 under 5 ms, no errors.
  if [ "$(field "$through" errors)" = 0 ] && awk -v p99="$(field "$through" p99_ms)" -v rps="$(field "$through" rps)" \
       -v rate="$rate" 'BEGIN { exit !(p99 < 5 && rps >= 0.98 * rate) }'; then
    held=$rate
  else
    break
  fi
done
echo "highest rate Talon held with p99 < 5 ms and no errors: $held req/s"
echo "First event of a 64-chunk stream (chunks 20 ms apart), 50 requests one at a time"
echo "  direct to the mock: $(load --token unused first-event --url http://127.0.0.1:3990/v1/chat/completions --body "{\"model\":\"chunks-64\",\"stream\":true,\"messages\":$messages}")"
echo "  through Talon:      $(load --token "$KEY" first-event --url "$BASE/v1/chat/completions" --body "{\"model\":\"stream-bot\",\"stream\":true,\"messages\":$messages}")"
after=$(rss_mib "$SERVER_PID")
after_anon=$(anon_mib "$SERVER_PID")
# The server hands freed heap back every 5 s (crates/talon/src/allocator.rs): what it keeps once idle.
sleep 6
settled=$(rss_mib "$SERVER_PID")
settled_anon=$(anon_mib "$SERVER_PID")
echo "  memory: $idle MiB idle, $after MiB as the run ends, $settled MiB 6 s later"
echo "    (of which the process's own: $idle_anon, $after_anon, $settled_anon MiB)"
record memory sqlite idle - mib "$idle"
record memory sqlite after_chat - mib "$after"
record memory sqlite after_chat_settled - mib "$settled"
record memory sqlite idle - anon_mib "$idle_anon"
record memory sqlite after_chat - anon_mib "$after_anon"
record memory sqlite after_chat_settled - anon_mib "$settled_anon"
stop_server
rm -rf "$dir"
