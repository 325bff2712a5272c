"""test_bench_smoke.py - keeps `make bench` working: a tiny run of tests/bench/run.sh.

The benchmark is not a test and never judges performance here. This runs it with a few
messages (both MTAs, both delivery scenarios and a few idle TLS connections; then dkim; then the
scale scenarios of issue 20) against the release binary and checks only that it finished,
delivered everything and printed its name=value lines. The results go to a
temp file, never to tests/bench/RESULTS.md.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(ROOT, "tests", "bench", "run.sh")
BIN = os.environ.get("SMARTHOST_REL_BIN") or os.path.join(ROOT, "build", "smarthost")

EXPECTED = ["%s_%s_%s" % (sc, mta, m)
            for sc in ("plain", "tls")
            for mta in ("postfix", "smarthost")
            for m in ("accept_msgs_per_s", "e2e_msgs_per_s", "accept_p50_ms", "accept_p99_ms", "cpu_s",
                      "cpu_ms_per_msg", "peak_rss_kb")]
EXPECTED += ["%s_ratio_%s" % (sc, m) for sc in ("plain", "tls") for m in ("e2e", "accept", "cpu_per_msg")]
EXPECTED += ["idle_tls_connections", "idle_tls_rss_per_conn_kb", "machine_nproc", "machine_cpu", "date"]


class BenchSmoke(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("the bench runs a private Postfix instance: needs root")
        for tool in ("/usr/sbin/postfix", "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"):
            if not os.access(tool, os.X_OK):
                self.skipTest("Postfix is not installed (./deps.sh test installs it)")
        if not os.access(BIN, os.X_OK):
            self.skipTest("no release binary at %s" % BIN)
        self.dir = tempfile.mkdtemp(prefix="bench-smoke-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_tiny_bench_run_prints_every_result(self):
        results = os.path.join(self.dir, "RESULTS.md")
        env = dict(os.environ, BENCH_SMARTHOST=BIN, BENCH_MESSAGES="50", BENCH_SESSIONS="5",
                   BENCH_IDLE_CONNS="20", BENCH_MAX_SECONDS="50", BENCH_RESULTS=results)
        env.pop("BENCH_PERF_DIR", None)
        r = subprocess.run([RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        values = dict(re.findall(r"^([a-z0-9_]+)=(.*)$", r.stdout, re.M))
        missing = [k for k in EXPECTED if k not in values]
        self.assertEqual(missing, [], r.stdout + r.stderr[-2000:])
        self.assertEqual(values.get("bench_complete"), "1", r.stderr[-3000:])
        with open(results) as f:
            text = f.read()
        self.assertIn("<!-- bench:begin", text)
        self.assertIn("<!-- bench:end -->", text)

    def test_tiny_dkim_scenario(self):
        # smarthost verifying python3-dkim signatures on every message (SPEC R-TENANT): each one
        # must pass, or the run would not complete.
        env = dict(os.environ, BENCH_SMARTHOST=BIN, BENCH_MESSAGES="30", BENCH_SESSIONS="3", BENCH_SCENARIOS="dkim",
                   BENCH_MTAS="smarthost", BENCH_MAX_SECONDS="50", BENCH_RESULTS="")
        env.pop("BENCH_PERF_DIR", None)
        r = subprocess.run([RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        values = dict(re.findall(r"^([a-z0-9_]+)=(.*)$", r.stdout, re.M))
        self.assertIn("dkim_smarthost_e2e_msgs_per_s", values, r.stdout + r.stderr[-2000:])
        self.assertEqual(values.get("dkim_smarthost_complete"), "1", r.stdout + r.stderr[-3000:])

    def test_tiny_scale_scenarios(self):
        # issue 20's scenarios, both MTAs: Postfix resolving MX domains through its private
        # resolv.conf, a backlog queued while the hop is down and drained after a flush, STARTTLS on
        # both legs, idle TLS connections, and the no-MTA limit. Each must deliver everything.
        env = dict(os.environ, BENCH_SMARTHOST=BIN, BENCH_MESSAGES="30", BENCH_SESSIONS="3",
                   BENCH_SCENARIOS="limit,domains,backlog,tls_both,idle_tls", BENCH_DOMAINS="12",
                   BENCH_DOMAIN_ADDRS="3", BENCH_BACKLOG="60", BENCH_BACKLOG_IDLE_SECONDS="1",
                   BENCH_BACKLOG_SETTLE="10", BENCH_IDLE_TLS_CONNS="10", BENCH_MAX_SECONDS="150",
                   BENCH_RESULTS=os.path.join(self.dir, "RESULTS.md"))
        env.pop("BENCH_PERF_DIR", None)
        r = subprocess.run([RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=200)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        values = dict(re.findall(r"^([a-z0-9_]+)=(.*)$", r.stdout, re.M))
        done = ["limit_complete", "limit_loadgen_complete", "limit_loadgen_tls_complete", "bench_complete"]
        done += ["%s_%s_complete" % (sc, mta) for sc in ("domains", "backlog", "tls_both")
                 for mta in ("postfix", "smarthost")]
        self.assertEqual({k: values.get(k) for k in done}, {k: "1" for k in done}, r.stderr[-3000:])
        for k in ("domains_ratio_e2e", "tls_both_ratio_e2e", "backlog_ratio_drain", "domains_smarthost_of_limit",
                  "backlog_smarthost_order_mean_displacement", "backlog_postfix_flush_command_seconds",
                  "backlog_smarthost_idle_cpu_pct_of_core", "domains_smarthost_cpu_ms_per_msg"):
            self.assertIn(k, values, r.stdout)
        self.assertEqual(values.get("idle_tls_connections"), "10", r.stdout)
        with open(os.path.join(self.dir, "RESULTS.md")) as f:
            text = f.read()
        for head in ("### domains", "### tls_both", "### backlog", "### limit"):
            self.assertIn(head, text)


if __name__ == "__main__":
    unittest.main()
