"""test_runners.py - the runners behind `make check` count what they must (issue 13, item 18).

tests/run-unit.sh, tests/integration/run.py and tests/run-all.sh run here against fake suites in
a temp folder: a CppUTest-like binary (a shell script printing a summary and exiting as told),
fake libFuzzer targets and a fake unittest module. Checked: a suite whose exit status is non-zero
while its summary says 0 failed counts one failure (LeakSanitizer reports after CppUTest's
"OK (...)"); skipped tests are counted and shown as ", N skipped"; under run-all a skip is a
failure unless SMARTHOST_ALLOW_SKIP=1; run-all's last line still starts "P passed, F failed".
Fails when a runner prints a wrong count or exits 0 with failures.

tests/check-tools.sh (item 17, run first by `make check`) runs with a fake PATH that lacks one
tool or has a perl or python3 without one module: it must name the missing piece and the Debian
package to install, and exit non-zero.
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


class CheckToolsTest(unittest.TestCase):
    """tests/check-tools.sh with one tool or module taken away."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="smarthost-tools-")
        self.bin = os.path.join(self.dir, "bin")
        os.makedirs(self.bin)
        # Every command of the real machine, from one folder, so one can be left out.
        for d in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
            for name in os.listdir(d) if os.path.isdir(d) else ():
                target, link = os.path.join(d, name), os.path.join(self.bin, name)
                if not os.path.lexists(link) and os.access(target, os.X_OK):
                    os.symlink(target, link)
        self.baseline = self.run_check()[1]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_check(self, env=None):
        full = dict(os.environ, PATH=self.bin, CHECK_TOOLS_SBIN="", **(env or {}))
        p = subprocess.run([os.path.join(ROOT, "tests", "check-tools.sh")], cwd=ROOT, env=full,
                           capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout.splitlines(), p.stderr

    def wrap(self, name, real, refuse):
        """Replaces bin/NAME with a wrapper of REAL that fails when its arguments contain REFUSE."""
        path = os.path.join(self.bin, name)
        os.remove(path) if os.path.lexists(path) else None
        write_exe(path, 'case "$*" in *"%s"*) exit 2;; esac\nexec %s "$@"\n' % (refuse, real))
        return path

    def check_missing(self, want, env=None):
        rc, lines, err = self.run_check(env)
        self.assertEqual(lines, self.baseline + [want], err)
        self.assertNotEqual(rc, 0)

    def test_nothing_missing_here(self):
        self.assertEqual(self.baseline, [], "this machine lacks test tools")

    def test_a_missing_tool_is_named_with_its_package(self):
        os.remove(os.path.join(self.bin, "swaks"))
        self.check_missing("missing: swaks (install swaks)")

    def test_a_missing_sbin_tool_is_named_with_its_package(self):
        os.remove(os.path.join(self.bin, "smtp-sink"))
        self.check_missing("missing: smtp-sink (install postfix)")

    def test_a_missing_perl_module_is_named_with_its_package(self):
        self.wrap("perl", "/usr/bin/perl", "INET6")
        self.check_missing("missing: perl module IO::Socket::INET6 (install libio-socket-inet6-perl)")

    def test_a_missing_python_module_is_named_with_its_package(self):
        py = self.wrap("fake-python3", "/usr/bin/python3", "import dkim")
        self.check_missing("missing: python3 module dkim (install python3-dkim)", {"CHECK_TOOLS_PYTHON": py})


if __name__ == "__main__":
    unittest.main()
