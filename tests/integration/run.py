#!/usr/bin/python3
"""run.py - runs the integration tests and prints "P passed, F failed[, S skipped]".

Each tests/integration/test_*.py is a unittest module. They start the real
smarthost binary (SMARTHOST_BIN, default build/san/smarthost) and real peers on
loopback. Usage: run.py [--no-skip] [MODULE_OR_PATTERN ...]

", S skipped" is added only when tests were skipped. With --no-skip (what
`make check` passes) a skipped test counts as failed, its reason printed: a
test that did not run proved nothing, so CI must not pass on it.
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def case_id(test):
    """The id of the test a result is about: a failing subTest counts for its test, once."""
    return getattr(test, "test_case", test).id()


class CountingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ran = set()

    def startTest(self, test):
        self._t0 = time.monotonic()
        self.ran.add(test.id())
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        sys.stderr.write("    (%.1fs)\n" % (time.monotonic() - self._t0))


def iterate(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iterate(t)
        else:
            yield t


def main():
    loader = unittest.TestLoader()
    names = sys.argv[1:]
    no_skip = "--no-skip" in names
    names = [n for n in names if n != "--no-skip"]
    # --except MODULE: every test but that module's (run-all.sh runs test_image beside the rest).
    excluded = [names[i + 1] for i, n in enumerate(names) if n == "--except" and i + 1 < len(names)]
    names = [n for i, n in enumerate(names) if n != "--except" and (i == 0 or names[i - 1] != "--except")]
    if names:
        suite = unittest.TestSuite()
        for n in names:
            n = os.path.basename(n)
            if n.endswith(".py"):
                n = n[:-3]
            suite.addTests(loader.loadTestsFromName(n))
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if excluded:
        suite = unittest.TestSuite(t for t in iterate(suite) if t.id().split(".")[0] not in excluded)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=CountingResult, stream=sys.stderr)
    result = runner.run(suite)
    # One count per test, however many of its subTests failed; a class or module fixture that
    # failed (setUpClass, tearDownClass) counts as one failure of its own.
    bad = {case_id(t) for t, _ in result.failures + result.errors}
    bad |= {case_id(t) for t in result.unexpectedSuccesses}
    skipped_ids = {case_id(t) for t, _ in result.skipped} - bad
    failed = len(bad)
    skipped = len(skipped_ids)
    passed = len(result.ran - bad - skipped_ids)
    if no_skip and skipped:
        for test, reason in result.skipped:
            sys.stderr.write("SKIPPED, counted as failed (--no-skip): %s: %s\n" % (test.id(), reason))
        failed += skipped
        skipped = 0
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
