"""test_intl.py - internationalised and 8-bit mail end to end (SPEC R-INTL, issue 15).

Clients and servers we did not write: Python's smtplib sends with SMTPUTF8; the next hop is
aiosmtpd (smtp_peer.SmtpPeer, enable_SMTPUTF8 on or off) or a real Postfix smtpd
(smtp_peer.PostfixPeer: smtputf8_enable yes/no, or smtpd_discard_ehlo_keywords = 8bitmime) that
relays on to an aiosmtpd capture. DNS (unbound, dns_server.py) knows the IDN domain only in its
A-label form, so a delivery to jörg@bücher.example proves the domain was converted before DNS.
DSNs land in an aiosmtpd sink for the sender's domain and are read with Python's email package.
"""
import email
import email.policy
import json
import smtplib
import time
import unittest

from dns_server import DnsServer
from relay_fixture import Relay, stop_and_check
from smtp_peer import PostfixPeer, SmtpPeer, down_port

SENDER = "alice@sender.test.example"
JOERG = "j\u00f6rg@b\u00fccher.example"          # jörg@bücher.example
ASCII_RCPT = "bob@xn--bcher-kva.example"         # same domain, A-label: plain ASCII

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
dns = { servers = [ "%(dns)s" ]; timeout = "2s"; };
mta_sts = { enabled = false; };
address_lists = { senders = [ "sender.test.example" ]; idn = [ "b\u00fccher.example" ];
                  other = [ "other.test.example" ]; };
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; },
  { name = "idn"; match = [ "idn" ]; kind = "mx"; port = %(port)d; tls = "none"; },
  { name = "other"; match = [ "other" ]; kind = "host"; host = "%(other_host)s"; port = %(other)d; tls = "none"; }
);
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; };
limits = { connect_timeout = "3s"; reply_timeout = "5s"; };
"""


def message(subject="Gr\u00fc\u00dfe", to=JOERG, body="Hall\u00f6 J\u00f6rg, \u4f60\u597d.\r\n"):
    """An RFC 6532 message: UTF-8 in headers and body, CRLF line ends, as bytes."""
    text = ("From: Alice <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <intl.1@sender.test.example>\r\n"
            "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "\r\n%s" % (SENDER, to, subject, body))
    return text.encode("utf-8")


class IntlBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(zones=[("test.example.", "static"), ("xn--bcher-kva.example.", "static")], records=[
            "mail.test.example. A 127.0.0.1",
            "xn--bcher-kva.example. MX 10 mail.test.example.",
            "gw.xn--bcher-kva.example. A 127.0.0.1",
        ])
        cls.dns.start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def setUp(self):
        self.peers = []
        self.relay = None
        self.sink = self.peer(SmtpPeer("plain"))

    def tearDown(self):
        for p in self.peers:
            p.cleanup()
        if self.relay:
            stop_and_check(self, self.relay)

    def peer(self, p):
        p.start()
        self.peers.append(p)
        return p

    def config(self, port, other=None, other_host="127.0.0.1"):
        return CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "port": port,
                         "other": other or down_port(), "other_host": other_host}

    def start_relay(self, port, other=None, other_host="127.0.0.1"):
        self.relay = Relay(self.config(port, other, other_host)).start()
        return self.relay

    def send(self, rcpts, msg, options=("SMTPUTF8", "BODY=8BITMIME"), sender=SENDER):
        """Python's smtplib as the client (it refuses SMTPUTF8 unless the server offers it)."""
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("smtputf8"), s.esmtp_features)
            refused = s.sendmail(sender, rcpts, msg, mail_options=list(options))
            self.assertEqual(refused, {})

    def words(self, part):
        """A text part's words, re-joined: the relay wraps lines anywhere between words."""
        return " ".join(part.get_content().split())

    def sessions(self, pf):
        """Postfix's finished smtpd sessions, once its log shows one (bounded wait)."""
        deadline = time.monotonic() + 15
        while not pf.sessions() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertTrue(pf.sessions(), pf.log())
        return pf.sessions()

    def dsn(self, timeout=30):
        """The one DSN that reached the sender's sink, parsed by Python's email package."""
        msgs = self.sink.wait_messages(1, timeout=timeout)
        self.assertIn(msgs[0]["mail_from"], ("", "<>"))
        m = email.message_from_bytes(msgs[0]["data"], policy=email.policy.default)
        self.assertEqual(m.get_content_type(), "multipart/report")
        for part in m.walk():
            self.assertEqual(part.defects, [], part.get_content_type())
        return m, msgs[0]

    def wait_queue_empty(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.relay.queue_list():
                return
            time.sleep(0.2)
        self.fail("queue not empty: %s\n%s" % (self.relay.queue_list(), self.relay.log_text()))


class InboundTest(IntlBase):
    def test_smtputf8_offered_and_utf8_addresses_checked(self):
        self.start_relay(down_port())
        c = self.relay.client()
        c.reply()
        code, text = c.cmd("EHLO client.example")
        self.assertIn("SMTPUTF8", [line[4:] for line in text.split("\n")])
        # Without SMTPUTF8 on MAIL: 553 5.6.7 (RFC 6531 3.5), for sender and recipient alike.
        code, text = c.cmd("MAIL FROM:<%s>" % JOERG)
        self.assertTrue(text.startswith("553 5.6.7 "), text)
        self.assertEqual(c.cmd("MAIL FROM:<%s>" % SENDER)[0], 250)
        code, text = c.cmd("RCPT TO:<%s>" % JOERG)
        self.assertTrue(text.startswith("553 5.6.7 "), text)
        self.assertEqual(c.cmd("RSET")[0], 250)
        # With it: UTF-8 addresses are taken, bad UTF-8 is refused with 501 5.6.7.
        self.assertEqual(c.cmd("MAIL FROM:<%s> SMTPUTF8" % "j\u00f6rg@sender.test.example"), (250, "250 2.1.0 Ok"))
        self.assertEqual(c.cmd("RCPT TO:<%s>" % JOERG)[0], 250)
        for bad in (b"j\xc0\xafrg@b\xc3\xbccher.example",      # overlong "/"
                    b"j\xed\xa0\x80rg@b\xc3\xbccher.example",      # surrogate
                    b"j\xc2\x85rg@b\xc3\xbccher.example",          # C1 control
                    b"j\xf6rg@b\xc3\xbccher.example"):             # Latin-1, not UTF-8
            c.send(b"RCPT TO:<" + bad + b">\r\n")
            code, text = c.reply()
            self.assertTrue(text.startswith("501 5.6.7 "), (bad, text))
        c.cmd("QUIT")
        c.close()


class SmtpUtf8HopTest(IntlBase):
    def test_aiosmtpd_with_smtputf8_gets_it_byte_exact(self):
        peer = self.peer(SmtpPeer("plain", smtputf8=True))
        self.start_relay(peer.port)
        msg = message()
        self.send([JOERG], msg)
        got = peer.wait_messages(1, timeout=30)[0]
        self.assertEqual(got["rcpt_tos"], [JOERG])
        mail = peer.events("mail")[0]
        self.assertIn("SMTPUTF8", mail["options"])
        self.assertIn("BODY=8BITMIME", mail["options"])
        self.assertTrue(got["data"].startswith(b"Received: from client.example"), got["data"][:300])
        self.assertIn(b"with UTF8SMTP id", got["data"])
        self.assertTrue(got["data"].endswith(msg), got["data"])
        self.wait_queue_empty()
        # The log shows the address readably (UTF-8, not escaped).
        self.assertIn("rcpt=<%s>" % JOERG, self.relay.log_text())
        self.assertEqual(self.sink.messages(), [])

    def test_flag_survives_in_the_queue_across_a_restart(self):
        self.start_relay(down_port())
        self.send([JOERG], message())
        listed = self.relay.queue_list()[0]
        qid = listed["id"]
        self.assertTrue(listed["smtputf8"])
        self.assertEqual(listed["recipients"][0]["address"], JOERG)
        show = self.relay.cli("queue", "show", qid).stdout
        self.assertIn("smtputf8: yes", show)
        self.assertIn("recipient: <%s>" % JOERG, show)
        self.assertEqual(self.relay.stop(), 0)
        peer = self.peer(SmtpPeer("plain", smtputf8=True))
        self.relay.write_config(self.config(peer.port))
        self.relay.start()
        self.relay.cli("queue", "flush")
        peer.wait_messages(1, timeout=30)
        self.assertIn("SMTPUTF8", peer.events("mail")[0]["options"])


class NoSmtpUtf8HopTest(IntlBase):
    def test_utf8_recipient_bounces_567_ascii_recipient_still_goes(self):
        self.mixed_recipients(pipelining=True)

    def test_same_to_a_hop_without_pipelining(self):
        self.mixed_recipients(pipelining=False)

    def mixed_recipients(self, pipelining):
        peer = self.peer(SmtpPeer("plain", smtputf8=False, pipelining=pipelining))
        self.start_relay(peer.port)
        msg = message(subject="plain subject", to=ASCII_RCPT, body="plain body\r\n")
        self.send([JOERG, ASCII_RCPT], msg)
        got = peer.wait_messages(1, timeout=30)[0]
        self.assertEqual(got["rcpt_tos"], [ASCII_RCPT])
        self.assertEqual([e["address"] for e in peer.events("rcpt")], [ASCII_RCPT])  # no RCPT for jörg
        self.assertNotIn("SMTPUTF8", peer.events("mail")[0]["options"])
        m, raw = self.dsn()
        self.assertEqual(m.get_param("report-type"), "global-delivery-status")
        human, status = m.get_payload()[0], m.get_payload()[1]
        self.assertEqual(status.get_content_type(), "message/global-delivery-status")
        text = raw["data"].decode("utf-8")
        self.assertIn("Final-Recipient: utf-8; %s" % JOERG, text)
        self.assertIn("Status: 5.6.7", text)
        self.assertNotIn("Diagnostic-Code", text)        # the host never replied about it
        words = self.words(human)
        self.assertIn("SMTPUTF8", words)
        self.assertIn("internationalised", words)
        self.assertIn(JOERG, words)
        self.wait_queue_empty()
        log = self.relay.log_text()
        self.assertIn("dsn=5.6.7", log)

    def test_ascii_envelope_with_utf8_headers_needs_smtputf8(self):
        peer = self.peer(SmtpPeer("plain", smtputf8=False))
        self.start_relay(peer.port)
        doc = json.loads(self.relay.cli("test-route", "idn", "--domain", "xn--bcher-kva.example", "--json").stdout)
        self.assertFalse(doc["hosts"][0]["smtputf8_offered"])
        out = self.relay.cli("test-route", "idn", "--domain", "xn--bcher-kva.example").stdout
        self.assertIn("mail that needs it would bounce (5.6.7)", out)
        self.send([ASCII_RCPT], message(to=ASCII_RCPT))
        m, raw = self.dsn()
        self.assertEqual(peer.events("mail"), [])
        text = raw["data"].decode("utf-8")
        self.assertIn("Status: 5.6.7", text)
        self.assertIn("Final-Recipient: rfc822; %s" % ASCII_RCPT, text)
        parts = m.get_payload()
        self.assertEqual(parts[2].get_content_type(), "message/global-headers")
        self.assertIn("UTF-8 in its header section", self.words(parts[0]))


class PostfixHopTest(IntlBase):
    def postfix(self, **settings):
        capture = self.peer(SmtpPeer("plain", smtputf8=True))
        return self.peer(PostfixPeer(capture.port, settings)), capture

    def test_postfix_smtputf8_yes_relays_it(self):
        pf, capture = self.postfix(smtputf8_enable="yes")
        self.start_relay(pf.port)
        msg = message()
        self.send([JOERG], msg)
        got = capture.wait_messages(1, timeout=60)[0]
        self.assertEqual(got["rcpt_tos"], [JOERG])
        self.assertIn("SMTPUTF8", capture.events("mail")[0]["options"])
        self.assertTrue(got["data"].endswith(msg), got["data"])
        self.assertIn(b"with UTF8SMTP id", got["data"])   # our Received, kept by Postfix
        self.wait_queue_empty()

    def test_postfix_smtputf8_no_bounces_567_other_recipient_still_goes(self):
        pf, capture = self.postfix(smtputf8_enable="no")
        self.start_relay(pf.port)
        msg = message(subject="plain subject", to=ASCII_RCPT)
        self.send([JOERG, ASCII_RCPT], msg)
        got = capture.wait_messages(1, timeout=60)[0]
        self.assertEqual(got["rcpt_tos"], [ASCII_RCPT])
        self.assertTrue(got["data"].endswith(msg))
        m, raw = self.dsn()
        text = raw["data"].decode("utf-8")
        self.assertIn("Final-Recipient: utf-8; %s" % JOERG, text)
        self.assertIn("Status: 5.6.7", text)
        self.assertIn("did not offer SMTPUTF8", self.words(m.get_payload()[0]))
        self.wait_queue_empty()
        # Postfix got one MAIL and exactly one RCPT (the ASCII one): none for the UTF-8 address,
        # and no SMTPUTF8 parameter it did not offer.
        sessions = self.sessions(pf)
        self.assertEqual([(s.get("mail"), s.get("rcpt")) for s in sessions], [("1", "1")], pf.log())
        self.assertNotIn("SMTPUTF8", capture.events("mail")[0]["options"])

    def test_postfix_without_8bitmime_bounces_563_other_hop_still_gets_it(self):
        pf, capture = self.postfix(smtpd_discard_ehlo_keywords="8bitmime")
        other = self.peer(SmtpPeer("plain"))
        self.start_relay(pf.port, other=other.port)
        msg = message(subject="plain subject", to=ASCII_RCPT)   # ASCII headers, UTF-8 body
        self.send([ASCII_RCPT, "carol@other.test.example"], msg, options=("BODY=8BITMIME",))
        got = other.wait_messages(1, timeout=30)[0]
        self.assertEqual(got["rcpt_tos"], ["carol@other.test.example"])
        self.assertTrue(got["data"].endswith(msg))
        m, raw = self.dsn()
        text = raw["data"].decode("utf-8")
        self.assertEqual(m.get_param("report-type"), "delivery-status")    # nothing international
        self.assertIn("Final-Recipient: rfc822; %s" % ASCII_RCPT, text)
        self.assertIn("Status: 5.6.3", text)
        self.assertIn("did not offer 8BITMIME", self.words(m.get_payload()[0]))
        self.wait_queue_empty()
        sessions = self.sessions(pf)
        self.assertTrue(all("mail" not in s for s in sessions), sessions)   # never 8-bit to it
        self.assertEqual(capture.messages(), [])


class RouteForTest(IntlBase):
    def test_route_host_given_as_u_label_is_looked_up_as_a_labels(self):
        peer = self.peer(SmtpPeer("plain"))
        self.start_relay(down_port(), other=peer.port, other_host="gw.b\u00fccher.example")
        out = self.relay.cli("route-for", "carol@other.test.example").stdout
        self.assertIn("AAAA/A gw.xn--bcher-kva.example", out)
        self.send(["carol@other.test.example"], message(subject="plain", to="carol@other.test.example"),
                  options=("BODY=8BITMIME",))
        self.assertEqual(peer.wait_messages(1, timeout=30)[0]["rcpt_tos"], ["carol@other.test.example"])
        self.wait_queue_empty()

    def test_route_for_and_test_route_take_either_form_and_print_both(self):
        peer = self.peer(SmtpPeer("plain"))
        self.start_relay(peer.port)
        for addr in (JOERG, ASCII_RCPT):
            out = self.relay.cli("route-for", addr).stdout
            self.assertIn("route: idn", out)
            self.assertIn("xn--bcher-kva.example (U-label b\u00fccher.example)", out)
            self.assertIn("MX xn--bcher-kva.example", out)
        for dom in ("b\u00fccher.example", "xn--bcher-kva.example", "B\u00dcCHER.example"):
            r = self.relay.cli("test-route", "idn", "--domain", dom, "--json")
            doc = json.loads(r.stdout)
            self.assertEqual(doc["domain"], "xn--bcher-kva.example")
            self.assertEqual(doc["domain_unicode"], "b\u00fccher.example")
            out = self.relay.cli("test-route", "idn", "--domain", dom).stdout
            self.assertIn("domain: xn--bcher-kva.example (U-label b\u00fccher.example)", out)
        self.assertIn("smtputf8", out)
        self.assertTrue(doc["hosts"][0]["smtputf8_offered"])
        self.assertTrue(doc["hosts"][0]["eightbitmime_offered"])
        r = self.relay.cli("test-route", "idn", "--domain", "xn--zz.example", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("punycode", r.stderr.lower())


if __name__ == "__main__":
    unittest.main()
