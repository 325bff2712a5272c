#!/usr/bin/env bash
# run-unit.sh BINARY - runs the CppUTest binary and prints "P passed, F failed[, S skipped]".
#
# CppUTest's own summary is turned into the plain line CI reads (", S skipped" only when some
# tests were ignored). A binary that crashes (no summary line) counts as one failure instead of
# vanishing, and so does one that exits non-zero after a clean summary: LeakSanitizer and
# other at-exit reports come after CppUTest's "OK (...)".
set -u
bin=$1
out=$(mktemp)
"$bin" -v > "$out" 2>&1
rc=$?
cat "$out" >&2
summary=$(grep -E '^(OK|Errors) \(' "$out" | tail -n 1)
rm -f "$out"
ignored=0
[[ $summary =~ ,\ ([0-9]+)\ ignored ]] && ignored=${BASH_REMATCH[1]}
if [[ $summary =~ ^OK\ \(([0-9]+)\ tests,\ ([0-9]+)\ ran ]]; then
  p=${BASH_REMATCH[2]}; f=0
elif [[ $summary =~ ^Errors\ \(([0-9]+)\ failures?,\ ([0-9]+)\ tests,\ ([0-9]+)\ ran ]]; then
  f=${BASH_REMATCH[1]}; p=$((BASH_REMATCH[3] - f))
else
  echo "unit tests crashed (exit $rc) before their summary" >&2
  p=0; f=1
fi
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  echo "unit tests exited $rc after a clean summary (a sanitizer report at exit?): counted as 1 failure" >&2
  f=1
fi
line="$p passed, $f failed"
[ "$ignored" -gt 0 ] && line="$line, $ignored skipped"
echo "$line"
[ "$rc" -eq 0 ] && [ "$f" -eq 0 ]
