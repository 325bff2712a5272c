#!/usr/bin/env bash
# run-all.sh - every test `make check` runs; ends with "P passed, F failed".
#
# Unit tests (CppUTest, sanitised), integration tests (Python unittest
# modules driving the sanitised binary against real peers) and the fuzz
# targets (tests/fuzz/run-brief.sh, one test each) are summed. A
# suite that dies before its summary counts as one failure, never as zero.
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
export SMARTHOST_BIN=${SMARTHOST_BIN:-$PWD/$B/san/smarthost}
export SMARTHOST_REL_BIN=${SMARTHOST_REL_BIN:-$PWD/$B/smarthost}
# Leaks in the short-lived CLI runs are real bugs too; abort on UB reports.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

total_p=0
total_f=0
add() {  # add "P passed, F failed" from the last line of $1
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    total_p=$((total_p + BASH_REMATCH[1]))
    total_f=$((total_f + BASH_REMATCH[2]))
  else
    echo "run-all: $2 printed no summary: counted as 1 failure" >&2
    total_f=$((total_f + 1))
  fi
}

log=$(mktemp -d)
echo "== dependency rule between folders (one test per source file)" >&2
python3 tests/layers/check_layers.py . > "$log/layers"
cat "$log/layers" >&2
add "$log/layers" "dependency rule"

echo "== unit tests" >&2
./tests/run-unit.sh "$B/san/unit_tests" > "$log/unit" 
cat "$log/unit" >&2
add "$log/unit" "unit tests"

echo "== integration tests" >&2
/usr/bin/python3 tests/integration/run.py "$@" > "$log/integration"
cat "$log/integration" >&2
add "$log/integration" "integration tests"

echo "== fuzz targets (a few seconds each; one test per target)" >&2
FUZZ_SECONDS=${FUZZ_SECONDS:-5} ./tests/fuzz/run-brief.sh "$B/fuzz" > "$log/fuzz"
cat "$log/fuzz" >&2
add "$log/fuzz" "fuzz targets"

rm -rf "$log"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
