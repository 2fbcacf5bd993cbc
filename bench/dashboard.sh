#!/usr/bin/env bash
# The dashboard's server time per page on the Quick Start's data: runs examples/quickstart.sh against a
# fresh server, signs in through the dashboard's form, then asks each page N times, one at a time
# (oha, concurrency 1), and prints p50 / p99 / slowest in ms.
# Usage: bench/dashboard.sh  (N=300 BACKENDS="sqlite postgres")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
N="${N:-300}"
port=3993
for backend in ${BACKENDS:-sqlite postgres}; do
  dir=$(mktemp -d)
  EXTRA_TOML='[[providers]]
name = "local"
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"' TALON_WEBHOOK_ALLOW_PRIVATE=true start_server "$backend" "$port" "$dir"
  (cd "$ROOT" && TALON_URL="$BASE" bash examples/quickstart.sh >"$dir/quickstart.log" 2>&1) ||
    { echo "the Quick Start failed:" >&2; tail -n 30 "$dir/quickstart.log" >&2; stop_server; exit 1; }
  email=you@example.com password=your-secure-password
  cookie=$(curl -s -o /dev/null -D - -X POST "$BASE/login" --data-urlencode "email=$email" \
    --data-urlencode "password=$password" | tr -d '\r' | awk -F'[ ;]' 'tolower($1) == "set-cookie:" {print $2}')
  token=$(curl -sf -X POST "$BASE/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | jq -r .token)
  api() { curl -sf "$BASE$1" -H "authorization: Bearer $token"; }
  slug=$(api /api/agents | jq -r '.data[0].slug')
  task=$(api /api/tasks | jq -r '.data[0].id')
  webhook=$(api /api/webhooks | jq -r '.data[0].id')
  echo "$backend: $(api /api/agents | jq '.data | length') agents, $(api "/api/agents/$slug/versions" | jq '.data | length') versions of $slug"
  printf '  %-52s %8s %8s %8s\n' page p50 p99 max
  for page in /agents "/agents/$slug" "/agents/$slug/versions/1" "/agents/$slug/compare?from=1&to=2" \
    "/agents/$slug/lineage" /playground "/usage?agent=$slug" /tasks "/tasks/$task" /webhooks "/webhooks/$webhook" \
    /keys /marketplace; do
    status=$(curl -s -o /dev/null -w '%{http_code}' -H "cookie: $cookie" "$BASE$page")
    [ "$status" = 200 ] || { echo "  $page answered $status" >&2; stop_server; exit 1; }
    json=$(oha_json -n "$N" -c 1 -H "cookie: $cookie" "$BASE$page")
    max=$(jq -r '.summary.slowest*1000' <<<"$json")
    printf '  %-52s %8.3f %8.3f %8.3f\n' "$page" "$(field "$json" p50_ms)" "$(field "$json" p99_ms)" "$max"
    record dashboard "$backend" "$page" - p50_ms "$(field "$json" p50_ms)"
  done
  stop_server
  rm -rf "$dir"
done
