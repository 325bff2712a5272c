"""test_runners.py - the runners behind `make check` count what they must (issue 13, item 18).

tests/run-unit.sh, tests/integration/run.py and tests/run-all.sh run here against fake suites in
a temp folder: a CppUTest-like binary (a shell script printing a summary and exiting as told),
fake libFuzzer targets and a fake unittest module. Checked: a suite whose exit status is non-zero
while its summary says 0 failed counts one failure (LeakSanitizer reports after CppUTest's
"OK (...)"); skipped tests are counted and shown as ", N skipped"; under run-all a skip is a
failure unless SMARTHOST_ALLOW_SKIP=1; run-all's last line still starts "P passed, F failed".
Fails when a runner prints a wrong count or exits 0 with failures.
"""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SUMMARY = re.compile(r"^([0-9]+) passed, ([0-9]+) failed")

FAKE_MODULE = '''
import os
import unittest

class Fake(unittest.TestCase):
    def test_passes(self):
        pass

    @unittest.skipUnless(os.environ.get("FAKE_RUN_ALL") == "1", "fake reason to skip")
    def test_may_skip(self):
        pass
'''


def write_exe(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class RunnersTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="smarthost-runners-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def fake_unit(self, summary, rc):
        path = os.path.join(self.dir, "san", "unit_tests")
        write_exe(path, "echo '%s'\necho 'ERROR: LeakSanitizer: detected memory leaks' >&2\nexit %d\n"
                  % (summary, rc))
        return path

    def fake_fuzz_targets(self):
        for src in os.listdir(os.path.join(ROOT, "tests", "fuzz")):
            if src.startswith("fuzz_") and src.endswith(".cc"):
                write_exe(os.path.join(self.dir, "fuzz", src[:-3]),
                          "echo 'stat::number_of_executed_units: 1'\nexit 0\n")

    def fake_module(self):
        with open(os.path.join(self.dir, "fake_suite.py"), "w") as f:
            f.write(FAKE_MODULE)

    def run_tool(self, args, env=None):
        full = {k: v for k, v in os.environ.items() if k != "SMARTHOST_ALLOW_SKIP"}
        full.update(PYTHONPATH=self.dir, **(env or {}))
        p = subprocess.run(args, cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)
        last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
        return p.returncode, last, p.stderr

    def test_unit_runner_counts_a_failing_exit_after_ok(self):
        unit = self.fake_unit("OK (3 tests, 3 ran, 9 checks, 0 ignored, 0 filtered out, 1 ms)", 1)
        rc, last, err = self.run_tool(["tests/run-unit.sh", unit])
        self.assertEqual(last, "3 passed, 1 failed", err)
        self.assertNotEqual(rc, 0)

    def test_unit_runner_shows_ignored_tests_as_skipped(self):
        unit = self.fake_unit("OK (5 tests, 3 ran, 9 checks, 2 ignored, 0 filtered out, 1 ms)", 0)
        rc, last, err = self.run_tool(["tests/run-unit.sh", unit])
        self.assertEqual((rc, last), (0, "3 passed, 0 failed, 2 skipped"), err)

    def test_unit_runner_clean_run(self):
        unit = self.fake_unit("OK (3 tests, 3 ran, 9 checks, 0 ignored, 0 filtered out, 1 ms)", 0)
        self.assertEqual(self.run_tool(["tests/run-unit.sh", unit])[:2], (0, "3 passed, 0 failed"))

    def test_integration_runner_skips_are_failures_with_no_skip(self):
        self.fake_module()
        runner = ["/usr/bin/python3", "tests/integration/run.py"]
        rc, last, err = self.run_tool(runner + ["fake_suite"])
        self.assertEqual((rc, last), (0, "1 passed, 0 failed, 1 skipped"), err)
        rc, last, err = self.run_tool(runner + ["--no-skip", "fake_suite"])
        self.assertEqual((rc, last), (1, "1 passed, 1 failed"), err)
        self.assertIn("fake reason to skip", err)

    def run_all(self, env=None):
        self.fake_module()
        self.fake_fuzz_targets()
        return self.run_tool(["tests/run-all.sh", "fake_suite"], dict({"B": self.dir}, **(env or {})))

    def layer_checks(self):
        out = subprocess.run(["python3", "tests/layers/check_layers.py", "."], cwd=ROOT,
                             capture_output=True, text=True).stdout
        return int(SUMMARY.match(out.strip().splitlines()[-1]).group(1))

    def test_run_all_counts_a_sanitizer_exit_after_ok(self):
        self.fake_unit("OK (3 tests, 3 ran, 9 checks, 0 ignored, 0 filtered out, 1 ms)", 1)
        rc, last, err = self.run_all({"FAKE_RUN_ALL": "1"})
        m = SUMMARY.match(last)
        self.assertTrue(m, last)
        fuzz = len(os.listdir(os.path.join(self.dir, "fuzz")))
        self.assertEqual(int(m.group(1)), self.layer_checks() + 3 + 2 + fuzz, err)
        self.assertEqual(int(m.group(2)), 1, err)
        self.assertNotEqual(rc, 0)

    def test_run_all_skip_is_a_failure_unless_allowed(self):
        self.fake_unit("OK (3 tests, 3 ran, 9 checks, 0 ignored, 0 filtered out, 1 ms)", 0)
        rc, last, err = self.run_all()
        self.assertRegex(last, r"^[0-9]+ passed, 1 failed$")
        self.assertNotEqual(rc, 0)
        rc, last, err = self.run_all({"SMARTHOST_ALLOW_SKIP": "1"})
        self.assertRegex(last, r"^[0-9]+ passed, 0 failed, 1 skipped$")
        self.assertEqual(rc, 0, err)
        # CI's parse of the last line still works with the suffix.
        self.assertTrue(SUMMARY.match(last))

    def test_run_all_clean_last_line_is_exactly_passed_failed(self):
        self.fake_unit("OK (3 tests, 3 ran, 9 checks, 0 ignored, 0 filtered out, 1 ms)", 0)
        rc, last, err = self.run_all({"FAKE_RUN_ALL": "1"})
        self.assertRegex(last, r"^[0-9]+ passed, 0 failed$")
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
