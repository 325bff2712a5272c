"""test_inbound.py - accepting mail: the real relay driven by clients we did not
write (swaks, Python's smtplib and ssl) and by a byte-exact raw client."""
import os
import smtplib
import ssl
import subprocess
import time
import unittest

from relay_fixture import BASE_CONFIG, BIN, Relay, testpki

MESSAGE = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: exact\r\n"
           b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x;\r\n\tbh=abc=; b=def\r\n"
           b"\r\nline one  \r\n\tindented\r\n.leading dot\r\n\r\n\r\nend\r\n")


class InboundBase(unittest.TestCase):
    config = BASE_CONFIG

    def setUp(self):
        self.relay = Relay(self.config).start()

    def tearDown(self):
        rc = self.relay.stop()
        log = self.relay.log_text()
        self.relay.cleanup()
        self.assertEqual(rc, 0, "relay exited %s; log:\n%s" % (rc, log))
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)

    def session(self, mail_from=None):
        """A raw client past the greeting and EHLO (and MAIL FROM:<mail_from> if given)."""
        c = self.relay.client()
        c.reply()
        self.assertEqual(c.cmd("EHLO x")[0], 250)
        if mail_from:
            self.assertEqual(c.cmd("MAIL FROM:<%s>" % mail_from)[0], 250)
        return c

    def body_of(self, qid):
        """The stored message, bytes exactly as queued."""
        out = subprocess.run([BIN, "queue", "-c", self.relay.config_path, "show", qid],
                             capture_output=True, check=True).stdout
        return out.split(b"\n\n", 1)[1]


class AcceptTest(InboundBase):
    def test_swaks_plain_is_queued(self):
        r = self.relay.swaks("--from", "a@example.com", "--to", "b@example.org")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"250 2\.0\.0 Ok: queued as [0-9A-F]{16}")
        msgs = self.relay.queue_list()
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertEqual(m["sender"], "a@example.com")
        self.assertEqual(m["recipients"][0]["address"], "b@example.org")
        self.assertIn(m["recipients"][0]["state"], ("pending", "deferred"))  # port 9: nobody home
        self.assertEqual(m["recipients"][0]["route"], "default")
        self.assertRegex(m["arrival"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn("event=accepted", self.relay.log_text())

    def test_swaks_starttls_received_header_names_tls(self):
        r = self.relay.swaks("--from", "a@example.com", "--to", "b@example.org", "--tls")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        qid = self.relay.queue_list()[0]["id"]
        body = self.body_of(qid).decode()
        self.assertRegex(body.split("\n")[0], r"^Received: from ")
        self.assertRegex(body, r"with ESMTPS id %s\r?\n\t\(version=TLS1_3 cipher=TLS_AES_\d+_GCM_SHA\d+ bits=\d+/\d+\)" % qid)

    def test_swaks_pipelining(self):
        r = self.relay.swaks("--from", "a@example.com", "--to", "b@example.org,c@example.org", "--pipeline")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout)
        self.assertEqual(len(self.relay.queue_list()[0]["recipients"]), 2)

    def test_smtplib_starttls_keeps_body_byte_exact(self):
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("starttls"))
            self.assertTrue(s.has_extn("pipelining"))
            self.assertTrue(s.has_extn("dsn"))
            self.assertTrue(s.has_extn("enhancedstatuscodes"))
            self.assertFalse(s.has_extn("chunking"))
            ctx = ssl.create_default_context(cafile=os.path.join(testpki(), "ca-bundle.pem"))
            s.starttls(context=ctx)
            s.ehlo("client.example")
            self.assertFalse(s.has_extn("starttls"))
            s.sendmail("a@example.com", ["b@example.org"], MESSAGE,
                       mail_options=["BODY=8BITMIME", "RET=HDRS", "ENVID=abc+2B1"],
                       rcpt_options=["NOTIFY=FAILURE,DELAY", "ORCPT=rfc822;b@example.org"])
        qid = self.relay.queue_list()[0]["id"]
        out = self.relay.cli("queue", "show", qid).stdout
        self.assertIn("envid: abc+1", out)
        body = self.body_of(qid)
        received, rest = body.split(b"\r\n", 1)[0], body
        self.assertTrue(received.startswith(b"Received: from client.example ([127.0.0.1])"), body[:200])
        # Everything after our one Received header is what the client sent.
        idx = rest.index(b"From: a@example.com")
        self.assertEqual(rest[idx:], MESSAGE)

    def test_vrfy_noop_rset_help(self):
        c = self.relay.client()
        self.assertEqual(c.reply()[0], 220)
        self.assertEqual(c.cmd("EHLO x")[0], 250)
        self.assertEqual(c.cmd("VRFY postmaster")[0], 252)
        self.assertEqual(c.cmd("NOOP"), (250, "250 2.0.0 Ok"))
        self.assertEqual(c.cmd("RSET"), (250, "250 2.0.0 Ok"))
        self.assertEqual(c.cmd("BDAT 10 LAST")[0], 502)
        self.assertEqual(c.cmd("FOO")[1], "500 5.5.2 Error: command not recognized")
        self.assertEqual(c.cmd("RCPT TO:<a@b.example>")[1], "503 5.5.1 Error: need MAIL command")
        self.assertEqual(c.cmd("QUIT")[0], 221)
        c.close()

    def test_command_sequence_errors(self):
        c = self.relay.client()
        c.reply()
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[1], "503 5.5.1 Error: send EHLO or HELO first")
        c.cmd("EHLO x")
        self.assertEqual(c.cmd("DATA")[1], "503 5.5.1 Error: need MAIL command")
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[0], 250)
        self.assertEqual(c.cmd("MAIL FROM:<a@b.example>")[1], "503 5.5.1 Error: nested MAIL command")
        self.assertEqual(c.cmd("DATA")[1], "554 5.5.1 Error: no valid recipients")
        self.assertEqual(c.cmd("RCPT TO:<bad address@x>")[0], 553)
        c.send("X" * 600 + "\r\n")
        self.assertEqual(c.reply()[1], "500 5.5.2 Error: line too long")
        self.assertEqual(c.cmd("NOOP")[0], 250)
        c.close()


class AllowlistTest(InboundBase):
    config = BASE_CONFIG.replace('allow = [ "127.0.0.0/8" ];', 'allow = [ "127.0.0.1/32" ];')

    def test_client_outside_allowlist_gets_554_and_is_disconnected(self):
        c = self.relay.client(source="127.0.0.2")
        code, text = c.reply()
        self.assertEqual(code, 554)
        self.assertTrue(text.startswith("554 5.7.1 "), text)
        self.assertTrue(c.closed())
        c.close()
        self.assertIn("reason=\"client not in allow list\"", self.relay.log_text())
        # The allowed address still gets in.
        ok = self.relay.client(source="127.0.0.1")
        self.assertEqual(ok.reply()[0], 220)
        ok.close()


class SmugglingTest(InboundBase):
    def smuggle(self, payload):
        c = self.relay.client()
        c.reply()
        c.cmd("EHLO x")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.org>")[0], 250)
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send(payload)
        code, text = c.reply()
        # Nothing more may come: the smuggled commands were swallowed as data.
        c.send("NOOP\r\n")
        after = c.reply()
        c.close()
        return code, text, after

    def check_refused(self, payload):
        code, text, after = self.smuggle(payload)
        self.assertEqual(code, 554, text)
        self.assertTrue(text.startswith("554 5.5.2 "), text)
        self.assertEqual(after[0], 250)  # the NOOP, not a reply to a smuggled command
        self.assertEqual(self.relay.queue_list(), [])

    def test_bare_lf_dot_bare_lf(self):
        self.check_refused(b"Subject: a\r\n\r\nhi\n.\nMAIL FROM:<evil@x.example>\r\n"
                           b"RCPT TO:<victim@y.example>\r\nDATA\r\nevil\r\n.\r\n")

    def test_crlf_dot_lf(self):
        self.check_refused(b"Subject: a\r\n\r\nhi\r\n.\nMAIL FROM:<evil@x.example>\r\n.\r\n")

    def test_bare_cr(self):
        self.check_refused(b"Subject: a\r\n\r\nhi\r.\rMAIL FROM:<evil@x.example>\r\n.\r\n")

    def test_nul_in_text(self):
        self.check_refused(b"Subject: a\r\n\r\nhi\x00there\r\n.\r\n")

    def test_nul_after_dot(self):
        # The variant the smuggling scanner got through: "." NUL CRLF is no end of data.
        self.check_refused(b"Subject: a\r\n\r\nhi\r\n.\x00\r\nMAIL FROM:<evil@x.example>\r\n"
                           b"RCPT TO:<victim@y.example>\r\nDATA\r\nevil\r\n.\r\n")


class CommandLineTest(InboundBase):
    """Only CRLF ends a command line; a line with a bare CR or LF or a NUL is one 500 5.5.2, and
    the session goes on with the next CRLF-terminated line."""

    def assertRefusedLine(self, c, raw):
        c.send(raw)
        code, text = c.reply()
        self.assertTrue(text.startswith("500 5.5.2 "), "%r: %s" % (raw, text))
        # In step: the next reply answers the next line, and the bad line started no transaction.
        self.assertEqual(c.cmd("NOOP"), (250, "250 2.0.0 Ok"))
        self.assertEqual(c.cmd("RCPT TO:<b@example.org>")[1], "503 5.5.1 Error: need MAIL command")

    def test_bare_lf_or_cr_does_not_split_a_line_into_commands(self):
        c = self.session()  # one session: each refusal must leave it in step for the next
        self.assertRefusedLine(c, b"MAIL FROM:<a@example.com>\nRCPT TO:<b@example.org>\r\n")
        self.assertRefusedLine(c, b"MAIL FROM:<a@example.com>\rRCPT TO:<b@example.org>\r\n")
        self.assertRefusedLine(c, b"MAIL FROM:<a@example.com>\nNOOP\r\n")  # LF ends no command
        c.close()

    def test_nul_in_a_command_line(self):
        c = self.session()
        c.send(b"HELO a\x00b\r\n")
        code, text = c.reply()
        self.assertTrue(text.startswith("500 5.5.2 "), text)
        self.assertRefusedLine(c, b"MAIL FROM:<a@example.com>\x00\r\n")
        c.close()

    def test_pipelined_bad_line_between_good_ones(self):
        c = self.session()
        c.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<x@example.org>\nRCPT TO:<y@example.org>\r\n"
               b"RCPT TO:<b@example.org>\r\nDATA\r\n")
        self.assertEqual(c.reply()[0], 250)
        self.assertTrue(c.reply()[1].startswith("500 5.5.2 "))
        self.assertEqual(c.reply()[0], 250)
        self.assertEqual(c.reply()[0], 354)
        c.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
        self.assertEqual(c.reply()[0], 250)
        c.close()
        rcpts = [r["address"] for m in self.relay.queue_list() for r in m["recipients"]]
        self.assertEqual(rcpts, ["b@example.org"])


class AddressTest(InboundBase):
    def test_utf8_address_without_smtputf8_gets_553_5_6_7(self):
        c = self.session()
        code, text = c.cmd("MAIL FROM:<j\u00f6rg@example.com>")
        self.assertTrue(text.startswith("553 5.6.7 "), text)
        self.assertIn("SMTPUTF8", text)
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
        for rcpt in ("b@b\u00fccher.example", "j\u00f6rg@example.org"):
            code, text = c.cmd("RCPT TO:<%s>" % rcpt)
            self.assertTrue(text.startswith("553 5.6.7 "), text)
        self.assertEqual(c.cmd("DATA")[1], "554 5.5.1 Error: no valid recipients")
        c.close()
        self.assertEqual(self.relay.queue_list(), [])

    def test_over_long_local_part_or_domain_gets_501(self):
        c = self.session()
        code, text = c.cmd("MAIL FROM:<%s@example.com>" % ("l" * 65))
        self.assertTrue(text.startswith("501 5.1.7 "), text)
        self.assertEqual(c.cmd("MAIL FROM:<%s@example.com>" % ("l" * 64))[0], 250)
        code, text = c.cmd("RCPT TO:<%s@example.org>" % ("l" * 65))
        self.assertTrue(text.startswith("501 5.1.3 "), text)
        code, text = c.cmd("RCPT TO:<a@%s.example.org>" % ".".join(["d" * 63] * 4))
        self.assertTrue(text.startswith("501 5.1.3 "), text)
        c.close()


class StartTlsInjectionTest(InboundBase):
    def test_bytes_pipelined_after_starttls_are_discarded(self):
        c = self.relay.client()
        c.reply()
        c.cmd("EHLO x")
        # The injected MAIL travels in the same packet as STARTTLS, in plaintext.
        c.send("STARTTLS\r\nMAIL FROM:<evil@x.example>\r\n")
        code, text = c.reply()
        self.assertEqual(code, 220, text)
        c.starttls(os.path.join(testpki(), "ca-bundle.pem"))
        # State was reset: EHLO is needed again, and the injected MAIL is gone.
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 503)
        c.cmd("EHLO x")
        self.assertEqual(c.cmd("RCPT TO:<b@example.org>")[1], "503 5.5.1 Error: need MAIL command")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
        c.close()


class RequiredPeerTest(InboundBase):
    config = BASE_CONFIG + """
inbound_tls = { default = "opportunistic"; min_version = "1.2";
                peers = ( { match = [ "127.0.0.1/32" ]; level = "required"; } ); };
"""

    def test_required_peer_is_refused_mail_before_starttls(self):
        c = self.relay.client()
        c.reply()
        c.cmd("EHLO x")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[1], "530 5.7.0 Must issue a STARTTLS command first")
        self.assertEqual(c.cmd("STARTTLS")[0], 220)
        c.starttls(os.path.join(testpki(), "ca-bundle.pem"))
        c.cmd("EHLO x")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
        c.close()

    def test_other_peers_stay_opportunistic(self):
        c = self.relay.client(source="127.0.0.3")
        c.reply()
        c.cmd("EHLO x")
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>")[0], 250)
        c.close()


def s_client(port, *args):
    """openssl s_client through STARTTLS: (handshake completed, protocol, output). Python's ssl
    cannot speak TLS 1.1 on Debian 12, openssl can with @SECLEVEL=0."""
    r = subprocess.run(["openssl", "s_client", "-starttls", "smtp", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "relay.test.example", "-brief"] + list(args),
                       input=b"QUIT\r\n", capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode(errors="replace")
    proto = ""
    for line in out.splitlines():
        if line.startswith("Protocol version:"):
            proto = line.split(":", 1)[1].strip()
    return "CONNECTION ESTABLISHED" in out, proto, out


TLS11 = ("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")


class InboundTlsDefaultsTest(InboundBase):
    """Issue 13 item 8: no min_version set: TLS 1.1 is refused, 1.2 and 1.3 work, AEAD first."""

    def test_tls11_client_is_refused_by_default(self):
        ok, proto, out = s_client(self.relay.port, *TLS11)
        self.assertFalse(ok, out)
        self.assertNotEqual(proto, "TLSv1.1", out)

    def test_tls12_client_gets_an_aead_suite_before_cbc(self):
        ok, proto, out = s_client(self.relay.port, "-tls1_2", "-cipher",
                                  "ECDHE-RSA-AES128-SHA:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256")
        self.assertTrue(ok, out)
        self.assertEqual(proto, "TLSv1.2", out)
        self.assertNotIn("Ciphersuite: ECDHE-RSA-AES128-SHA\n", out)
        self.assertRegex(out, r"Ciphersuite: ECDHE-RSA-(AES128-GCM-SHA256|CHACHA20-POLY1305)")

    def test_tls13_client_is_accepted(self):
        ok, proto, out = s_client(self.relay.port, "-tls1_3")
        self.assertTrue(ok, out)
        self.assertEqual(proto, "TLSv1.3", out)


class InboundTls11AllowedTest(InboundBase):
    config = BASE_CONFIG + """
inbound_tls = { default = "opportunistic"; min_version = "1.1"; };
"""

    def test_tls11_client_is_accepted_when_min_version_is_1_1(self):
        # Proves the refusal above is the relay's floor, not the client's inability.
        ok, proto, out = s_client(self.relay.port, *TLS11)
        self.assertTrue(ok, out)
        self.assertEqual(proto, "TLSv1.1", out)


class LimitsTest(InboundBase):
    config = BASE_CONFIG.replace(
        'queue = { path = "QUEUE_DIR"; };',
        'queue = { path = "QUEUE_DIR"; max_message_size = 2048; max_recipients = 2; };\n'
        'limits = { command_timeout = "2s"; connections_per_ip = 3; };')

    def test_size_parameter_over_limit_gets_552(self):
        c = self.relay.client()
        c.reply()
        c.cmd("EHLO x")
        code, text = c.cmd("MAIL FROM:<a@example.com> SIZE=999999")
        self.assertTrue(text.startswith("552 5.3.4 "), text)
        c.close()

    def send_data(self, wire, size_param=""):
        c = self.session()
        self.assertEqual(c.cmd("MAIL FROM:<a@example.com>" + size_param)[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<b@example.org>")[0], 250)
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send(wire)
        reply = c.reply()
        c.close()
        return reply

    @staticmethod
    def message_of(size):
        """A message of `size` octets as RFC 1870 counts them, with a line that needs a stuffing dot."""
        body = b"Subject: size\r\n\r\n.dot line\r\n"
        while len(body) + 102 <= size:
            body += b"z" * 100 + b"\r\n"
        body += b"z" * (size - len(body) - 2) + b"\r\n"
        assert len(body) == size
        return body

    @staticmethod
    def stuffed(body):
        return body.replace(b"\r\n.dot", b"\r\n..dot") + b".\r\n"

    def test_message_of_exactly_the_advertised_size_is_accepted(self):
        # RFC 1870: CRLFs count, the stuffing dot and the final ".CRLF" do not.
        body = self.message_of(2048)
        code, text = self.send_data(self.stuffed(body), " SIZE=2048")
        self.assertEqual(code, 250, text)
        [m] = self.relay.queue_list()
        stored = self.body_of(m["id"])
        # Our Received header, then the message octet for octet (the stuffing dot removed).
        self.assertTrue(stored.startswith(b"Received: "), stored[:80])
        self.assertTrue(stored.endswith(b"\r\n" + body), stored[-80:])

    def test_one_octet_over_the_advertised_size_gets_552(self):
        code, text = self.send_data(self.stuffed(self.message_of(2049)))
        self.assertTrue(text.startswith("552 5.3.4 "), text)
        self.assertEqual(self.relay.queue_list(), [])

    def test_oversized_data_gets_552_and_nothing_is_queued(self):
        r = self.relay.swaks("--from", "a@example.com", "--to", "b@example.org", "--body", ("y" * 70 + "\n") * 60)
        self.assertIn("552 5.3.4", r.stdout)
        self.assertEqual(self.relay.queue_list(), [])

    def test_too_many_recipients_gets_452(self):
        c = self.relay.client()
        c.reply()
        c.cmd("EHLO x")
        c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual(c.cmd("RCPT TO:<1@example.org>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<2@example.org>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<3@example.org>")[1], "452 4.5.3 Error: too many recipients")
        c.close()

    def test_idle_client_is_timed_out_with_421(self):
        c = self.relay.client()
        c.reply()
        t0 = time.monotonic()
        code, text = c.reply()
        self.assertEqual(code, 421)
        self.assertIn("4.4.2", text)
        self.assertLess(time.monotonic() - t0, 10)
        c.close()

    def test_connections_per_ip_limit_gets_421(self):
        time.sleep(0.5)  # let the fixture's readiness probe session end
        held = [self.relay.client() for _ in range(3)]
        for h in held:
            self.assertEqual(h.reply()[0], 220)
        extra = self.relay.client()
        code, text = extra.reply()
        self.assertEqual(code, 421)
        self.assertIn("4.7.0", text)
        for h in held + [extra]:
            h.close()


class NoRouteTest(InboundBase):
    config = BASE_CONFIG.replace(
        'routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; } );',
        'address_lists = { partners = [ "partner.example", "ceo@normal.example" ]; };\n'
        'routes = ( { name = "p"; match = [ "partners" ]; kind = "host"; host = "127.0.0.1"; port = 9; } );')

    def test_address_entry_matches_in_any_letter_case(self):
        # SPEC R-ROUTE: the listed route is taken whatever the case of the local part or domain.
        c = self.session("a@example.com")
        self.assertEqual(c.cmd("RCPT TO:<CEO@Normal.Example>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<ceo@normal.example>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<cfo@normal.example>")[0], 550)
        c.close()

    def test_recipient_without_route_gets_550_5_7_1(self):
        c = self.relay.client()
        c.reply()
        c.cmd("EHLO x")
        c.cmd("MAIL FROM:<a@example.com>")
        self.assertEqual(c.cmd("RCPT TO:<x@partner.example>")[0], 250)
        code, text = c.cmd("RCPT TO:<x@elsewhere.example>")
        self.assertEqual(code, 550)
        self.assertIn("5.7.1", text)
        c.close()


class DurabilityTest(InboundBase):
    def test_kill_9_right_after_250_loses_nothing(self):
        ids = []
        for i in range(5):
            r = self.relay.swaks("--from", "a@example.com", "--to", "b%d@example.org" % i)
            self.assertEqual(r.returncode, 0, r.stdout)
            ids.append(r.stdout.split("queued as ")[1].split()[0])
        self.relay.kill9()
        self.assertEqual(sorted(m["id"] for m in self.relay.queue_list()), sorted(ids))
        self.relay.start()
        self.assertEqual(sorted(m["id"] for m in self.relay.queue_list()), sorted(ids))

    def test_queue_delete_and_unknown_id(self):
        self.relay.swaks("--from", "a@example.com", "--to", "b@example.org")
        qid = self.relay.queue_list()[0]["id"]
        r = self.relay.cli("queue", "delete", "NOSUCHID", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(self.relay.cli("queue", "show", "NOSUCHID", check=False).returncode, 1)
        self.relay.cli("queue", "delete", qid)
        self.assertEqual(self.relay.queue_list(), [])


if __name__ == "__main__":
    unittest.main()
