"""test_make_run.py - `make run` as a new user meets it: the sample config, the generated key, the relay
started as root and dropping to the config's `user` (nobody), and a SIGHUP reload that succeeds (issue 14
item 13: the key used to be root's 0600, so every reload failed with "Permission denied"); and
`make run CONSOLE=1` (config/make-run-console.sh): the admin console on loopback with a printed password
(issue 17 item 7).

It runs the same steps as the Makefile's `run` target (config/make-run-cert.sh var/tls
config/smarthost.cfg, then `smarthost run -c config/smarthost.cfg`) in a copy of the tree's config
folder; only the port is changed, so that it does not collide with a developer's `make run`.
Needs root (the relay changes user only when started as root) and the system's "nobody" user."""
import base64
import http.client
import os
import pwd
import re
import shutil
import signal
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

from relay_fixture import BIN, ROOT, free_port, wait_port

CERT_SCRIPT = os.path.join(ROOT, "config", "make-run-cert.sh")
CONSOLE_SCRIPT = os.path.join(ROOT, "config", "make-run-console.sh")


def make_run_tree(port):
    """A folder laid out like the source tree for `make run`: config/smarthost.cfg (the sample, on `port`)."""
    top = tempfile.mkdtemp(prefix="smarthost-makerun-")
    os.chmod(top, 0o755)          # like a checkout: the run user can reach var/ (a mkdtemp is 0700)
    os.mkdir(os.path.join(top, "config"))
    with open(os.path.join(ROOT, "config", "smarthost.cfg")) as f:
        text = f.read()
    text, n = re.subn(r"port = 2525;", "port = %d;" % port, text)
    assert n == 1, "the sample config no longer listens on port 2525: update this test"
    with open(os.path.join(top, "config", "smarthost.cfg"), "w") as f:
        f.write(text)
    return top


@unittest.skipUnless(os.geteuid() == 0, "needs root: make run drops to user nobody only when started as root")
class MakeRunTest(unittest.TestCase):
    def setUp(self):
        self.nobody = pwd.getpwnam("nobody")
        self.port = free_port()
        self.top = make_run_tree(self.port)
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.top, ignore_errors=True)

    def make_cert(self):
        r = subprocess.run([CERT_SCRIPT, "var/tls", "config/smarthost.cfg"], cwd=self.top,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def check_files(self):
        tls = os.path.join(self.top, "var", "tls")
        key = os.stat(os.path.join(tls, "relay.key"))
        self.assertEqual(key.st_uid, self.nobody.pw_uid, "got key owner %d, want nobody" % key.st_uid)
        self.assertEqual(stat.S_IMODE(key.st_mode), 0o600, "got key mode %o" % stat.S_IMODE(key.st_mode))
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(tls, "relay.pem")).st_mode), 0o644)
        self.assertEqual(stat.S_IMODE(os.stat(tls).st_mode), 0o755)

    def log(self):
        with open(os.path.join(self.top, "relay.log"), errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, since, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = self.log()[since:]
            if re.search(pattern, new):
                return new
            time.sleep(0.05)
        self.fail("no %r in the log:\n%s" % (pattern, self.log()[since:]))

    def test_generated_key_belongs_to_the_run_user_and_sighup_reloads(self):
        self.make_cert()
        self.check_files()
        with open(os.path.join(self.top, "relay.log"), "ab") as log:
            self.proc = subprocess.Popen([BIN, "run", "-c", "config/smarthost.cfg"], cwd=self.top,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.assertTrue(wait_port(self.port, proc=self.proc), self.log())
        self.wait_log(r"event=started", 0)       # SIGHUP is ignored until start-up is over
        for _ in range(2):                       # a second reload works as well as the first
            before = len(self.log())
            self.proc.send_signal(signal.SIGHUP)
            new = self.wait_log(r"event=(reloaded|reload-failed)", before)
            self.assertIn("event=reloaded", new)
            self.assertNotIn("reload-failed", new)
            self.assertNotIn("Permission denied", new)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=40), 0, self.log())
        self.assertNotIn("AddressSanitizer", self.log())
        self.assertNotIn("runtime error", self.log())

    def test_key_left_by_an_older_make_run_is_handed_over(self):
        self.make_cert()
        key = os.path.join(self.top, "var", "tls", "relay.key")
        os.chown(key, 0, 0)                       # what the old script left behind
        self.make_cert()
        self.check_files()

    def test_check_config_has_no_reload_warning(self):
        self.make_cert()
        r = subprocess.run([BIN, "check-config", "-c", "config/smarthost.cfg"], cwd=self.top,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("SIGHUP", r.stderr)

    def test_console_on_loopback_with_the_printed_password(self):
        self.make_cert()
        admin = free_port()
        run = lambda: subprocess.run([CONSOLE_SCRIPT, BIN, "config/smarthost.cfg", "var/smarthost-console.cfg",
                                      str(admin)], cwd=self.top, capture_output=True, text=True, timeout=60)
        r = run()
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"admin console: https://127\.0\.0\.1:%d/ user admin password (\S+) " % admin, r.stderr)
        self.assertTrue(m, r.stderr)
        password = m.group(1)
        pwfile = os.path.join(self.top, "var", "console-password")
        self.assertEqual(stat.S_IMODE(os.stat(pwfile).st_mode), 0o600)
        self.assertIn(password, run().stderr, "the password is made once and kept")
        with open(os.path.join(self.top, "relay.log"), "ab") as log:
            self.proc = subprocess.Popen([BIN, "run", "-c", "var/smarthost-console.cfg"], cwd=self.top,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.assertTrue(wait_port(admin, proc=self.proc), self.log())
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # make run's certificate is self-signed

        def get(path, pw):
            c = http.client.HTTPSConnection("127.0.0.1", admin, context=ctx, timeout=30)
            auth = base64.b64encode(("admin:" + pw).encode()).decode() if pw else None
            c.request("GET", path, headers={"Authorization": "Basic " + auth} if auth else {})
            r = c.getresponse()
            body = r.read().decode()
            c.close()
            return r.status, body
        self.assertEqual(get("/", None)[0], 401)
        status, page = get("/", password)
        self.assertEqual(status, 200)
        self.assertIn("Remote certificate expiry", page)
        self.assertEqual(get("/", password + "x")[0], 401)
        status, text = get("/metrics", None)  # metrics_allow 127.0.0.1
        self.assertEqual(status, 200)
        self.assertIn("smarthost_messages_accepted_total 0", text)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=40), 0, self.log())


if __name__ == "__main__":
    unittest.main()
