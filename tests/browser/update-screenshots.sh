#!/usr/bin/env bash
# Refreshes the README's screenshots: runs the browser test (tests/browser/run.sh, same arguments) into a
# scratch folder, then copies the main pages' screenshots to docs/screenshots/<page>.png.
# Usage: tests/browser/update-screenshots.sh [PATH/TO/talon]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
docs="$here/../../docs/screenshots"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
BROWSER_OUT="$out" bash "$here/run.sh" "$@"
mkdir -p "$docs"
# <name in the test's output>:<file in docs/screenshots>
for pair in agents-final:agents agent-deployed:agent compare:compare lineage:lineage playground:playground \
  usage:usage tasks:tasks task:task webhook:webhook keys:keys marketplace:marketplace; do
  shot=$(ls "$out"/[0-9][0-9]-"${pair%%:*}".png)
  cp "$shot" "$docs/${pair##*:}.png"
  echo "docs/screenshots/${pair##*:}.png ($(( $(stat -c %s "$shot") / 1024 )) KB)"
done
