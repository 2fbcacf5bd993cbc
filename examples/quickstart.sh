#!/usr/bin/env bash
# Talon's Quick Start, runnable: the README shows these same commands. Against a server started with
#
#   TALON_CONFIG=examples/talon.toml TALON_WEBHOOK_ALLOW_PRIVATE=true cargo run --release -- serve
#
# it creates an account, an API key, an agent with a model, versions, a fork; deploys it; chats with it
# through the OpenAI SDK and curl; has a worker claim and complete a task; and receives and verifies a
# signed webhook. Needs curl, jq and python3 with `pip install openai`. Every step checks its answer:
# the script stops with a non-zero status at the first one that fails.
set -euo pipefail
trap 'echo "quickstart: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

cd "$(dirname "$0")/.."

# Run from the repository root.
TALON_URL=${TALON_URL:-http://127.0.0.1:3000}
EMAIL=${TALON_EMAIL:-you@example.com}
PASSWORD=${TALON_PASSWORD:-your-secure-password}
WORK=$(mktemp -d)   # scratch files: response headers, the webhook secret, what the receiver got
RECEIVER_PID=
cleanup() {
  if [ -n "$RECEIVER_PID" ]; then kill "$RECEIVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "Create an account and log in"
curl -fsS -X POST "$TALON_URL/api/auth/register" -H "Content-Type: application/json" \
  -d '{"email": "'"$EMAIL"'", "password": "'"$PASSWORD"'"}' | jq -e .message
TOKEN=$(curl -fsS -X POST "$TALON_URL/api/auth/login" -H "Content-Type: application/json" \
  -d '{"email": "'"$EMAIL"'", "password": "'"$PASSWORD"'"}' | jq -er .token)
curl -fsS "$TALON_URL/api/auth/me" -H "Authorization: Bearer $TOKEN" | jq -e .email

step "Create an API key with the scopes this walkthrough uses (shown once)"
KEY_JSON=$(curl -fsS -X POST "$TALON_URL/api/api-keys" \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
  -d '{"name": "Quick Start", "scopes": ["agents:read", "agents:write", "tasks:read", "tasks:write",
       "webhooks:read", "webhooks:write", "chat"]}')
KEY=$(jq -er .key <<<"$KEY_JSON")
KEY_ID=$(jq -er .id <<<"$KEY_JSON")
curl -fsS -i "$TALON_URL/api/auth/me" -H "Authorization: Bearer $KEY" | grep -i '^x-ratelimit-remaining'
curl -fsS "$TALON_URL/api/api-keys" -H "Authorization: Bearer $TOKEN" | jq -e --arg id "$KEY_ID" '.data[] | select(.id == $id) | .scopes'

step "Create an agent: local/llama3, falling back to the built-in test/echo"
AGENT_JSON=$(curl -fsS -X POST "$TALON_URL/api/agents" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"name": "My First Agent", "description": "A helpful assistant", "prompt": "You are a helpful AI assistant.",
       "tools": [], "config": {"temperature": 0.7, "maxTokens": 2000},
       "model": {"primary": "local/llama3", "fallback": "test/echo"}}')
AGENT=$(jq -er .id <<<"$AGENT_JSON")
SLUG=$(jq -er .slug <<<"$AGENT_JSON")
V1=$(jq -er .currentVersionId <<<"$AGENT_JSON")
echo "agent $AGENT ($SLUG), version 1: $V1"

step "A new version: only what changes; the diff comes back"
V2_JSON=$(curl -fsS -X POST "$TALON_URL/api/agents/$AGENT/versions" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"config": {"temperature": 0.5, "maxTokens": 3000}, "commitMessage": "Reduced temperature"}')
V2=$(jq -er .id <<<"$V2_JSON")
jq -e .diffFromParent <<<"$V2_JSON"
curl -fsS "$TALON_URL/api/agents/$AGENT/versions?page=1&limit=20" -H "Authorization: Bearer $KEY" \
  | jq -e '.pagination.total == 2'

step "Compare versions 1 and 2 (by id or by number), roll back to 1 (a new version 3)"
curl -fsS "$TALON_URL/api/agents/$AGENT/versions/compare?from=$V1&to=$V2" -H "Authorization: Bearer $KEY" \
  | jq -e '.diff.config.changed.temperature == {"from": 0.7, "to": 0.5}'
curl -fsS "$TALON_URL/api/agents/$AGENT/versions/compare?from=1&to=2" -H "Authorization: Bearer $KEY" \
  | jq -e '.diff.config.changed.temperature == {"from": 0.7, "to": 0.5}'
curl -fsS -X POST "$TALON_URL/api/agents/$AGENT/rollback" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" -d '{"versionId": "'"$V1"'"}' \
  | jq -e '.versionNumber == 3 and .commitMessage == "Rollback to version 1"'

step "Fork it, see the family tree, deploy"
FORK=$(curl -fsS -X POST "$TALON_URL/api/agents/$AGENT/fork" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"forkType": "prompt_mutation", "name": "My Agent (Spanish)", "prompt": "Eres un asistente útil."}' \
  | jq -er .id)
curl -fsS "$TALON_URL/api/agents/$AGENT/lineage" -H "Authorization: Bearer $KEY" \
  | jq -e --arg fork "$FORK" '.root.children[0].id == $fork'
curl -fsS -X POST "$TALON_URL/api/agents/$AGENT/deploy" -H "Authorization: Bearer $KEY" | jq -e '.status == "deployed"'
curl -fsS "$TALON_URL/api/v1/agents?limit=10&offset=0" -H "Authorization: Bearer $KEY" \
  | jq -e --arg slug "$SLUG" '.agents[] | select(.slug == $slug) | .status'

step "Chat with it through the OpenAI Python SDK: the agent's slug is the model"
python3 - "$TALON_URL/v1" "$KEY" "$SLUG" <<'PY'
import sys
from openai import OpenAI

base_url, api_key, model = sys.argv[1:]
client = OpenAI(base_url=base_url, api_key=api_key)
reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello, Talon"}])
assert reply.choices[0].message.content, reply
print("answer:", reply.choices[0].message.content)
streamed = "".join(
    chunk.choices[0].delta.content or ""
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Stream this"}], stream=True
    )
    if chunk.choices
)
assert streamed, "an empty stream"
print("streamed:", streamed)
assert model in [m.id for m in client.models.list()], "the deployed agent is listed as a model"
PY

step "The same through curl; X-Talon-Model names the model that answered"
curl -fsS -D "$WORK/chat-headers" "$TALON_URL/v1/chat/completions" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"model": "'"$SLUG"'", "messages": [{"role": "user", "content": "Hello again"}]}' \
  | jq -er '.choices[0].message.content'
grep -i '^x-talon-model' "$WORK/chat-headers"

step "Start a webhook receiver and subscribe it to task events"
: >"$WORK/deliveries"
python3 examples/webhook_receiver.py "$WORK/webhook-secret" "$WORK/deliveries" >"$WORK/receiver.out" &
RECEIVER_PID=$!
for _ in $(seq 1 50); do grep -q listening "$WORK/receiver.out" && break; sleep 0.1; done
RECEIVER_URL=$(grep -o 'http://[^ ]*' "$WORK/receiver.out")
HOOK_JSON=$(curl -fsS -X POST "$TALON_URL/api/webhooks" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"url": "'"$RECEIVER_URL"'", "events": ["task.completed", "task.failed"]}')
HOOK=$(jq -er .id <<<"$HOOK_JSON")
jq -er .secret <<<"$HOOK_JSON" >"$WORK/webhook-secret"   # shown once: the receiver checks signatures with it
echo "webhook $HOOK -> $RECEIVER_URL"

step "A task for an external worker: queue it, claim it (with a lease), complete it"
TASK=$(curl -fsS -X POST "$TALON_URL/api/tasks" -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d '{"agentId": "'"$AGENT"'", "title": "Review PR #42", "priority": "high", "executor": "external",
       "input": {"pr_number": 42}}' | jq -er .id)
LEASE=$(curl -fsS -X POST "$TALON_URL/api/tasks/claim" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" -d '{"limit": 5, "leaseSeconds": 60, "waitSeconds": 20}' \
  | jq -er --arg task "$TASK" '.data[] | select(.id == $task) | .leaseToken')
curl -fsS -X PATCH "$TALON_URL/api/tasks/$TASK" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"status": "completed", "leaseToken": "'"$LEASE"'", "output": {"review": "Looks good"}}' \
  | jq -e '.status == "completed"'
curl -fsS "$TALON_URL/api/tasks?status=completed&agentId=$AGENT" -H "Authorization: Bearer $KEY" \
  | jq -e --arg task "$TASK" '[.data[].id] | index($task) != null'

step "A task Talon's runtime answers itself (the default for a deployed agent)"
RUNTIME_TASK=$(curl -fsS -X POST "$TALON_URL/api/tasks" -H "Authorization: Bearer $KEY" \
  -H "Content-Type: application/json" \
  -d '{"agentId": "'"$AGENT"'", "title": "Greet", "input": {"prompt": "Hello from a task"}}' | jq -er .id)
for _ in $(seq 1 30); do
  STATUS=$(curl -fsS "$TALON_URL/api/tasks/$RUNTIME_TASK" -H "Authorization: Bearer $KEY" | jq -er .status)
  case $STATUS in completed | failed) break ;; esac
  sleep 1
done
curl -fsS "$TALON_URL/api/tasks/$RUNTIME_TASK" -H "Authorization: Bearer $KEY" \
  | jq -e 'select(.status == "completed" and .executor == "runtime") | .output.content'

step "The receiver got both task.completed deliveries, signatures verified"
for _ in $(seq 1 50); do
  [ "$(jq -s '[.[] | select(.event == "task.completed" and .verified)] | length' "$WORK/deliveries")" -ge 2 ] && break
  sleep 0.2
done
cat "$WORK/deliveries"
jq -es '[.[] | select(.event == "task.completed" and .verified)] | length >= 2' "$WORK/deliveries"
DELIVERY=$(curl -fsS "$TALON_URL/api/webhooks/$HOOK/deliveries" -H "Authorization: Bearer $KEY" \
  | jq -er '[.data[] | select(.status == "succeeded")][0].id')
curl -fsS -X POST "$TALON_URL/api/webhooks/$HOOK/deliveries/$DELIVERY/redeliver" -H "Authorization: Bearer $KEY" \
  | jq -e .id

step "Revoke the API key: it stops working at once"
curl -fsS -X DELETE "$TALON_URL/api/api-keys/$KEY_ID" -H "Authorization: Bearer $TOKEN"
test "$(curl -sS -o /dev/null -w '%{http_code}' "$TALON_URL/api/auth/me" -H "Authorization: Bearer $KEY")" = 401

step "Sign out: the session token stops working too"
curl -fsS -X POST "$TALON_URL/api/auth/logout" -H "Authorization: Bearer $TOKEN"
test "$(curl -sS -o /dev/null -w '%{http_code}' "$TALON_URL/api/auth/me" -H "Authorization: Bearer $TOKEN")" = 401

printf '\nQuick Start: every step passed.\n'
