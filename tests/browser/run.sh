#!/usr/bin/env bash
# Browser test of the dashboard: starts the given talon binary on a fresh SQLite data dir, then drives it in
# Debian's headless Chromium with playwright-core (dashboard.test.mjs), checking every page with axe-core.
# The server lets webhooks target loopback (the test's receiver listens on 127.0.0.1), runs the marketplace
# in sandbox mode (a wallet is funded through the API) and lifts the sign-in limits. Screenshots go to
# $BROWSER_OUT (default tests/browser/out). Exits non-zero on any failure, after the end of the server's log.
# Usage: tests/browser/run.sh [PATH/TO/talon]   (default: `cargo build --release -p talon`, then that binary)
# Needs node and npm (Node 18+), chromium at /usr/bin/chromium (or $CHROMIUM), curl and python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ $# -ge 1 ]; then
  talon=$(realpath "$1")
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/talon-target}"
  (cd "$root" && cargo build --release -p talon)
  talon="$CARGO_TARGET_DIR/release/talon"
fi
[ -x "$talon" ] || { echo "no talon binary at $talon" >&2; exit 1; }

# The pinned packages (package-lock.json); no browser download: the test uses the system Chromium.
if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/axe-core" ]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi

export BROWSER_OUT="${BROWSER_OUT:-$here/out}"
mkdir -p "$BROWSER_OUT"
BROWSER_OUT=$(realpath "$BROWSER_OUT")

# shellcheck source=tests/serve.sh
source "$root/tests/serve.sh"
start_talon "$talon" "$(cat <<TOML
[plans.default]
key_requests_per_minute = 1000000
account_requests_per_day = 1000000

[auth_limits]
login_per_email_per_minute = 1000
login_per_address_per_minute = 1000
register_per_address_per_hour = 1000
TOML
)" TALON_WEBHOOK_ALLOW_PRIVATE=true TALON_MARKETPLACE_SANDBOX=true RUST_LOG="${RUST_LOG:-info}"

status=0
(cd "$here" && TALON_URL="$base" node --test --test-reporter=spec dashboard.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- the server's log (last 60 lines) ---" >&2
  tail -n 60 "$dir/server.log" >&2
fi
echo "screenshots: $BROWSER_OUT"
exit "$status"
