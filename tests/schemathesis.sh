#!/usr/bin/env bash
# Property-based API test: starts the given talon binary on a fresh SQLite data dir with request and sign-in
# limits lifted, registers an account, makes an API key with every scope and runs Schemathesis against the served
# /openapi.json with every check, time-boxed. Exits non-zero on any failure.
# Usage: tests/schemathesis.sh PATH/TO/talon [seconds]   (needs curl, jq and `st` from `pip install schemathesis`)
set -euo pipefail
talon=$(realpath "${1:?usage: tests/schemathesis.sh PATH/TO/talon [seconds]}")
config=$(realpath "$(dirname "$0")/schemathesis.toml")
budget=${2:-60}

# shellcheck source=tests/serve.sh
source "$(dirname "$0")/serve.sh"
start_talon "$talon" "$(cat <<TOML
[plans.default]
key_requests_per_minute = 1000000000
account_requests_per_day = 1000000000
agent_chats_per_minute = 1000000000
account_concurrent_chats = 1000000
agent_concurrent_chats = 1000000
marketplace_requests_per_hour = 1000000000
proposals_per_minute = 1000000000

[auth_limits]
login_per_email_per_minute = 1000000000
login_per_address_per_minute = 1000000000
register_per_address_per_hour = 1000000000
TOML
)" RUST_LOG=warn

creds='{"email":"schemathesis@example.com","password":"schemathesis-password-1"}'
curl -sf -o /dev/null -X POST "$base/api/auth/register" -H 'content-type: application/json' -d "$creds"
token=$(curl -sf -X POST "$base/api/auth/login" -H 'content-type: application/json' -d "$creds" | jq -r .token)
key=$(curl -sf -X POST "$base/api/api-keys" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"name":"schemathesis","scopes":["agents:read","agents:write","tasks:read","tasks:write","webhooks:read","webhooks:write","chat"]}' |
  jq -r .key)

status=0
# Run inside the scratch dir: Schemathesis keeps its example database and replay cache in the working directory.
cd "$dir"
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$(dirname "$config")${PYTHONPATH:+:$PYTHONPATH}" \
  st --config-file "$config" run "$base/openapi.json" --checks all -H "Authorization: Bearer $key" \
  --max-time "$budget" --max-examples "${ST_MAX_EXAMPLES:-25}" --seed "${ST_SEED:-1}" || status=$?
if [ "$status" -ne 0 ]; then tail -n 30 "$dir/server.log" >&2; fi
exit "$status"
