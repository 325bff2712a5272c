"""test_tenant.py - SPEC R-TENANT: binding an allowlisted (shared) range to our own tenant.

The real relay, driven by swaks and Python's smtplib. The sender part (sender_domains,
check_from, allow_null_sender, exempt) needs no DNS; the DKIM part signs messages with
python3-dkim (rsa-sha256 1024/2048, ed25519-sha256) and serves the public keys from a real
unbound (dns_server.py), with a zone that never answers for the DNS timeout case.
"""
import smtplib
import unittest

from relay_fixture import Relay, stop_and_check

BINDING = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; } );
queue = { path = "QUEUE_DIR"; };
relay_policy = { sender_domains = [ "example.com", ".example.com" ]; check_from = true;
                 allow_null_sender = %(null)s; exempt = [ "127.0.0.2" ]; };
"""


def message(frm="Alice <alice@example.com>", subject="binding", body="Hello.\r\n"):
    return ("From: %s\r\nTo: bob@example.org\r\nSubject: %s\r\nMessage-ID: <m1@example.com>\r\n"
            "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n%s" % (frm, subject, body)).encode()


class BindingBase(unittest.TestCase):
    null = "false"

    def setUp(self):
        self.relay = Relay(BINDING % {"null": self.null}).start()

    def tearDown(self):
        stop_and_check(self, self.relay)

    def send(self, sender, msg, source="127.0.0.1"):
        """(code, text) of the first refusal, or (250, queue reply) when queued."""
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20, source_address=(source, 0)) as s:
            s.ehlo("client.example")
            code, text = s.mail(sender)
            if code != 250:
                return code, text.decode()
            self.assertEqual(s.rcpt("bob@example.org")[0], 250)
            code, text = s.data(msg)
            return code, text.decode()


class SenderBindingTest(BindingBase):
    def test_our_domain_and_subdomain_are_accepted(self):
        self.assertEqual(self.send("alice@example.com", message())[0], 250)
        code, text = self.send("bounce@mail.Example.COM", message(frm="x@sub.example.com"))
        self.assertEqual(code, 250, text)

    def test_swaks_other_tenant_refused_at_mail(self):
        r = self.relay.swaks("--from", "eve@other-tenant.example", "--to", "bob@example.org")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"<\*\* 550 5\.7\.1 <eve@other-tenant\.example>: sender domain "
                                   r"other-tenant\.example is not relayed here \(only example\.com, \.example\.com\)")
        self.assertRegex(self.relay.log_text(), r"event=reject .*client=127\.0\.0\.1 .*from=<eve@other-tenant\.example> "
                                                r"reason=\"sender domain not ours\" domain=other-tenant\.example "
                                                r"allowed=\"example\.com, \.example\.com\"")
        self.assertEqual(self.relay.queue_list(), [])

    def test_lookalike_domain_refused(self):
        code, text = self.send("a@badexample.com", message())
        self.assertEqual(code, 550)
        self.assertIn("5.7.1", text)

    def test_header_from_mismatch_refused_at_end_of_data(self):
        code, text = self.send("alice@example.com", message(frm="Eve <eve@other-tenant.example>"))
        self.assertEqual(code, 550, text)
        self.assertIn("5.7.1 header From: domain other-tenant.example is not relayed here", text)
        self.assertRegex(self.relay.log_text(), r"reason=\"header From not ours\" domain=other-tenant\.example")
        self.assertEqual(self.relay.queue_list(), [])

    def test_second_from_address_must_be_ours_too(self):
        code, _ = self.send("alice@example.com", message(frm="a@example.com, \"x, y\" <eve@other-tenant.example>"))
        self.assertEqual(code, 550)

    def test_null_sender_refused_when_not_allowed(self):
        code, text = self.send("", message())
        self.assertEqual(code, 550)
        self.assertIn("null sender", text)

    def test_exempt_client_skips_the_binding(self):
        code, text = self.send("eve@other-tenant.example", message(frm="eve@other-tenant.example"), source="127.0.0.2")
        self.assertEqual(code, 250, text)


class NullSenderAllowedTest(BindingBase):
    null = "true"

    def test_null_sender_skips_the_binding(self):
        code, text = self.send("", message(frm="MAILER-DAEMON@bounces.other.example"))
        self.assertEqual(code, 250, text)


if __name__ == "__main__":
    unittest.main()
