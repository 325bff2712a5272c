"""test_reload.py - SIGHUP reloads the config (R-CONFIG): new sessions and deliveries take the new
one, live sessions finish under the one they started with, and a bad new config is logged with its
FILE:LINE: error while the old one stays in force."""
import os
import re
import shutil
import signal
import time
import unittest

from relay_fixture import Relay, SmtpClient, testpki
from smtp_peer import SmtpPeer, down_port

CONFIG = """
hostname = "%(hostname)s";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
address_lists = { known = [ "a.example" ]; };
routes = ( { name = "default"; match = [ %(match)s ]; kind = "host"; host = "127.0.0.1"; port = %(port)d; tls = "%(tls)s"; } );
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; };
limits = { connect_timeout = "2s"; reply_timeout = "5s"; };
"""


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.sink = SmtpPeer("plain")
        self.sink.start()
        self.down = down_port()
        self.relay = Relay(self.config("relay.test.example", '"known"', self.down)).start()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        self.sink.cleanup()
        rc = self.relay.stop()
        log = self.relay.log_text()
        self.relay.cleanup()
        self.assertEqual(rc, 0, "relay exited %s; log:\n%s" % (rc, log))
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)

    @staticmethod
    def config(hostname, match, port, tls="none"):
        return CONFIG % {"hostname": hostname, "match": match, "port": port, "tls": tls}

    def submit(self, rcpt, subject):
        """One message through a fresh inbound session; fails unless it is queued."""
        c = self.client()
        c.reply()
        c.cmd("EHLO client.example")
        self.assertEqual(c.cmd("MAIL FROM:<s@sender.example>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<%s>" % rcpt)[0], 250)
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send("Subject: %s\r\n\r\n%s\r\n.\r\n" % (subject, subject))
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        c.cmd("QUIT")

    def wait_log(self, want, timeout, since=0):
        return self.relay.wait_log(want, timeout, since)

    def deliver_first_to(self, peer, tls):
        """Routes everything to `peer` and delivers one message there: the relay then holds a
        cached plan for the route and a parked connection to the peer."""
        self.reload(self.config("relay.test.example", '"*"', peer.port, tls), r"event=reloaded")
        self.submit("first@a.example", "before the reload")
        peer.wait_messages(1, timeout=20)
        self.wait_log(r"event=delivery .*rcpt=<first@a.example>.* status=sent", 10)

    def client(self):
        c = self.relay.client()
        self.clients.append(c)
        return c

    def reload(self, text, want):
        """Writes the new config, sends SIGHUP, waits for log lines matching `want` (a regex)."""
        return self.relay.reload(text, want)

    def test_new_config_for_new_sessions_and_deliveries_live_session_finishes(self):
        old = self.client()
        self.assertIn("relay.test.example", old.reply()[1])
        old.cmd("EHLO client.example")
        self.assertEqual(old.cmd("MAIL FROM:<s@sender.example>")[0], 250)
        self.assertEqual(old.cmd("RCPT TO:<x@a.example>")[0], 250)
        self.assertEqual(old.cmd("DATA")[0], 354)
        old.send("Subject: started before the reload\r\n\r\nfirst half\r\n")

        self.reload(self.config("relay2.test.example", '"*"', self.sink.port), r"event=reloaded")

        # The live session was not dropped and finishes under its own (old) config.
        old.send("second half\r\n.\r\n")
        code, text = old.reply()
        self.assertEqual(code, 250, text)
        self.assertEqual(old.cmd("MAIL FROM:<s@sender.example>")[0], 250)
        code, text = old.cmd("RCPT TO:<y@b.example>")
        self.assertEqual(code, 550, "old session must keep its routes; got " + text)
        old.cmd("RSET")
        self.assertEqual(old.cmd("QUIT")[0], 221)

        # A new session gets the new host name and routes.
        new = self.client()
        self.assertIn("relay2.test.example", new.reply()[1])
        new.cmd("EHLO client.example")
        new.cmd("MAIL FROM:<s@sender.example>")
        code, text = new.cmd("RCPT TO:<y@b.example>")
        self.assertEqual(code, 250, text)
        new.cmd("QUIT")

        # The message accepted before the reload was deferred (route pointed at a closed port);
        # its retry takes the new route to the sink.
        msgs = self.sink.wait_messages(1, timeout=30)
        self.assertIn(b"first half\r\nsecond half", msgs[0]["data"])
        self.assertEqual(msgs[0]["rcpt_tos"], ["x@a.example"])

    def test_route_change_governs_the_next_message_at_once(self):
        # Issue 13 item 10: the cached plan and the parked connection to A must not carry the
        # next message past a reload that points the route at B (the plan cache lasts 60 s).
        peer_b = SmtpPeer("plain")
        peer_b.start()
        self.addCleanup(peer_b.cleanup)
        self.deliver_first_to(self.sink, "none")
        self.reload(self.config("relay.test.example", '"*"', peer_b.port), r"event=reloaded")
        self.submit("second@a.example", "after the reload")
        msgs = peer_b.wait_messages(1, timeout=10)
        self.assertEqual(msgs[0]["rcpt_tos"], ["second@a.example"])
        self.assertEqual(len(self.sink.messages()), 1, "the old host got mail after the reload")
        # The connection parked under the old route was closed by QUIT, not reused.
        self.sink.wait_events("quit", 1, timeout=10)

    def test_tls_tightened_to_required_governs_the_next_attempt(self):
        # Issue 13 item 10: opportunistic -> required against a peer without STARTTLS; the
        # connection opened in clear under the old policy must not carry the next message.
        self.deliver_first_to(self.sink, "opportunistic")
        since = len(self.relay.log_text())
        self.reload(self.config("relay.test.example", '"*"', self.sink.port, "required"), r"event=reloaded")
        self.submit("second@a.example", "after the reload")
        m = self.wait_log(r"event=delivery [^\n]*rcpt=<second@a.example>[^\n]*", 10, since)
        self.assertNotIn("status=sent", m.group(0))
        self.assertRegex(m.group(0), r"status=(bounced|deferred)")
        self.assertEqual(len(self.sink.messages()), 1, "mail went in clear after TLS became required")

    def test_invalid_config_is_logged_with_file_and_line_and_old_stays(self):
        bad = self.config("relay2.test.example", '"*"', self.sink.port) + "\nlimits_typo = 1;\n"
        line = bad.count("\n", 0, bad.index("limits_typo")) + 1
        log = self.reload(bad, r"event=reload-failed.*errors=")
        want = "%s:%d: limits_typo: unknown key" % (self.relay.config_path, line)
        self.assertIn(want, log)
        self.assertIn("the running configuration stays in force", log)
        self.assertNotIn("event=reloaded", log)
        c = self.client()
        self.assertIn("relay.test.example", c.reply()[1])
        c.cmd("EHLO client.example")
        c.cmd("MAIL FROM:<s@sender.example>")
        self.assertEqual(c.cmd("RCPT TO:<y@b.example>")[0], 550)  # still the old routes
        c.cmd("QUIT")

    def test_syntax_error_and_bad_key_mode_keep_the_old_config(self):
        good = self.config("relay2.test.example", '"*"', self.sink.port)
        log = self.reload(good.replace('hostname = "relay2.test.example";', "hostname = ;"),
                          r"event=reload-failed.*errors=")
        self.assertRegex(log, re.escape(self.relay.config_path) + r":2: syntax error")
        key = os.path.join(self.relay.dir, "open.key")
        shutil.copy(os.path.join(testpki(), "valid.key"), key)
        os.chmod(key, 0o644)
        log = self.reload(good.replace("TESTPKI/valid.key", key), r"event=reload-failed")
        self.assertIn("a private key must not be readable by other users", log)
        c = self.client()
        self.assertIn("relay.test.example", c.reply()[1])
        c.cmd("QUIT")
        # And a good config after the bad ones still applies.
        self.reload(good, r"event=reloaded")
        c = self.client()
        self.assertIn("relay2.test.example", c.reply()[1])
        c.cmd("QUIT")

    def test_listen_change_is_named_as_needing_a_restart(self):
        text = self.config("relay2.test.example", '"known"', self.down).replace(
            "listen = ( { address = \"127.0.0.1\"; port = PORT; } );",
            "listen = ( { address = \"127.0.0.1\"; port = PORT; }, { address = \"127.0.0.2\"; port = PORT; } );")
        log = self.reload(text, r"event=warning.*settings=listen")
        self.assertIn("event=reloaded", log)
        # The rest of the new config took effect (the listen change waits for a restart).
        c = self.client()
        self.assertIn("relay2.test.example", c.reply()[1])
        c.cmd("QUIT")
        with self.assertRaises(OSError):
            SmtpClient(self.relay.port, host="127.0.0.2", timeout=2).reply()

    def test_listen_back_to_what_is_bound_needs_no_restart(self):
        two = self.config("relay.test.example", '"known"', self.down).replace(
            "listen = ( { address = \"127.0.0.1\"; port = PORT; } );",
            "listen = ( { address = \"127.0.0.1\"; port = PORT; }, { address = \"127.0.0.2\"; port = PORT; } );")
        self.reload(two, r"event=warning.*settings=listen")
        before = len(self.relay.log_text())
        self.reload(self.config("relay.test.example", '"known"', self.down), r"event=reloaded")
        time.sleep(0.3)  # a warning would follow the reloaded line at once
        self.assertNotIn("restart", self.relay.log_text()[before:])


if __name__ == "__main__":
    unittest.main()
