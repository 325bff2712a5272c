"""test_check_config.py - check-config is the gate: it makes every start-up check `run` makes,
each error as FILE:LINE, and `run` refuses the same config (issue 13 item 13); configs that
undermine the promise get warnings, printed by check-config (exit 0) and logged by `run` at
start-up and on reload (item 14).

Each refused case writes a config with one fault on a known line, then asserts that check-config
exits 1 naming that FILE:LINE and the setting, and that `run` exits 1 with the same line.
check-config must create nothing (the queue folder of a good config stays absent).
"""
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from relay_fixture import BASE_CONFIG, BIN, Relay, testpki


def line_of(text, needle):
    """1-based line of the first occurrence of needle in text."""
    return text[:text.index(needle)].count("\n") + 1


def run_refused(relay, timeout=30):
    r = subprocess.run([BIN, "run", "-c", relay.config_path], capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def check_config(relay):
    r = subprocess.run([BIN, "check-config", "-c", relay.config_path], capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def own_warnings(err):
    """The stderr lines of check-config but the fixture's own `user = "root"` warning (as root)."""
    return [l for l in err.splitlines() if ": warning: user: " not in l]


class Refused(unittest.TestCase):
    """One fault per config: check-config exits 1 with FILE:LINE: path, and run refuses it too."""

    def setUp(self):
        self.relay = Relay(BASE_CONFIG)
        self.addCleanup(self.relay.cleanup)

    def assert_refused(self, text, needle, path, words):
        self.relay.write_config(text)
        where = "%s:%d: %s: " % (self.relay.config_path, line_of(text, needle), path)
        rc, out, err = check_config(self.relay)
        self.assertEqual(rc, 1, out + err)
        self.assertIn(where, err)
        self.assertIn(words, err[err.index(where):].splitlines()[0])
        self.assertNotIn("configuration OK", out)
        rc, out = run_refused(self.relay)
        self.assertEqual(rc, 1, out)
        self.assertIn(where, out)
        self.assertNotIn("AddressSanitizer", out)
        self.assertFalse(os.path.exists(self.relay.queue_dir), "a refused config created its queue")

    def test_key_that_does_not_belong_to_the_certificate(self):
        text = BASE_CONFIG.replace("TESTPKI/valid.key", "TESTPKI/expired.key")
        self.assert_refused(text, "key = ", "tls.key", "does not belong to certificate")

    def test_certificate_that_is_not_pem(self):
        junk = os.path.join(self.relay.dir, "junk.pem")
        with open(junk, "w") as f:
            f.write("this is not a certificate\n")
        text = BASE_CONFIG.replace("TESTPKI/valid.pem", junk)
        self.assert_refused(text, "cert = ", "tls.cert", "not a PEM certificate")

    def test_missing_ca_file(self):
        text = BASE_CONFIG.replace("TESTPKI/ca-bundle.pem", "/nonexistent/smarthost/ca.pem")
        self.assert_refused(text, "ca_file = ", "tls.ca_file", "/nonexistent/smarthost/ca.pem")

    def test_unknown_user(self):
        text = BASE_CONFIG + 'user = "no-such-user-smarthost";\n'
        self.assert_refused(text, "user = ", "user", "user 'no-such-user-smarthost' does not exist")

    def test_key_readable_by_others(self):
        key = os.path.join(self.relay.dir, "open.key")
        shutil.copy(os.path.join(testpki(), "valid.key"), key)
        os.chmod(key, 0o644)
        text = BASE_CONFIG.replace("TESTPKI/valid.key", key)
        self.assert_refused(text, "key = ", "tls.key", "has mode 0644")

    def test_uncreatable_queue_path(self):
        text = BASE_CONFIG.replace('path = "QUEUE_DIR"', 'path = "%s/no/such/queue"' % self.relay.dir)
        self.assert_refused(text, "queue = ", "queue.path", "cannot create the queue folder")

    def test_queue_path_under_a_file(self):
        text = BASE_CONFIG.replace('path = "QUEUE_DIR"', 'path = "%s/smarthost.cfg/queue"' % self.relay.dir)
        self.assert_refused(text, "queue = ", "queue.path", "Not a directory")

    def test_unwritable_log_path(self):
        text = BASE_CONFIG + 'log = {\n  file = "%s/no/such/relay.log";\n};\n' % self.relay.dir
        self.assert_refused(text, "  file = ", "log.file", "cannot create the log file")

    def test_log_path_that_is_a_folder(self):
        text = BASE_CONFIG + 'log = {\n  file = "%s";\n};\n' % self.relay.dir
        self.assert_refused(text, "  file = ", "log.file", "is a folder")

    def test_log_to_syslog_is_no_file(self):
        """log.file = "syslog" names syslog(3), not a file in the working folder (which here
        holds a folder of that name)."""
        os.mkdir(os.path.join(self.relay.dir, "syslog"))
        self.relay.write_config(BASE_CONFIG + 'log = { file = "syslog"; };\n')
        r = subprocess.run([BIN, "check-config", "-c", self.relay.config_path], capture_output=True,
                           text=True, timeout=60, cwd=self.relay.dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("configuration OK", r.stdout)

    def test_address_list_entry_that_is_no_valid_idn(self):
        # Shaped like a domain (the loader takes it), but not valid Punycode: it could never match.
        text = BASE_CONFIG + 'address_lists = { intl = [ "b\u00fccher.example", "xn--zz.example" ]; };\n'
        self.assert_refused(text, "address_lists = ", "address_lists.intl[1]", "punycode")

    def test_every_problem_is_reported_at_once(self):
        text = (BASE_CONFIG.replace("TESTPKI/valid.key", "TESTPKI/expired.key")
                .replace('path = "QUEUE_DIR"', 'path = "%s/no/such/queue"' % self.relay.dir)
                + 'user = "no-such-user-smarthost";\n')
        self.relay.write_config(text)
        rc, out, err = check_config(self.relay)
        self.assertEqual(rc, 1, out + err)
        for path in ("tls.key", "queue.path", "user"):
            self.assertRegex(err, re.escape(self.relay.config_path) + r":\d+: " + re.escape(path) + ": ")

    def test_queue_map_larger_than_its_file_system_is_a_warning(self):
        """queue.map_size_mb beyond the free space of the queue's file system: a limit the disk
        hits first (R-UPDATE: the appliance's data partition). 16 TiB fits no test machine's
        disk; 1 MiB fits every one."""
        for mb, warned in ((1 << 24, True), (1, False)):
            self.relay.write_config(BASE_CONFIG.replace('path = "QUEUE_DIR";',
                                                        'path = "QUEUE_DIR"; map_size_mb = %d;' % mb))
            rc, out, err = check_config(self.relay)
            self.assertEqual(rc, 0, out + err)
            want = re.escape(self.relay.config_path) + r":\d+: warning: queue.map_size_mb: %d MiB cannot fit: " % mb
            if warned:
                self.assertRegex(err, want + r".* has room for \d+ MiB of queue")
            else:
                self.assertEqual(own_warnings(err), [], "map_size_mb = %d" % mb)

    def test_good_config_passes_and_creates_nothing(self):
        rc, out, err = check_config(self.relay)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("configuration OK", out)
        self.assertEqual(own_warnings(err), [])
        self.assertFalse(os.path.exists(self.relay.queue_dir), "check-config created the queue folder")


WARN_CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8",
          "10.0.0.0/8",
          "0.0.0.0/0",
          "::/0",
          "11.0.0.0/8" ];
address_lists = { partners = [ "partner.example" ]; };
routes = (
  { name = "strict"; match = [ "partners" ]; kind = "host"; host = "127.0.0.1"; port = 9; tls = "required"; },
  { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; },
  { name = "late"; match = [ "partners" ]; kind = "host"; host = "127.0.0.1"; port = 9; }
);
queue = { path = "QUEUE_DIR"; };
"""


class Warnings(unittest.TestCase):
    def setUp(self):
        self.relay = None

    def tearDown(self):
        if self.relay:
            rc = self.relay.stop()
            log = self.relay.log_text()
            self.relay.cleanup()
            if rc is not None:
                self.assertEqual(rc, 0, log)
            self.assertNotIn("AddressSanitizer", log)

    def want(self, text):
        """The warning lines WARN_CONFIG must give: (FILE:LINE: warning: path, words)."""
        p = self.relay.config_path
        w = lambda needle, path: "%s:%d: warning: %s: " % (p, line_of(text, needle), path)
        return [
            (w('"0.0.0.0/0"', "allow[2]"), "'0.0.0.0/0' lets a large part of the Internet relay"),
            (w('"::/0"', "allow[3]"), "'::/0' lets a large part of the Internet relay"),
            (w('"11.0.0.0/8"', "allow[4]"), "'11.0.0.0/8' lets a large part of the Internet relay"),
            (w('name = "strict"', "routes[0]"), "route 'strict' requires TLS but accepts any certificate (verify_ca = false)"),
            (w('name = "late"', "routes[2]"), "route 'late' is never used: route 'default'"),
        ]

    def assert_warned(self, text, out):
        for where, words in self.want(text):
            self.assertIn(where + words, out)
        self.assertNotIn("10.0.0.0/8", out)     # private: not a warning
        self.assertNotIn("127.0.0.0/8", out)

    def test_check_config_prints_warnings_and_exits_0(self):
        self.relay = Relay(WARN_CONFIG)
        rc, out, err = check_config(self.relay)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("configuration OK", out)
        self.assert_warned(WARN_CONFIG, err)
        self.assertEqual(len(own_warnings(err)), 5, err)

    def test_public_listen_without_starttls(self):
        text = (WARN_CONFIG.replace('address = "127.0.0.1"', 'address = "0.0.0.0"')
                .replace('tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ',
                         'tls = { '))
        text = text.replace('listen = ( {', 'listen = (\n  { address = "::1"; port = PORT; },\n  {')
        self.relay = Relay(text)
        rc, out, err = check_config(self.relay)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("%s:%d: warning: listen[1]: listening on public address 0.0.0.0 without STARTTLS"
                      % (self.relay.config_path, line_of(text, '"0.0.0.0"')), err)
        self.assertNotIn("listen[0]", err)      # ::1 is loopback

    def test_run_logs_the_warnings_at_start_and_reload(self):
        self.relay = Relay(WARN_CONFIG).start()
        self.assert_warned(WARN_CONFIG, self.relay.log_text())
        self.assertIn("event=warning", self.relay.log_text())
        # A reload logs the new config's warnings; fix one and it is no longer said.
        text = WARN_CONFIG.replace('tls = "required"; }', 'tls = "required"; verify_ca = true; }')
        self.relay.write_config(text)
        before = len(self.relay.log_text())
        self.relay.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "event=reloaded" not in self.relay.log_text()[before:] and time.monotonic() < deadline:
            time.sleep(0.1)
        log = self.relay.log_text()[before:]
        self.assertIn("event=reloaded", log)
        self.assertIn("route 'late' is never used", log)
        self.assertIn("'::/0' lets a large part of the Internet relay", log)
        self.assertNotIn("requires TLS but accepts any certificate", log)


if __name__ == "__main__":
    unittest.main()
