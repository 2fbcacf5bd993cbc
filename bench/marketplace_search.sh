#!/usr/bin/env bash
# Marketplace gig search on SQLite and PostgreSQL: COUNT (default 100,000) made-up gigs are loaded
# straight into the database (talon-load seed-gigs), then GET /api/v1/gigs is timed with oha at
# concurrency 1 (latency) and 8 (throughput) for several searches: the default page, full-text words,
# a category with a budget sort, a budget range, skills, a deep offset, and everything at once.
# Usage: bench/marketplace_search.sh  (DURATION=10s, COUNT=100000, BACKENDS="sqlite postgres")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
build_release
machine
COUNT="${COUNT:-100000}"
QUERIES=(
  "limit=20"
  "q=parser&limit=20"
  "q=dashboard%20migration&limit=20"
  "category=design&sort=budget_desc&limit=20"
  "min_budget=100&max_budget=500&sort=budget_asc&limit=20"
  "skills=rust,go&sort=deadline&limit=20"
  "offset=10000&limit=20"
  "q=api&category=code&min_budget=50&sort=deadline&limit=20"
)
for backend in ${BACKENDS:-sqlite postgres}; do
  dir=$(mktemp -d)
  start_server "$backend" 3904 "$dir"
  session_and_key
  user=$(curl -sf "$BASE/api/auth/me" -H "authorization: Bearer $TOKEN" | jq -r .id)
  KEY=$(curl -sf -X POST "$BASE/api/api-keys" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name":"search","scopes":["marketplace:read"]}' | jq -r .key)
  url="sqlite://$dir/talon.db"
  [ "$backend" = postgres ] && url="postgres://postgres@127.0.0.1:5432/talon_bench"
  echo "[$backend] $("$LOAD" --token unused seed-gigs --database-url "$url" --client "$user" --count "$COUNT")"
  auth=(-H "Authorization: Bearer $KEY")
  oha_json -z 2s -c 4 "${auth[@]}" "$BASE/api/v1/gigs?limit=20" >/dev/null
  echo "[$backend] GET /api/v1/gigs over $COUNT gigs (concurrency 1 | concurrency 8)"
  for query in "${QUERIES[@]}"; do
    total=$(curl -sf "$BASE/api/v1/gigs?$query" "${auth[@]}" | jq .data.total)
    c1=$(oha_json -z "$DURATION" -c 1 "${auth[@]}" "$BASE/api/v1/gigs?$query")
    c8=$(oha_json -z "$DURATION" -c 8 "${auth[@]}" "$BASE/api/v1/gigs?$query")
    printf '  %-58s total %6s | %s | %s\n' "$query" "$total" "$(summary "$c1")" "$(summary "$c8")"
  done
  echo "  memory after the run: $(rss_mib "$SERVER_PID") MiB"
  stop_server
  rm -rf "$dir"
done
