#!/usr/bin/env bash
# Registry benchmark on SQLite and PostgreSQL: reads of one agent (GET /api/agents/:id, oha), new
# versions per second on one agent (POST /api/agents/:id/versions, each a distinct prompt, talon-load)
# from 1, 4 and 16 clients, and the latency of GET /api/agents/:id/lineage on a fork tree of 10,000
# agents. Usage: bench/registry.sh  (NODES=10000 RATE=10000 BACKENDS="sqlite postgres")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
NODES="${NODES:-10000}"
for backend in ${BACKENDS:-sqlite postgres}; do
  dir=$(mktemp -d)
  start_server "$backend" 3902 "$dir"
  session_and_key
  agent=$(curl -sf -X POST "$BASE/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
    -d '{"name":"Code Review Agent","prompt":"You are an expert code reviewer...","tools":[{"name":"github_api","description":"GitHub API access","parameters":{"repo":"string"}}],"config":{"temperature":0.3,"maxTokens":4000}}' | jq -r .id)
  auth=(-H "Authorization: Bearer $KEY")
  url="$BASE/api/agents/$agent"
  oha_json -z 2s -c 16 "${auth[@]}" "$url" >/dev/null
  c1=$(oha_json -z "$DURATION" -c 1 "${auth[@]}" "$url")
  max=$(oha_json -z "$DURATION" -c 64 "${auth[@]}" "$url")
  open=$(oha_json -z "$DURATION" -q "${RATE:-10000}" -c 64 --latency-correction "${auth[@]}" "$url")
  echo "[$backend] GET /api/agents/:id"
  echo "  concurrency 1:             $(summary "$c1")"
  echo "  concurrency 64 (max):      $(summary "$max")"
  echo "  open loop ${RATE:-10000} req/s, c64: $(summary "$open")"
  record_oha agent_get "$backend" talon 1 "$c1"
  record_oha agent_get "$backend" talon 64 "$max"
  echo "[$backend] POST /api/agents/:id/versions, one agent"
  for clients in 1 4 16; do
    writer=$(curl -sf -X POST "$BASE/api/agents" -H "authorization: Bearer $KEY" -H 'content-type: application/json' \
      -d "{\"name\":\"Writer $clients\",\"prompt\":\"v1\"}" | jq -r .id)
    line=$(load --base "$BASE" --token "$KEY" versions --agent "$writer" --concurrency "$clients" --seconds "${DURATION%s}")
    echo "  concurrency $clients: $line"
    record_load versions "$backend" talon "$clients" "$line"
  done
  started=$(date +%s)
  root=$(load --base "$BASE" --token "$KEY" fork-tree --nodes "$NODES" --branching 4)
  built=$(( $(date +%s) - started ))
  bytes=$(curl -sf "$BASE/api/agents/$root/lineage" "${auth[@]}" | wc -c)
  lineage=$(oha_json -z "$DURATION" -c 1 "${auth[@]}" "$BASE/api/agents/$root/lineage")
  echo "[$backend] GET /api/agents/:id/lineage, $NODES-agent tree (branching 4, built in ${built}s; $bytes bytes)"
  echo "  concurrency 1:  $(summary "$lineage")"
  record_oha lineage "$backend" talon "$NODES" "$lineage"
  echo "  memory after the run: $(rss_mib "$SERVER_PID") MiB"
  stop_server
  rm -rf "$dir"
done
