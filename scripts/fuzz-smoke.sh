#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time (default 5s each).
set -euo pipefail
t=${1:-5s}
cd "$(dirname "$0")/.."
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg=./$(dirname "$file")
  echo "fuzz $pkg $name ($t)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$t" -fuzzminimizetime=1s "$pkg" || status=1
done < <(git ls-files '*_test.go' | xargs grep -H '^func Fuzz' || true)
exit $status
