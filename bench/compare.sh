#!/usr/bin/env bash
# Runs benchmark scripts against two builds of talon, one after the other, in one run: a before and an
# after on the same machine under the same conditions. The load tools come from the current checkout.
# Usage: bench/compare.sh BEFORE/talon AFTER/talon [script …]   (default: auth_me registry chat)
set -euo pipefail
before=$(realpath "${1:?usage: bench/compare.sh BEFORE/talon AFTER/talon [script …]}")
after=$(realpath "${2:?usage: bench/compare.sh BEFORE/talon AFTER/talon [script …]}")
shift 2
scripts=("${@:-auth_me registry chat}")
read -r -a scripts <<<"${scripts[*]}"
here="$(cd "$(dirname "$0")" && pwd)"
for script in "${scripts[@]}"; do
  for build in before after; do
    binary=$before
    [ "$build" = after ] && binary=$after
    echo "=== $script, $build ($binary)"
    TALON="$binary" bash "$here/$script.sh"
  done
done
