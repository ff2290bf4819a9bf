#!/usr/bin/env bash
# Runs every fuzz target of the module for a fixed number of executions
# (default 20000x each, a few seconds per target on two cores).
#
# The budget is a count, not a duration: with a duration, go1.26's fuzzing
# coordinator can report "context deadline exceeded" as a failure when the
# deadline fires while a worker is mid-call (golang/go#75804, fixed in
# go1.27). A count has no deadline to race. A real crasher still fails the
# run and is written to testdata/fuzz/<target>/.
set -euo pipefail
n=${1:-20000x}
case $n in
  *x) ;;
  *) echo "fuzz-smoke: budget must be an execution count such as 20000x, got \"$n\"" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg=./$(dirname "$file")
  echo "fuzz $pkg $name ($n)"
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$n" -fuzzminimizetime=200x "$pkg" || status=1
done < <(git ls-files '*_test.go' | xargs grep -H '^func Fuzz' || true)
exit $status
