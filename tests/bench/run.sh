#!/usr/bin/env bash
# run.sh - `make bench`: smarthost against a private Postfix instance, side by side.
#
# Everything is in bench.py (see its docstring for the scenarios and the BENCH_* variables).
# Prints name=value lines and rewrites the results block in tests/bench/RESULTS.md.
# B names the build folder (default build): the binary measured is $B/smarthost.
set -eu
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/bench/bench.py "$@"
