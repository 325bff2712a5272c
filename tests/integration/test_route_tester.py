"""test_route_tester.py - `smarthost test-route` against the delivery tests' real peers.

For each case (valid, expired, wrong host, unknown CA, no STARTTLS, old TLS only, unreachable, first
MX down, opportunistic plaintext) the tester runs first, text and --json, on the same config a relay
then delivers with: the verdict, exit code and JSON fields are checked, the tester must not have sent
any mail, and its verdict must equal what the delivery did (sent to the peer / bounced with the same
DSN status / deferred with the same error). Also `check-config --test-routes` and the command's
usage errors.
"""
import json
import os
import pty
import re
import shlex
import socket
import ssl
import subprocess
import threading
import time

import test_delivery as td
from relay_fixture import BIN, Relay, testpki
from smtp_peer import down_port

REQUIRED = td.REQUIRED
ANSI = "\x1b["


class Tls13OnlyPeer:
    """A STARTTLS server that accepts only TLS 1.3 and, like Postfix, answers an older ClientHello
    with a protocol_version alert. (SmtpPeer("tls13") runs on asyncio, whose TLS layer drops the
    connection without sending the alert.) It never takes mail: messages() and events() stay empty."""

    def __init__(self):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.load_cert_chain(os.path.join(testpki(), "valid.pem"), os.path.join(testpki(), "valid.key"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handshakes = []                      # ("ok", version) or ("failed", error text)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                try:
                    self._session(conn)
                except (OSError, ssl.SSLError) as e:
                    self.handshakes.append(("failed", str(e)))

    def _session(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 tls13.test.example ESMTP\r\n")
        while True:
            line = f.readline().strip().upper()
            if not line or line == b"QUIT":
                return
            if line.startswith(b"EHLO"):
                conn.sendall(b"250-tls13.test.example\r\n250 STARTTLS\r\n")
            elif line == b"STARTTLS":
                conn.sendall(b"220 go ahead\r\n")
                tls = self.ctx.wrap_socket(conn, server_side=True)   # blocking: the alert is sent
                self.handshakes.append(("ok", tls.version()))
                return
            else:
                conn.sendall(b"502 5.5.2 not here\r\n")

    def events(self, kind=None):
        return []

    def messages(self):
        return []

    def stop(self):
        self.sock.close()


class RouteTesterTest(td.DeliveryBase):
    def tearDown(self):
        if self.relay and self.relay.proc is None:   # only its CLI ran: nothing to stop or check
            self.relay.cleanup()
            self.relay = None
        super().tearDown()

    # -- helpers ---------------------------------------------------------------------------

    def make_relay(self, port, tls=REQUIRED, kind="host", host="mail.test.example"):
        host_line = 'host = "%s";' % host if kind == "host" else ""
        cfg = td.CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "kind": kind, "host": host_line,
                           "port": port, "tls": tls, "lifetime": "5d"}
        self.relay = Relay(cfg)
        return self.relay

    def run_tester(self, *extra, route="dest"):
        """Runs test-route as JSON and as text; both must agree. Returns (doc, text, exit code)."""
        rj = self.relay.cli("test-route", route, "--json", *extra, check=False)
        self.assertIn(rj.returncode, (0, 1), rj.stderr)
        doc = json.loads(rj.stdout)
        rt = self.relay.cli("test-route", route, *extra, check=False)
        self.assertEqual(rt.returncode, rj.returncode, rt.stdout + rt.stderr)
        self.assertEqual(doc["exit_code"], rj.returncode)
        self.assertIn("verdict: " + doc["verdict"]["text"], rt.stdout)
        self.assertNotIn(ANSI, rt.stdout)          # not a terminal: no colour
        self.assertEqual(rt.stderr, "")            # the probe's log lines stay out of the way
        self.assertIn(doc["mta_sts"]["result"], ("none", "not_applicable"))  # no policy published here
        return doc, rt.stdout, rj.returncode

    def delivered(self, dest, to="bob@dest.test.example", timeout=25):
        """Sends one message through the relay; returns ("deliver", message) / ("bounce", DSN
        fields) / ("defer", queue recipient), whichever happens first."""
        self.relay.start()
        self.send(to=to)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = dest.messages() if dest else []
            if msgs:
                return "deliver", msgs[0]
            if self.sink.messages():
                return "bounce", self.dsn()[1]
            queue = self.relay.queue_list()
            if queue and queue[0]["recipients"][0]["state"] == "deferred":
                return "defer", queue[0]["recipients"][0]
            time.sleep(0.1)
        self.fail("no outcome in %ds:\n%s" % (timeout, self.relay.log_text()))

    def check_tester_sent_nothing(self, dest):
        self.assertEqual(dest.events("mail"), [])
        self.assertEqual(dest.messages(), [])

    def check_bounce(self, dest, status, check, reason_words, tls=REQUIRED, advice_words=(), host="mail.test.example"):
        """A required-TLS failure: the tester says bounce, and so does a real delivery."""
        self.make_relay(dest.port, tls=tls, host=host)
        doc, text, rc = self.run_tester()
        self.assertEqual(rc, 1)
        v = doc["verdict"]
        self.assertEqual(v["result"], "bounce", text)
        self.assertFalse(v["would_deliver"])
        self.assertEqual(v["status"], status)
        self.assertIn(reason_words, v["reason"])
        self.assertTrue(v["text"].startswith("deliveries on this route would bounce: "), v["text"])
        self.assertIsNone(v["host"])
        self.assertTrue(any("third-party mail relay service" in r for r in v["remedies"]), v["remedies"])
        for w in advice_words:
            self.assertTrue(any(w in r for r in v["remedies"]), (w, v["remedies"]))
        self.assertIn("what you can do:", text)
        h = doc["hosts"][0]
        self.assertTrue(h["connected"])
        self.assertFalse(h["would_deliver"])
        self.assertEqual(h["status"], status)
        if check:
            self.assertEqual(h["checks"][check]["result"], "fail", h["checks"])
            self.assertTrue(h["checks"][check]["enforced"])
        self.check_tester_sent_nothing(dest)
        outcome, fields = self.delivered(dest)
        self.assertEqual(outcome, "bounce")
        self.assertEqual(fields["status"], v["status"])
        self.assertEqual(dest.messages(), [])
        return doc, text

    # -- the cases of issue 5 ----------------------------------------------------------------

    def test_valid_certificate_would_deliver_over_tls13_and_does(self):
        dest = self.peer("tls", cert="valid")
        self.make_relay(dest.port)
        doc, text, rc = self.run_tester()
        self.assertEqual(rc, 0, text)
        v = doc["verdict"]
        self.assertEqual(v["result"], "deliver")
        self.assertEqual(v["tls_version"], "TLS1_3")
        where = "mail.test.example[127.0.0.1]:%d" % dest.port
        self.assertEqual(v["host"], where)
        self.assertEqual(v["text"], "deliveries on this route would succeed over TLS1_3 (host %s)" % where)
        self.assertEqual(v["remedies"], [])
        self.assertEqual((doc["route"], doc["kind"], doc["host"], doc["domain"]), ("dest", "host", "mail.test.example", None))
        self.assertEqual(doc["policy"]["tls"], "required")
        self.assertEqual(len(doc["hosts"]), 1)
        h = doc["hosts"][0]
        self.assertEqual((h["host"], h["address"], h["port"]), ("mail.test.example", "127.0.0.1", dest.port))
        self.assertTrue(h["connected"])
        self.assertGreaterEqual(h["connect_ms"], 0)
        self.assertTrue(h["banner"].startswith("220 "), h["banner"])
        self.assertIn("STARTTLS", h["ehlo"])
        self.assertTrue(h["starttls_offered"] and h["tls_attempted"] and h["handshake_ok"])
        self.assertEqual(h["tls"]["version"], "TLS1_3")
        self.assertTrue(h["tls"]["cipher"].startswith("TLS_AES_"), h["tls"]["cipher"])
        self.assertEqual(h["tls"]["verdict"], "Verified")
        leaf = h["tls"]["chain"][0]
        self.assertIn("CN=mx1.test.example", leaf["subject"])
        self.assertIn("DNS:mail.test.example", leaf["san"])
        self.assertIn("issuing CA", leaf["issuer"])
        self.assertTrue(leaf["not_before"] and leaf["not_after"])
        for name in ("ca", "hostname", "min_version", "cipher"):
            self.assertEqual(h["checks"][name]["result"], "pass", (name, h["checks"]))
            self.assertTrue(h["checks"][name]["enforced"])
        self.assertTrue(h["would_deliver"])
        # The text report: one aligned block for the host.
        for label in ("connect", "banner", "ehlo", "starttls", "handshake", "tls version", "cipher",
                      "certificate", "ca", "host name", "min version", "cipher check", "verdict"):
            self.assertRegex(text, r"\n  %s +\S" % label)
        self.assertIn("host 1: " + where, text)
        self.assertIn("ok (Verified)", text)
        self.check_tester_sent_nothing(dest)
        self.assertEqual(len(dest.tls_sessions()), 2)   # JSON run and text run; a QUIT each
        outcome, msg = self.delivered(dest)
        self.assertEqual(outcome, "deliver")
        self.assertEqual(msg["tls_version"], "TLSv1.3")
        self.wait_queue_empty()
        self.assertIn("relay=%s status=sent dsn=2.0.0 tls=TLS1_3" % where, self.relay.log_text())

    def test_expired_certificate_would_bounce_and_does(self):
        self.check_bounce(self.peer("tls", cert="expired"), "5.7.5", "ca", "certificate expired",
                          advice_words=("renew", "verify_ca = false"))

    def test_wrong_host_certificate_would_bounce_and_does(self):
        doc, text = self.check_bounce(self.peer("tls", cert="wronghost"), "5.7.5", "hostname",
                                      "host name mismatch", advice_words=("host name that is in", "verify_hostname = false"))
        self.assertEqual(doc["hosts"][0]["checks"]["ca"]["result"], "pass")
        self.assertIn("DNS:other.example", doc["hosts"][0]["tls"]["chain"][0]["san"])

    def test_unknown_ca_would_bounce_and_does(self):
        doc, _ = self.check_bounce(self.peer("tls", cert="untrusted"), "5.7.5", "ca", "trusted CA",
                                   advice_words=("trusted certificate authority", "The cost:"))
        self.assertEqual(doc["hosts"][0]["tls"]["verdict"], "Untrusted")

    def test_no_starttls_would_bounce_and_does(self):
        doc, text = self.check_bounce(self.peer("plain"), "5.7.4", None, "TLS unavailable",
                                      advice_words=('tls = "opportunistic"',))
        h = doc["hosts"][0]
        self.assertFalse(h["starttls_offered"])
        self.assertFalse(h["tls_attempted"])
        self.assertIsNone(h["tls"])
        self.assertIn("not offered", text)

    def test_tls11_only_server_with_min_12_would_bounce_and_does(self):
        doc, _ = self.check_bounce(self.peer("tls11"), "5.7.5", None, "handshake",
                                   tls=REQUIRED + ' min_tls_version = "1.2";')
        h = doc["hosts"][0]
        self.assertTrue(h["tls_attempted"])
        self.assertFalse(h["handshake_ok"])
        self.assertTrue(h["handshake_error"])
        self.assertEqual(doc["policy"]["min_tls_version"], "1.2")
        self.assertNotEqual(h["checks"]["min_version"]["result"], "pass")

    def test_tls12_only_server_with_min_13_would_bounce_and_does(self):
        doc, _ = self.check_bounce(self.peer("tls12"), "5.7.5", None, "TLS handshake",
                                   tls=REQUIRED + ' min_tls_version = "1.3";')
        self.assertFalse(doc["hosts"][0]["handshake_ok"])
        self.assertNotEqual(doc["hosts"][0]["checks"]["min_version"]["result"], "pass")

    # -- issue 13: the words of two certificate and cipher failures -------------------------

    def check_words_everywhere(self, doc, text, words, not_words=()):
        """The tester (JSON and text), the delivery log and the DSN all say `words`."""
        dsn_text, _ = self.dsn()
        log = self.relay.log_text()
        for where, got in (("json", doc["verdict"]["reason"]), ("text", text), ("log", log),
                           ("dsn", " ".join(dsn_text.split()))):
            self.assertIn(words, got, where)
            for w in not_words:
                self.assertNotIn(w, got, where)
        return dsn_text

    def test_cn_only_certificate_would_bounce_and_does(self):
        # RFC 9525 / RFC 8461 4.2: the CN names mx1.test.example, but only a DNS subjectAltName counts.
        dest = self.peer("tls", cert="cn-only", host="::1")
        doc, text = self.check_bounce(dest, "5.7.5", "hostname", "only in its subject CN",
                                      advice_words=("subjectAltName", "verify_hostname = false"),
                                      host="mx1.test.example")
        h = doc["hosts"][0]
        self.assertEqual(h["checks"]["ca"]["result"], "pass")
        self.assertIn("only in its subject CN, not in a subjectAltName (RFC 9525)", h["checks"]["hostname"]["detail"])
        self.assertEqual(h["tls"]["chain"][0]["san"], [])
        self.assertEqual(h["tls"]["verdict"], "Trusted")
        self.check_words_everywhere(doc, text, "certificate names the host only in its subject CN, not in a "
                                    "subjectAltName (RFC 9525)")

    def test_cipher_list_without_tls13_against_tls13_only_server_names_the_cipher_list(self):
        dest = Tls13OnlyPeer()
        self.addCleanup(dest.stop)
        doc, text = self.check_bounce(dest, "5.7.5", "cipher", "cipher list offers nothing the server accepts",
                                      tls=REQUIRED + ' ciphers = [ "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" ];',
                                      advice_words=("TLS_AES_128_GCM_SHA256",))
        h = doc["hosts"][0]
        self.assertFalse(h["handshake_ok"])
        self.assertIn("no TLS 1.3 suite", h["checks"]["cipher"]["detail"])
        self.assertNotEqual(h["checks"]["min_version"]["result"], "fail")
        self.assertFalse(any("lower min_tls_version" in r for r in doc["verdict"]["remedies"]),
                         doc["verdict"]["remedies"])
        dsn_text = self.check_words_everywhere(doc, text, "cipher list offers nothing the server accepts",
                                               not_words=("TLS version too old",))
        self.assertNotIn("lower min_tls_version", " ".join(dsn_text.split()))
        self.assertTrue(dest.handshakes, "the peer saw no handshake")
        self.assertEqual([h for h in dest.handshakes if h[0] != "failed"], [])

    def test_unreachable_host_would_be_deferred_and_is(self):
        port = down_port()
        self.make_relay(port)
        doc, text, rc = self.run_tester()
        self.assertEqual(rc, 1)
        v = doc["verdict"]
        self.assertEqual(v["result"], "defer")
        self.assertTrue(v["text"].startswith("deliveries on this route would be deferred: "), v["text"])
        self.assertIn("Connection refused", v["reason"])
        self.assertFalse(doc["hosts"][0]["connected"])
        self.assertTrue(any("max_lifetime" in r for r in v["remedies"]), v["remedies"])
        outcome, rcpt = self.delivered(None)
        self.assertEqual(outcome, "defer")
        self.assertEqual(rcpt["last_error"], v["reason"])

    def test_first_mx_down_second_mx_would_deliver_and_does(self):
        dest = self.peer("tls", cert="valid")
        self.make_relay(dest.port, kind="mx")
        doc, text, rc = self.run_tester("--domain", "Two.Test.Example")
        self.assertEqual(rc, 0, text)
        self.assertEqual((doc["kind"], doc["domain"]), ("mx", "two.test.example"))
        self.assertEqual([h["host"] for h in doc["lookup"]["candidates"]], ["mx1.test.example", "mx2.test.example"])
        self.assertEqual([(h["host"], h["connected"], h["would_deliver"]) for h in doc["hosts"]],
                         [("mx1.test.example", False, False), ("mx2.test.example", True, True)])
        self.assertEqual(doc["hosts"][1]["checks"]["hostname"]["detail"], "the certificate names mx2.test.example")
        v = doc["verdict"]
        self.assertEqual(v["host"], "mx2.test.example[127.0.0.1]:%d" % dest.port)
        self.assertTrue(any("next host" in n for n in v["notes"]), v["notes"])
        outcome, msg = self.delivered(dest, to="bob@two.test.example")
        self.assertEqual(outcome, "deliver")
        self.wait_queue_empty()
        self.assertIn("relay=%s status=sent" % v["host"], self.relay.log_text())

    def test_opportunistic_without_starttls_would_deliver_in_plaintext_and_does(self):
        dest = self.peer("plain")
        self.make_relay(dest.port, tls='tls = "opportunistic";')
        doc, text, rc = self.run_tester()
        self.assertEqual(rc, 0, text)
        v = doc["verdict"]
        self.assertIsNone(v["tls_version"])
        self.assertIn("without TLS", v["text"])
        self.assertTrue(any("unencrypted" in n for n in v["notes"]), v["notes"])
        outcome, msg = self.delivered(dest)
        self.assertEqual(outcome, "deliver")
        self.assertIsNone(msg["tls_version"])

    # -- timeouts, live steps, --all (issue 14 item 11) ------------------------------------------

    def run_on_pty(self, *args, timeout=90):
        """Runs test-route with stdout on a terminal: [(seconds since start, line)], exit code."""
        master, slave = pty.openpty()
        env = dict(os.environ, TERM="dumb")          # a terminal, but no colour: plain lines
        t0 = time.monotonic()
        p = subprocess.Popen([BIN, "test-route", "-c", self.relay.config_path] + list(args), stdout=slave,
                             stderr=subprocess.PIPE, env=env)
        os.close(slave)
        lines, buf = [], b""
        while time.monotonic() - t0 < timeout:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append((time.monotonic() - t0, line.decode(errors="replace").rstrip("\r")))
        os.close(master)
        rc = p.wait(timeout=30)
        p.stderr.close()
        return lines, rc

    def test_server_that_never_greets_is_no_banner_within_the_timeout(self):
        dest = self.peer("hang")
        self.make_relay(dest.port)
        t0 = time.monotonic()
        doc, text, rc = self.run_tester("--timeout", "2")
        self.assertLess(time.monotonic() - t0, 20, "two runs of a 2 s banner wait took too long")
        self.assertEqual(rc, 1)
        v = doc["verdict"]
        self.assertIn("no banner within 2 s from mail.test.example[127.0.0.1]:%d" % dest.port, v["reason"])
        self.assertNotIn("STARTTLS not offered", text)
        self.assertEqual(doc["hosts"][0]["checks"]["ca"]["detail"], "no banner")
        # Without --timeout: 30 s, whatever the config's limits.reply_timeout (5 s here) says.
        t0 = time.monotonic()
        r = self.relay.cli("test-route", "dest", "--json", check=False)
        took = time.monotonic() - t0
        self.assertIn("no banner within 30 s", json.loads(r.stdout)["verdict"]["reason"])
        self.assertTrue(29 <= took < 45, "took %.1f s, want about 30" % took)

    def test_steps_are_printed_as_they_happen_on_a_terminal(self):
        dest = self.peer("hang")
        self.make_relay(dest.port)
        lines, rc = self.run_on_pty("dest", "--timeout", "3")
        self.assertEqual(rc, 1)
        texts = [l for _, l in lines]
        banner = [t for t, l in lines if re.search(r"\d+\.\ds  mail.test.example\[127.0.0.1\]:\d+  banner$", l)]
        self.assertEqual(len(banner), 1, "\n".join(texts))
        verdict = [t for t, l in lines if l.startswith("verdict: ")]
        self.assertEqual(len(verdict), 1, "\n".join(texts))
        # The banner step was shown when it began, the 3 s wait came after it.
        self.assertGreater(verdict[0] - banner[0], 2.0, "\n".join(texts))
        failed = [t for t, l in lines if re.search(r"\d+\.\ds  mail.test.example\[127.0.0.1\]:\d+  failed: "
                                                   r"no banner within 3 s from ", l)]
        self.assertEqual(len(failed), 1, "\n".join(texts))
        self.assertGreater(failed[0] - banner[0], 2.5, "\n".join(texts))
        # Not on a terminal (run_tester): no step lines.
        doc, text, rc = self.run_tester("--timeout", "1")
        self.assertNotIn("  banner\n", text)

    def test_all_tests_every_route_and_every_domain_of_an_mx_route(self):
        dest = self.peer("tls", cert="valid")
        cfg = td.CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "kind": "mx", "host": "",
                           "port": dest.port, "tls": REQUIRED, "lifetime": "5d"}
        cfg = cfg.replace('address_lists = { senders = [ "sender.test.example" ]; };',
                          'address_lists = { senders = [ "sender.test.example" ]; '
                          'partners = [ "two.test.example", "bob@Mail.Test.Example", ".sub.test.example" ]; };')
        cfg = cfg.replace('{ name = "dest"; match = [ "*" ];', '{ name = "partners"; match = [ "partners" ]; '
                          'kind = "mx"; port = %d; %s },\n  { name = "dest"; match = [ "*" ];' % (dest.port, REQUIRED))
        self.relay = Relay(cfg)
        r = self.relay.cli("test-route", "--all", "--json", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        got = [(t["route"], t["domain"], t["exit_code"]) for t in doc["routes"]]
        # The ".sub.test.example" pattern names no one domain; the address names mail.test.example.
        self.assertEqual(got, [("bounces", None, 0), ("partners", "two.test.example", 0),
                               ("partners", "mail.test.example", 0)])
        self.assertEqual(doc["exit_code"], 0)
        self.assertIn("test-route dest: not tested", r.stderr)   # "*": no domain to test
        text = self.relay.cli("test-route", "--all", check=False)
        self.assertEqual(text.returncode, r.returncode)
        for head in ("== route bounces", "== route partners --domain two.test.example",
                     "== route partners --domain mail.test.example"):
            self.assertIn(head + "\n", text.stdout)
        self.assertEqual(dest.messages(), [])
        # One route that would not deliver makes --all exit 1.
        dest.stop()
        r = self.relay.cli("test-route", "--all", "--json", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["exit_code"], 1)

    def test_timeout_and_all_usage_errors(self):
        self.make_relay(down_port())
        for args in (["dest", "--timeout", "abc"], ["dest", "--timeout", "0"], ["--all", "dest"],
                     ["--all", "--domain", "a.example"]):
            r = self.relay.cli("test-route", *args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))

    # -- the DSN's advice (issue 14 item 12) --------------------------------------------------

    def advised_command(self, human):
        """The tester command line a DSN advises, its wrapped lines joined again."""
        m = re.search(r'Run "(smarthost test-route [^"]*)"', re.sub(r"\s+", " ", human))
        self.assertIsNotNone(m, human)
        return m.group(1)

    def test_dsn_advice_names_a_tester_command_that_runs_as_written(self):
        dest = self.peer("plain")                  # required TLS, no STARTTLS: bounce 5.7.4
        self.make_relay(dest.port, kind="mx")
        outcome, fields = self.delivered(dest, to="bob@two.test.example")
        self.assertEqual(outcome, "bounce")
        human, _ = self.dsn()
        line = self.advised_command(human)
        self.assertIn(" --domain two.test.example", line)
        self.assertIn(" -c %s " % self.relay.config_path, line)
        argv = shlex.split(line)
        self.assertEqual(argv[0], "smarthost")
        r = subprocess.run([BIN] + argv[1:], capture_output=True, text=True, timeout=120)
        self.assertIn(r.returncode, (0, 1), "%s: exit %d\n%s" % (line, r.returncode, r.stderr))
        self.assertEqual(r.returncode, 1, r.stdout)   # it shows the failure the DSN reports
        self.assertIn("STARTTLS", r.stdout)

    # -- command line ----------------------------------------------------------------------

    def test_usage_errors(self):
        dest = self.peer("tls", cert="valid")
        self.make_relay(dest.port, kind="mx")
        r = self.relay.cli("test-route", "dest", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--domain", r.stderr)
        r = self.relay.cli("test-route", "nosuch", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("nosuch", r.stderr)
        r = self.relay.cli("test-route", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(dest.connections(), [])

    def test_colour_only_on_a_terminal(self):
        dest = self.peer("tls", cert="valid")
        self.make_relay(dest.port)
        master, slave = pty.openpty()
        env = dict(os.environ, TERM="xterm")
        env.pop("NO_COLOR", None)
        p = subprocess.Popen([BIN, "test-route", "-c", self.relay.config_path, "dest"], stdout=slave,
                             stderr=subprocess.PIPE, env=env)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(timeout=30), 0, p.stderr.read())
        p.stderr.close()
        self.assertIn(ANSI.encode(), out)
        self.assertIn(b"would succeed over TLS1_3", out)

    def test_check_config_test_routes(self):
        dest = self.peer("tls", cert="expired")
        self.make_relay(dest.port)
        r = self.relay.cli("check-config", "--test-routes", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertIn("test-route bounces: deliveries on this route would succeed without TLS (plaintext) "
                      "(host 127.0.0.1[127.0.0.1]:%d)" % self.sink.port, r.stdout)
        self.assertIn("test-route dest: deliveries on this route would bounce: certificate expired", r.stdout)
        good = self.peer("tls", cert="valid")
        self.relay.cleanup()
        self.make_relay(good.port)
        r = self.relay.cli("check-config", "--test-routes", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("test-route dest: deliveries on this route would succeed over TLS1_3", r.stdout)
        # Routes of kind "mx" need a domain: not tested, not counted.
        self.relay.cleanup()
        self.make_relay(good.port, kind="mx")
        r = self.relay.cli("check-config", "--test-routes", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("test-route dest", r.stdout)
