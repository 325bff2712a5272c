#!/usr/bin/env bash
# run-unit.sh BINARY - runs the CppUTest binary and prints "P passed, F failed".
#
# CppUTest's own summary is turned into the plain line CI reads. A binary that
# crashes (no summary line) counts as one failure instead of vanishing.
set -u
bin=$1
out=$(mktemp)
"$bin" -v > "$out" 2>&1
rc=$?
cat "$out" >&2
summary=$(grep -E '^(OK|Errors) \(' "$out" | tail -n 1)
rm -f "$out"
if [[ $summary =~ ^OK\ \(([0-9]+)\ tests,\ ([0-9]+)\ ran ]]; then
  echo "${BASH_REMATCH[2]} passed, 0 failed"
elif [[ $summary =~ ^Errors\ \(([0-9]+)\ failures?,\ ([0-9]+)\ tests,\ ([0-9]+)\ ran ]]; then
  f=${BASH_REMATCH[1]}; r=${BASH_REMATCH[3]}
  echo "$((r - f)) passed, $f failed"
else
  echo "unit tests crashed (exit $rc) before their summary" >&2
  echo "0 passed, 1 failed"
fi
[ $rc -eq 0 ]
