"""test_requiretls.py - REQUIRETLS (RFC 8689, SPEC R-REQUIRETLS) and the TLS-Required header.

Inbound, with Python's smtplib and ssl (a client we did not write): REQUIRETLS is offered only
after STARTTLS and refused (530 5.7.10) before it. Outbound, against aiosmtpd peers: no Debian 12
server speaks REQUIRETLS, so the peer (smtp_peer.py requiretls=True) adds the extension to
aiosmtpd. A REQUIRETLS message goes only over TLS verified with the host name, whatever the route
says, and only to a hop that offers REQUIRETLS, which gets the parameter on; anything else
bounces at once (one attempt), and the DSN carries the headers only and itself requires TLS.
"""
import email
import json
import os
import smtplib
import ssl
import time
import unittest

from relay_fixture import Relay, testpki, stop_and_check
from test_delivery import DeliveryBase, SENDER

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
dns = { servers = [ "%(dns)s" ]; timeout = "2s"; };
address_lists = { senders = [ "sender.test.example" ]; };
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "mail.test.example"; port = %(sink)d;
    tls = "opportunistic"; },
  { name = "dest"; match = [ "*" ]; kind = "host"; host = "mail.test.example"; port = %(port)d; %(tls)s }
);
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; };
limits = { connect_timeout = "3s"; reply_timeout = "5s"; };
%(extra)s
"""

OPPORTUNISTIC = 'tls = "opportunistic";'  # no certificate checks of the route's own
MESSAGE = ("From: Alice <%s>\r\nTo: bob@dest.test.example\r\nSubject: secret\r\n"
           "Message-ID: <rt1@sender.test.example>\r\n%s\r\nthe body that must not come back\r\n")


def client_context():
    ctx = ssl.create_default_context(cafile=os.path.join(testpki(), "ca-bundle.pem"))
    ctx.check_hostname = False  # the relay's certificate names relay hosts, not 127.0.0.1
    return ctx


class RequireTlsBase(DeliveryBase):
    def setUp(self):
        self.peers = []
        self.relay = None
        # DSNs of REQUIRETLS messages require TLS too: the sender's sink must be able to take them.
        self.sink = self.peer("tls", cert="valid", requiretls=True)

    def start(self, dest, tls=OPPORTUNISTIC, extra=""):
        cfg = CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "port": dest.port, "tls": tls,
                        "extra": extra}
        self.relay = Relay(cfg).start()
        return self.relay

    def submit(self, requiretls=True, headers="", options=()):
        """Sends one message with smtplib over STARTTLS; returns its queue id."""
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("client.sender.test.example")
            s.starttls(context=client_context())
            s.ehlo("client.sender.test.example")
            opts = (["REQUIRETLS"] if requiretls else []) + list(options)
            code, text = s.mail(SENDER, opts)
            self.assertEqual(code, 250, text)
            code, text = s.rcpt("bob@dest.test.example")
            self.assertEqual(code, 250, text)
            code, text = s.data((MESSAGE % (SENDER, headers)).encode())
            self.assertEqual(code, 250, text)
            return text.decode().split("queued as ")[1].split()[0]

    def bounce(self):
        """The DSN at the sender's sink: (message, delivery-status fields, its MAIL options)."""
        msgs = self.sink.wait_messages(1, timeout=30)
        self.assertIn(msgs[0]["mail_from"], ("", "<>"))
        mail = [e for e in self.sink.events("mail") if e["code"] == 250][-1]
        m = email.message_from_bytes(msgs[0]["data"])
        fields = {}
        for block in m.get_payload()[1].get_payload():
            for k, v in block.items():
                fields.setdefault(k.lower(), v)
        return m, fields, mail["options"], msgs[0]


class RequireTlsDeliveryTest(RequireTlsBase):
    def assert_no_mail_at(self, dest):
        self.assertEqual(dest.events("mail"), [], "a REQUIRETLS message reached MAIL at a hop that may not have it")

    def test_sent_over_verified_tls_with_requiretls_passed_on(self):
        dest = self.peer("tls", cert="valid", requiretls=True)
        self.start(dest)
        qid = self.submit()
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["tls_version"], "TLSv1.3")
        mail = dest.events("mail")[-1]
        self.assertIn("REQUIRETLS", mail["options"])
        self.wait_queue_empty()
        self.assertRegex(self.relay.log_text(), r"event=delivery .*id=%s .*status=sent .*verify=Verified" % qid)
        doc = json.loads(self.relay.cli("test-route", "dest", "--json").stdout)
        self.assertTrue(doc["hosts"][0]["requiretls_offered"])

    def test_message_without_requiretls_does_not_send_the_parameter(self):
        dest = self.peer("tls", cert="valid", requiretls=True)
        self.start(dest)
        self.submit(requiretls=False)
        dest.wait_messages(1, timeout=20)
        self.assertNotIn("REQUIRETLS", dest.events("mail")[-1]["options"])

    def test_hop_without_requiretls_gets_no_mail_and_it_bounces_5_7_30_headers_only(self):
        dest = self.peer("tls", cert="valid")  # TLS and a valid certificate, but no REQUIRETLS
        self.start(dest)
        self.submit(options=["RET=FULL"])
        m, fields, options, raw = self.bounce()
        self.assertEqual(fields["status"], "5.7.30", fields)
        self.assert_no_mail_at(dest)
        self.assertEqual(len(dest.connections()), 1, "bounced at once: one attempt")
        text = m.get_payload()[0].get_payload(decode=True).decode()
        self.assertIn("REQUIRETLS", text)
        # RFC 8689 5: the report returns the header section only, although RET=FULL asked more,
        # and it travels under REQUIRETLS itself.
        self.assertEqual(m.get_payload()[2].get_content_type(), "text/rfc822-headers")
        self.assertIn(b"Subject: secret", raw["data"])
        self.assertNotIn(b"the body that must not come back", raw["data"])
        self.assertIn("REQUIRETLS", options)
        self.assertEqual(raw["tls_version"], "TLSv1.3")
        doc = json.loads(self.relay.cli("test-route", "dest", "--json").stdout)
        self.assertFalse(doc["hosts"][0]["requiretls_offered"])
        out = self.relay.cli("test-route", "dest").stdout
        self.assertIn("mail sent with REQUIRETLS would bounce (5.7.30)", out)

    def test_certificate_for_another_host_bounces_at_once_although_the_route_is_opportunistic(self):
        dest = self.peer("tls", cert="wronghost", requiretls=True)
        self.start(dest)
        self.submit()
        m, fields, _, _ = self.bounce()
        self.assertEqual(fields["status"], "5.7.5", fields)
        self.assert_no_mail_at(dest)
        self.assertEqual(len(dest.connections()), 1, "one attempt, never a plaintext retry")
        text = " ".join(m.get_payload()[0].get_payload(decode=True).decode().split())
        self.assertIn("The message was sent with REQUIRETLS", text)
        self.assertIn("send it again without REQUIRETLS", text)

    def test_hop_without_starttls_never_gets_it(self):
        dest = self.peer("plain", requiretls=True)
        self.start(dest)
        self.submit()
        _, fields, _, _ = self.bounce()
        self.assertEqual(fields["status"], "5.7.4", fields)
        self.assert_no_mail_at(dest)

    def test_route_with_tls_none_still_requires_tls_for_it(self):
        dest = self.peer("tls", cert="valid", requiretls=True)
        self.start(dest, tls='tls = "none";')
        self.submit()
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["tls_version"], "TLSv1.3")

    def test_flag_survives_a_restart(self):
        dest = self.peer("tls", cert="valid", requiretls=True, replies={"mail": "451 4.3.0 try later"})
        self.start(dest)
        qid = self.submit()
        self.wait_deferred([qid])
        self.relay.stop()
        dest.stop()
        ok = self.peer("tls", cert="valid", requiretls=True, port=dest.port)
        self.relay.start()
        ok.wait_messages(1, timeout=30)
        self.assertIn("REQUIRETLS", ok.events("mail")[-1]["options"])


class TlsRequiredHeaderTest(RequireTlsBase):
    """RFC 8689 4.2.2: "TLS-Required: No" lets a required route's TLS failure fall back to
    opportunistic delivery, only when the admin says tls_required_header = "honour"."""

    REQUIRED = 'tls = "required"; verify_ca = true; verify_hostname = true;'

    def test_honoured_header_lets_a_wrong_host_certificate_through(self):
        dest = self.peer("tls", cert="wronghost")
        self.start(dest, tls=self.REQUIRED, extra='tls_required_header = "honour";')
        self.submit(requiretls=False, headers="TLS-Required: No\r\n")
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["tls_version"], "TLSv1.3")  # still encrypted where it can be

    def test_header_is_ignored_by_default(self):
        dest = self.peer("tls", cert="wronghost")
        self.start(dest, tls=self.REQUIRED)
        self.submit(requiretls=False, headers="TLS-Required: No\r\n")
        _, fields, _, _ = self.bounce()
        self.assertEqual(fields["status"], "5.7.5", fields)
        self.assertEqual(dest.messages(), [])

    def test_requiretls_wins_over_the_header(self):
        dest = self.peer("tls", cert="wronghost", requiretls=True)
        self.start(dest, tls=self.REQUIRED, extra='tls_required_header = "honour";')
        self.submit(requiretls=True, headers="TLS-Required: No\r\n")
        _, fields, _, _ = self.bounce()
        self.assertEqual(fields["status"], "5.7.5", fields)
        self.assertEqual(dest.messages(), [])


class RequireTlsInboundTest(unittest.TestCase):
    """Our server against Python's smtplib."""

    def setUp(self):
        self.relay = Relay("""
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
routes = ( { name = "out"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; tls = "none"; } );
queue = { path = "QUEUE_DIR"; };
""").start()

    def tearDown(self):
        stop_and_check(self, self.relay)

    def test_offered_only_after_starttls(self):
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("c.example")
            self.assertFalse(s.has_extn("requiretls"))
            s.starttls(context=client_context())
            s.ehlo("c.example")
            self.assertTrue(s.has_extn("requiretls"))

    def test_refused_before_starttls(self):
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("c.example")
            code, text = s.mail("a@sender.example", ["REQUIRETLS"])
            self.assertEqual(code, 530)
            self.assertTrue(text.startswith(b"5.7.10 "), text)
            code, _ = s.mail("a@sender.example")  # the session goes on without it
            self.assertEqual(code, 250)

    def test_accepted_over_tls_and_kept_with_the_message(self):
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("c.example")
            s.starttls(context=client_context())
            s.ehlo("c.example")
            self.assertEqual(s.mail("a@sender.example", ["REQUIRETLS"])[0], 250)
            self.assertEqual(s.rcpt("b@dest.example")[0], 250)
            code, text = s.data(b"Subject: x\r\n\r\nhi\r\n")
            self.assertEqual(code, 250)
            qid = text.decode().split("queued as ")[1].split()[0]
        shown = self.relay.cli("queue", "show", qid)
        self.assertIn("REQUIRETLS", shown.stdout, shown.stdout + shown.stderr)

    def test_parameter_with_a_value_or_twice_is_a_syntax_error(self):
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("c.example")
            s.starttls(context=client_context())
            s.ehlo("c.example")
            self.assertEqual(s.mail("a@sender.example", ["REQUIRETLS=YES"])[0], 501)
            self.assertEqual(s.mail("a@sender.example", ["REQUIRETLS", "REQUIRETLS"])[0], 501)


if __name__ == "__main__":
    unittest.main()
