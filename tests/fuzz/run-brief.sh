#!/usr/bin/env bash
# run-brief.sh FUZZ_DIR - runs every libFuzzer target in FUZZ_DIR on its seed corpus.
#
# Each target ($FUZZ_DIR/fuzz_NAME, built by `make fuzz` / `make check`) runs for
# FUZZ_SECONDS (default 5) on tests/fuzz/corpus/NAME plus a scratch corpus (with the flags in
# tests/fuzz/NAME.options, if any, and then once more over the corpus without them), and counts as
# one test: passed when libFuzzer exits 0, failed on a crash, a sanitizer report, a leak
# or a timeout (the reproducer lands in the scratch folder, whose path is printed).
# FUZZ_KEEP=DIR keeps new inputs in DIR/corpus/NAME and crashes in DIR/artifacts/ (make fuzz).
# Prints "P passed, F failed" last; a missing binary counts as a failure.
set -u
cd "$(dirname "$0")/../.."
dir=${1:?usage: run-brief.sh FUZZ_DIR}
secs=${FUZZ_SECONDS:-5}
keep=${FUZZ_KEEP:-}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d)
passed=0
failed=0
for src in tests/fuzz/fuzz_*.cc; do
  name=$(basename "$src" .cc)
  bin=$dir/$name
  seeds=tests/fuzz/corpus/$name
  if [ -n "$keep" ]; then
    work=$keep/corpus/$name
    art=$keep/artifacts/$name/
  else
    work=$scratch/corpus/$name
    art=$scratch/artifacts/$name/
  fi
  mkdir -p "$work" "$art" "$seeds"
  if [ ! -x "$bin" ]; then
    echo "FAIL $name: $bin not built" >&2
    failed=$((failed + 1))
    continue
  fi
  # Per-target flags (tests/fuzz/NAME.options); with any, a second pass replays the corpus with
  # the default flags (e.g. leak checks on). -timeout: an input over 10 s is a hang.
  opts=$(grep -v '^#' "tests/fuzz/$name.options" 2>/dev/null | tr '\n' ' ')
  # shellcheck disable=SC2086
  if "$bin" $opts -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$art" "$work" "$seeds" > "$scratch/$name.log" 2>&1 &&
     { [ -z "$opts" ] || "$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art" \
       "$work" "$seeds" >> "$scratch/$name.log" 2>&1; }; then
    execs=$(grep -E '^stat::number_of_executed_units' "$scratch/$name.log" | awk '{print $2}')
    echo "ok   $name (${secs}s, ${execs:-?} runs)" >&2
    passed=$((passed + 1))
  else
    tail -n 40 "$scratch/$name.log" >&2
    echo "FAIL $name: reproducer in $art (run: $bin $art<file>)" >&2
    failed=$((failed + 1))
    scratch_kept=1
  fi
done
[ -z "${scratch_kept:-}" ] && rm -rf "$scratch"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
