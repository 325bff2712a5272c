#!/usr/bin/env bash
# run-all.sh - every test `make check` runs; ends with "P passed, F failed".
#
# Unit tests (CppUTest, sanitised), integration tests (Python unittest
# modules driving the sanitised binary against real peers) and the fuzz
# targets (tests/fuzz/run-brief.sh, one test each) are summed. A
# suite that dies before its summary counts as one failure, never as zero,
# and so does one that exits non-zero while its summary says 0 failed.
# Called without arguments it runs everything, the image test (tests/integration/test_image.py)
# in the background beside the others, so that its minutes of build and boot overlap them.
#
# Skipped tests: an integration test that skips counts as failed here (run.py
# --no-skip), so CI never passes on tests that did not run. SMARTHOST_ALLOW_SKIP=1
# lets them skip (a developer without root, say); the last line then reads
# "P passed, F failed, S skipped". With nothing skipped it is exactly
# "P passed, F failed", which is what CI matches (^[0-9]+ passed, [0-9]+ failed).
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
total_s=0
add() {  # add "P passed, F failed[, S skipped]" from the last such line of $1; $3 is the exit status
  local line f
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
    total_p=$((total_p + BASH_REMATCH[1]))
    f=${BASH_REMATCH[2]}
    total_s=$((total_s + ${BASH_REMATCH[4]:-0}))
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "run-all: $2 exited $3 although its summary says 0 failed: counted as 1 failure" >&2
      f=1
    fi
    total_f=$((total_f + f))
  else
    echo "run-all: $2 printed no summary (exit $3): counted as 1 failure" >&2
    total_f=$((total_f + 1))
  fi
}

log=$(mktemp -d)
no_skip=--no-skip
[ "${SMARTHOST_ALLOW_SKIP:-0}" = 1 ] && no_skip=
# The image test (build the appliance, boot it twice under qemu: minutes, mostly waiting on
# mmdebstrap and the guest) runs beside the other suites when all of them run; its summary is
# added at the end like any suite's.
image_pid=
if [ $# -eq 0 ]; then
  echo "== image test: started in the background" >&2
  /usr/bin/python3 tests/integration/run.py $no_skip test_image > "$log/image" 2> "$log/image.err" &
  image_pid=$!
  set -- --except test_image
fi

echo "== dependency rule between folders (one test per source file)" >&2
python3 tests/layers/check_layers.py . > "$log/layers"
rc=$?
cat "$log/layers" >&2
add "$log/layers" "dependency rule" $rc

echo "== unit tests" >&2
./tests/run-unit.sh "$B/san/unit_tests" > "$log/unit"
rc=$?
cat "$log/unit" >&2
add "$log/unit" "unit tests" $rc

echo "== integration tests" >&2
/usr/bin/python3 tests/integration/run.py $no_skip "$@" > "$log/integration"
rc=$?
cat "$log/integration" >&2
add "$log/integration" "integration tests" $rc

echo "== fuzz targets (a few seconds each; one test per target)" >&2
FUZZ_SECONDS=${FUZZ_SECONDS:-5} ./tests/fuzz/run-brief.sh "$B/fuzz" > "$log/fuzz"
rc=$?
cat "$log/fuzz" >&2
add "$log/fuzz" "fuzz targets" $rc

if [ -n "$image_pid" ]; then
  wait "$image_pid"
  rc=$?
  echo "== image test (ran in the background)" >&2
  cat "$log/image.err" "$log/image" >&2
  add "$log/image" "image test" $rc
fi

rm -rf "$log"
if [ "$total_s" -gt 0 ]; then
  echo "$total_p passed, $total_f failed, $total_s skipped"
else
  echo "$total_p passed, $total_f failed"
fi
[ "$total_f" -eq 0 ]
