# Sourced by the scripts that test a talon binary over HTTP (tests/schemathesis.sh, tests/browser/run.sh).
#
# start_talon TALON CONFIG [VAR=value …]: starts the binary TALON on a fresh SQLite data dir and a free
# loopback port, with the text CONFIG as its talon.toml and the given environment; waits until /healthz
# answers (else prints the end of the server's log and fails); stops the server and removes the dir when
# the calling script exits. Sets `dir` (the data dir, holding server.log), `base` (its URL) and `server`.
# Needs python3 and curl.

start_talon() {
  local talon=$1 config=$2
  shift 2
  dir=$(mktemp -d)
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  printf '%s\n' "$config" >"$dir/talon.toml"
  env DATABASE_URL="sqlite://$dir/talon.db" TALON_DATA_DIR="$dir" TALON_CONFIG="$dir/talon.toml" "$@" \
    "$talon" serve --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
  server=$!
  trap stop_talon EXIT
  for _ in $(seq 1 300); do
    curl -sf "$base/healthz" >/dev/null && return 0
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 50 "$dir/server.log" >&2
  echo "the server did not answer /healthz" >&2
  return 1
}

stop_talon() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
