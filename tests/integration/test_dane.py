"""DANE for SMTP (RFC 7672, SPEC R-DANE) against a real DNSSEC-signed zone and real TLS peers.

The zone test.example. is made and signed in the test (dnssec_zone.py: ldns-keygen/ldns-signzone)
and served by unbound's auth-zone; smarthost's libunbound validates it with the zone's DS as
dns.trust_anchor. insecure.example. is an unsigned zone (no trust anchor covers it: insecure).
The MX hosts are names under *.wild.test.example, which the test PKI's "valid" certificate
carries; an aiosmtpd peer with that certificate plays every TLS MX, a plaintext one plays a host
without STARTTLS. One relay with a route per TLS level serves every case, so the module is fast.

Each case checks the delivery log's dane= word, the message's fate (sent / deferred / bounced)
and that `smarthost test-route --json` reports the same verdict for the host.
"""
import json
import os
import re
import smtplib
import ssl
import time
import unittest

from dns_server import DnsServer
from dnssec_zone import SignedZone, spki_sha256
from relay_fixture import Relay, free_port, testpki
from smtp_peer import SmtpPeer
from test_mta_sts import PolicyServer

WRONG = "00" * 32


def zone_records(tls_port, plain_port, pki):
    leaf = spki_sha256(os.path.join(pki, "valid.pem"), 0)
    issuer = spki_sha256(os.path.join(pki, "valid.pem"), 1)  # issuing-ca, sent in the chain
    rr = []

    def host(name, port, *tlsa):
        rr.append("%s.wild IN A 127.0.0.1" % name)
        for t in tlsa:
            rr.append("_%d._tcp.%s.wild IN TLSA %s" % (port, name, t))

    def domain(dom, mx):
        rr.append("%s IN MX 10 %s" % (dom, mx))

    host("ee-ok", tls_port, "3 1 1 " + leaf, "3 1 1 " + WRONG)
    host("ee-bad", tls_port, "3 1 1 " + WRONG)
    host("ta-ok", tls_port, "2 1 1 " + issuer)
    host("pkix", tls_port, "1 1 1 " + leaf, "0 1 1 " + issuer)
    host("none", tls_port)
    host("bogus", tls_port, "3 1 1 " + leaf)
    # Published, but the relay's resolver cannot fetch it (a black hole): no NSEC record in any
    # cache may prove it absent (libunbound's aggressive NSEC would answer NXDOMAIN itself).
    host("fail", plain_port, "3 1 1 " + leaf)
    host("pkix-plain", plain_port, "1 1 1 " + leaf)
    # DANE-TA needs the name: this host is not in the certificate (*.wild is one label only).
    rr.append("mx.ta-wrong IN A 127.0.0.1")
    rr.append("_%d._tcp.mx.ta-wrong IN TLSA 2 1 1 %s" % (tls_port, issuer))
    # DANE-EE for a name the certificate does not carry: verified by DANE only, never by PKIX.
    rr.append("mx.ee-noname IN A 127.0.0.1")
    rr.append("_%d._tcp.mx.ee-noname IN TLSA 3 1 1 %s" % (tls_port, leaf))
    domain("ee-noname", "mx.ee-noname.test.example.")
    for dom, mx in [("ee-ok", "ee-ok"), ("ee-bad", "ee-bad"), ("ee-bad-only", "ee-bad"),
                    ("ta-ok", "ta-ok"), ("pkix", "pkix"), ("none", "none"), ("none-only", "none"),
                    ("bogus", "bogus"), ("fail", "fail"), ("pkix-plain", "pkix-plain")]:
        domain(dom, "%s.wild.test.example." % mx)
    domain("ta-wrong", "mx.ta-wrong.test.example.")
    # Secure CNAMEs (RFC 7672 2.2.2): the expanded name is the TLSA base domain first (its record
    # matches, the alias's does not), then the alias itself when the target has no TLSA records.
    rr.append("cname-ee.wild IN CNAME ee-target.wild")
    rr.append("ee-target.wild IN A 127.0.0.1")
    rr.append("_%d._tcp.ee-target.wild IN TLSA 3 1 1 %s" % (tls_port, leaf))
    rr.append("_%d._tcp.cname-ee.wild IN TLSA 3 1 1 %s" % (tls_port, WRONG))
    rr.append("cname-back.wild IN CNAME back-target.wild")
    rr.append("back-target.wild IN A 127.0.0.1")
    rr.append("_%d._tcp.cname-back.wild IN TLSA 3 1 1 %s" % (tls_port, leaf))
    domain("cname-ee", "cname-ee.wild.test.example.")
    # DANE-TA through a secure CNAME: the base domain (the target) is not in the certificate, the
    # MX host name is, and it is a reference identifier too (RFC 7672 3.2.3).
    rr.append("cname-ta.wild IN CNAME mx.ta-target")
    rr.append("mx.ta-target IN A 127.0.0.1")
    rr.append("_%d._tcp.mx.ta-target IN TLSA 2 1 1 %s" % (tls_port, issuer))
    domain("cname-ta", "cname-ta.wild.test.example.")
    domain("cname-back", "cname-back.wild.test.example.")
    # An insecure CNAME (its owner is in the unsigned zone) to a host with mismatching TLSA: the
    # address answers are insecure, so neither name's TLSA records count.
    domain("cname-insecure", "mx.cname.insecure.example.")
    # MTA-STS (its policy server's certificate names *.wild.test.example, so the policy domain is
    # wild.test.example): an enforce policy whose mx patterns leave out a host with usable TLSA.
    domain("wild", "ee-ok.wild.test.example.")
    rr.append('_mta-sts.wild IN TXT "v=STSv1; id=1"')
    rr.append("mta-sts.wild IN A 127.0.0.1")
    for dom in ("ee-ok", "ee-bad", "bogus", "none-only", "fail"):  # these want TLS reports (RFC 8460)
        rr.append('_smtp._tls.%s IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s.test.example"' % (dom, dom))
    return rr


CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
address_lists = {
  senders = [ "sender.test.example" ];
  only = [ "ee-bad-only.test.example", "none-only.test.example", "insecure-only.example" ];
  plain = [ "fail.test.example", "pkix-plain.test.example" ];
};
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; },
  { name = "daneonly"; match = [ "only" ]; kind = "mx"; port = %(tls)d; tls = "dane-only"; },
  { name = "daneplain"; match = [ "plain" ]; kind = "mx"; port = %(plain)d; tls = "dane"; },
  { name = "dane"; match = [ "*" ]; kind = "mx"; port = %(tls)d; tls = "dane"; }
);
queue = { path = "QUEUE_DIR"; retry = [ "1h" ]; };
dns = { servers = [ "%(dns)s" ]; timeout = "3s"; dnssec = true; trust_anchor = "%(anchor)s"; };
mta_sts = { enabled = false; };
tlsrpt = { enabled = true; organization = "Example Corp"; contact = "mailto:postmaster@example.com";
           submitter = "relay.test.example"; };
limits = { connect_timeout = "3s"; reply_timeout = "5s"; };
"""


class DaneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = testpki()
        cls.sink = SmtpPeer("plain").start()
        cls.mx = SmtpPeer("tls", cert="valid", requiretls=True).start()
        cls.plain = SmtpPeer("plain").start()
        cls.zone = SignedZone("test.example", zone_records(cls.mx.port, cls.plain.port, cls.pki),
                              tamper=["_%d._tcp.bogus.wild.test.example" % cls.mx.port])
        # The signed zone is served by one unbound, reached through another that also holds the
        # unsigned zone and lets the TLSA lookup of fail.wild time out (a SERVFAIL to the relay).
        cls.auth = DnsServer(auth_zones=[(cls.zone.origin, cls.zone.zonefile)])
        cls.auth.start()
        cls.dns = DnsServer(
            zones=[("insecure.example.", "static"), ("insecure-only.example.", "static")],
            records=["insecure.example. MX 10 ee-bad.wild.test.example.",
                     "mx.cname.insecure.example. CNAME ee-bad.wild.test.example.",
                     "insecure-only.example. MX 10 ee-ok.wild.test.example."],
            forward_zones=[(cls.zone.origin, cls.auth.server)],
            blackhole_zones=["_%d._tcp.fail.wild.test.example." % cls.plain.port])
        cls.dns.start()
        cls.relay = Relay(CONFIG % {"sink": cls.sink.port, "tls": cls.mx.port, "plain": cls.plain.port,
                                    "dns": cls.dns.server, "anchor": cls.zone.trust_anchor}).start()

    @classmethod
    def tearDownClass(cls):
        try:
            rc = cls.relay.stop()
            log = cls.relay.log_text()
            if rc != 0 or "AddressSanitizer" in log or "runtime error" in log:
                raise AssertionError("relay exit %s:\n%s" % (rc, log[-5000:]))
        finally:
            cls.relay.cleanup()
            cls.dns.stop()
            cls.auth.stop()
            cls.zone.cleanup()
            for p in (cls.sink, cls.mx, cls.plain):
                p.cleanup()

    # -- helpers ------------------------------------------------------------------------------

    def send(self, domain):
        r = self.relay.swaks("--from", "alice@sender.test.example", "--to", "bob@%s" % domain)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.split("queued as ")[1].split()[0]

    def delivery(self, qid, status):
        """The delivery log line of message qid with that status (sent, deferred, bounced)."""
        return self.relay.wait_log(r"event=delivery [^\n]*id=%s [^\n]*status=%s[^\n]*" % (qid, status),
                                   timeout=20).group(0)

    def probe(self, route, domain):
        r = self.relay.cli("test-route", route, "--domain", domain, "--json", check=False)
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail("test-route --json printed no JSON:\n%s\n%s" % (r.stdout, r.stderr))

    def agree(self, route, domain, result, matched=None, secure=True):
        """test-route says for the first host what the delivery did (SPEC R-DANE)."""
        rep = self.probe(route, domain)
        hosts = [h for h in rep["hosts"] if h.get("dane")]
        self.assertTrue(hosts, json.dumps(rep, indent=1))
        d = hosts[0]["dane"]
        self.assertEqual(d["result"], result, json.dumps(rep, indent=1))
        self.assertEqual(d["secure"], secure, json.dumps(d))
        if matched is not None:
            self.assertEqual(d["matched"], matched, json.dumps(d))
        return rep

    def bounce_sent(self, qid):
        """The DSN for qid reached the sink (a bounce at once, not a deferral)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for m in self.sink.messages():
                if qid.encode() in (m.get("data") or b""):
                    return m
            time.sleep(0.2)
        self.fail("no DSN for %s at the sink\n%s" % (qid, self.relay.log_text()[-3000:]))

    @staticmethod
    def dsn_text(msg):
        """The DSN's text with its line wrapping undone, to look for whole sentences."""
        return re.sub(r"\s+", " ", msg["data"].decode("utf-8", "replace"))

    def tlsrpt(self, domain):
        day = time.strftime("%Y-%m-%d", time.gmtime())
        r = self.relay.cli("tlsrpt", "show", "--date", day, "--json")
        for rep in json.loads(r.stdout)["reports"]:
            for p in rep["policies"]:
                if p["policy"]["policy-domain"] == domain and p["policy"]["policy-type"] == "tlsa":
                    return p
        return None

    def wait_tlsrpt(self, domain, want):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            p = self.tlsrpt(domain)
            if p and want(p):
                return p
            time.sleep(0.3)
        self.fail("no tlsa policy report for %s as wanted: %s" % (domain, json.dumps(self.tlsrpt(domain))))

    # -- DANE-EE ------------------------------------------------------------------------------

    def test_dane_ee_match_is_verified(self):
        qid = self.send("ee-ok.test.example")
        line = self.delivery(qid, "sent")
        self.assertIn("dane=verified", line)
        self.assertIn("tls=TLS1_3", line)
        leaf = spki_sha256(os.path.join(self.pki, "valid.pem"))
        self.agree("dane", "ee-ok.test.example", "verified", matched="3 1 1 " + leaf)

    def test_dane_ee_mismatch_defers_on_dane(self):
        qid = self.send("ee-bad.test.example")
        line = self.delivery(qid, "deferred")
        self.assertIn("dane=failed", line)
        self.assertIn("dsn=4.7.5", line)
        rep = self.agree("dane", "ee-bad.test.example", "failed", matched=None)
        self.assertEqual(rep["hosts"][0]["dane"]["records"], ["3 1 1 " + WRONG])

    def test_dane_ee_mismatch_bounces_on_dane_only(self):
        qid = self.send("ee-bad-only.test.example")
        line = self.delivery(qid, "bounced")
        self.assertIn("dane=failed", line)
        self.assertIn("dsn=5.7.5", line)
        # The DSN says in words what DANE found and who must fix it (not the PKIX advice).
        text = self.dsn_text(self.bounce_sent(qid))
        self.assertIn("The TLSA records of ee-bad.wild.test.example do not match the certificate it presented",
                      text)
        self.assertIn("must update the TLSA records or the certificate", text)
        self.assertIn('dane_fallback = "opportunistic"', text)
        self.assertNotIn("verify_hostname = false", text)
        self.agree("daneonly", "ee-bad-only.test.example", "failed")

    # -- DANE-TA ------------------------------------------------------------------------------

    def test_dane_ta_with_the_right_name_is_verified(self):
        qid = self.send("ta-ok.test.example")
        self.assertIn("dane=verified", self.delivery(qid, "sent"))
        issuer = spki_sha256(os.path.join(self.pki, "valid.pem"), 1)
        self.agree("dane", "ta-ok.test.example", "verified", matched="2 1 1 " + issuer)

    def test_dane_ta_with_a_wrong_name_fails(self):
        qid = self.send("ta-wrong.test.example")
        line = self.delivery(qid, "deferred")
        self.assertIn("dane=failed", line)
        self.assertIn("does not name the host", self.relay.log_text())
        self.agree("dane", "ta-wrong.test.example", "failed")

    # -- unusable, none, insecure -------------------------------------------------------------

    def test_usage_0_and_1_only_is_unusable_but_encrypted(self):
        qid = self.send("pkix.test.example")
        line = self.delivery(qid, "sent")
        self.assertIn("dane=unusable", line)
        self.assertIn("tls=TLS1_3", line)
        self.agree("dane", "pkix.test.example", "unusable")

    def test_unusable_records_make_tls_mandatory(self):
        qid = self.send("pkix-plain.test.example")
        line = self.delivery(qid, "deferred")
        self.assertIn("dane=unusable", line)
        self.assertIn("did not offer STARTTLS", line)
        self.assertFalse([m for m in self.plain.messages() if qid.encode() in (m.get("data") or b"")])
        self.agree("daneplain", "pkix-plain.test.example", "unusable")

    def test_secure_no_tlsa_falls_back_to_opportunistic(self):
        qid = self.send("none.test.example")
        self.assertIn("dane=no-tlsa", self.delivery(qid, "sent"))
        self.agree("dane", "none.test.example", "no-tlsa")

    def test_no_tlsa_on_dane_only_bounces(self):
        qid = self.send("none-only.test.example")
        line = self.delivery(qid, "bounced")
        self.assertIn("dane=no-tlsa", line)
        text = self.dsn_text(self.bounce_sent(qid))
        self.assertIn("none.wild.test.example has no DNSSEC-signed, usable TLSA records", text)
        self.agree("daneonly", "none-only.test.example", "no-tlsa")

    def test_insecure_mx_ignores_tlsa_and_uses_the_fallback(self):
        # The MX host has a mismatching secure TLSA record, but the MX answer is insecure.
        qid = self.send("insecure.example")
        line = self.delivery(qid, "sent")
        self.assertIn("dane=insecure", line)
        self.agree("dane", "insecure.example", "insecure", secure=False)

    def test_insecure_mx_on_dane_only_bounces(self):
        qid = self.send("insecure-only.example")
        self.assertIn("dane=insecure", self.delivery(qid, "bounced"))
        self.agree("daneonly", "insecure-only.example", "insecure", secure=False)

    # -- CNAMEs: the TLSA base domain (RFC 7672 2.2.2, RFC 7671 7) -------------------------------

    def test_secure_cname_target_is_the_tlsa_base_domain(self):
        qid = self.send("cname-ee.test.example")
        line = self.delivery(qid, "sent")
        self.assertIn("dane=verified", line)
        leaf = spki_sha256(os.path.join(self.pki, "valid.pem"))
        rep = self.agree("dane", "cname-ee.test.example", "verified", matched="3 1 1 " + leaf)
        self.assertIn("_%d._tcp.ee-target.wild.test.example" % self.mx.port, rep["hosts"][0]["dane"]["state"])
        # RFC 7672 8.1: the SNI name is the TLSA base domain.
        snis = [e.get("sni") for e in self.mx.events("starttls")]
        self.assertIn("ee-target.wild.test.example", snis)

    def test_secure_cname_without_target_tlsa_falls_back_to_the_alias(self):
        qid = self.send("cname-back.test.example")
        self.assertIn("dane=verified", self.delivery(qid, "sent"))
        rep = self.agree("dane", "cname-back.test.example", "verified")
        self.assertIn("_%d._tcp.cname-back.wild.test.example" % self.mx.port, rep["hosts"][0]["dane"]["state"])

    def test_dane_ta_through_a_cname_accepts_the_mx_host_name(self):
        qid = self.send("cname-ta.test.example")
        self.assertIn("dane=verified", self.delivery(qid, "sent"))
        issuer = spki_sha256(os.path.join(self.pki, "valid.pem"), 1)
        rep = self.agree("dane", "cname-ta.test.example", "verified", matched="2 1 1 " + issuer)
        self.assertIn("_%d._tcp.mx.ta-target.test.example" % self.mx.port, rep["hosts"][0]["dane"]["state"])

    def test_insecure_cname_gets_no_dane(self):
        qid = self.send("cname-insecure.test.example")
        self.assertIn("dane=insecure", self.delivery(qid, "sent"))
        self.agree("dane", "cname-insecure.test.example", "insecure", secure=False)

    # -- DANE beats MTA-STS (RFC 8461 2) ---------------------------------------------------------

    def test_mta_sts_enforce_does_not_exclude_a_host_with_usable_tlsa(self):
        https = PolicyServer(free_port(), os.path.join(self.pki, "valid.pem"), os.path.join(self.pki, "valid.key"))
        https.policy = "version: STSv1\r\nmode: enforce\r\nmx: other.test.example\r\nmax_age: 86400\r\n"
        https.start()
        cfg = CONFIG % {"sink": self.sink.port, "tls": self.mx.port, "plain": self.plain.port,
                        "dns": self.dns.server, "anchor": self.zone.trust_anchor}
        cfg = cfg.replace("mta_sts = { enabled = false; };",
                          'mta_sts = { enabled = true; https_port = %d; fetch_timeout = "5s"; };' % https.port)
        relay = Relay(cfg).start()
        try:
            r = relay.swaks("--from", "alice@sender.test.example", "--to", "bob@wild.test.example")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            qid = r.stdout.split("queued as ")[1].split()[0]
            line = relay.wait_log(r"event=delivery [^\n]*id=%s [^\n]*status=\w+[^\n]*" % qid, timeout=20).group(0)
            self.assertIn("status=sent", line)
            self.assertIn("dane=verified", line)
            self.assertTrue(https.requests, "the policy was never fetched")
            out = relay.cli("route-for", "bob@wild.test.example").stdout
            self.assertIn("mta-sts: MTA-STS enforce", out)
            self.assertIn("DANE takes precedence (RFC 8461 2)", out)
        finally:
            rc = relay.stop()
            log = relay.log_text()
            relay.cleanup()
            https.stop()
        self.assertEqual(rc, 0, log[-3000:])
        self.assertNotIn("AddressSanitizer", log)

    # -- route-for shows the DANE level -------------------------------------------------------

    def test_route_for_shows_the_dane_level(self):
        out = self.relay.cli("route-for", "bob@ee-ok.test.example").stdout
        self.assertIn("tls: dane (hosts without secure usable TLSA records: dane_fallback opportunistic)", out)
        self.assertIn("dane: usable: secure TLSA records at _%d._tcp.ee-ok.wild.test.example" % self.mx.port, out)
        out = self.relay.cli("route-for", "bob@none-only.test.example").stdout
        self.assertIn("tls: dane-only (hosts without secure usable TLSA records: not tried)", out)
        self.assertIn("dane: no-tlsa:", out)
        out = self.relay.cli("route-for", "bob@insecure.example").stdout
        self.assertIn("dane: insecure:", out)

    # -- REQUIRETLS (RFC 8689): a DANE match is verified TLS ------------------------------------

    def test_requiretls_message_goes_over_a_dane_verified_session(self):
        # The host name is not in the certificate: PKIX with the name would refuse it.
        ctx = ssl.create_default_context(cafile=os.path.join(self.pki, "ca-bundle.pem"))
        ctx.check_hostname = False
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            s.ehlo("client.sender.test.example")
            s.starttls(context=ctx)
            s.ehlo("client.sender.test.example")
            self.assertEqual(s.mail("alice@sender.test.example", ["REQUIRETLS"])[0], 250)
            self.assertEqual(s.rcpt("bob@ee-noname.test.example")[0], 250)
            code, text = s.data(b"From: alice@sender.test.example\r\nSubject: rt\r\n\r\nbody\r\n")
            self.assertEqual(code, 250, text)
            qid = text.decode().split("queued as ")[1].split()[0]
        line = self.delivery(qid, "sent")
        self.assertIn("dane=verified", line)
        self.assertIn("verify=Trusted", line)  # PKIX alone: the name does not match
        mails = [e for e in self.mx.events("mail") if "REQUIRETLS" in e.get("options", [])]
        self.assertTrue(mails, self.mx.events("mail"))

    # -- configuration (issue 16 item 6) ----------------------------------------------------------

    def test_check_config_refuses_dane_without_dnssec_or_anchor(self):
        base = CONFIG % {"sink": self.sink.port, "tls": self.mx.port, "plain": self.plain.port,
                         "dns": self.dns.server, "anchor": self.zone.trust_anchor}
        for dns, want in (
                ('dns = { servers = [ "%s" ]; };' % self.dns.server,
                 r'smarthost.cfg:\d+: routes\[1\].tls: "dane-only" needs dns.dnssec = true'),
                ('dns = { servers = [ "%s" ]; dnssec = true; trust_anchor = "/nonexistent.key"; };' % self.dns.server,
                 r"smarthost.cfg:\d+: dns.trust_anchor: cannot read '/nonexistent.key'")):
            text = "\n".join(dns if l.startswith("dns = ") else l for l in base.split("\n"))
            relay = Relay(text)
            try:
                for cmd in ("check-config", "run"):
                    r = relay.cli(cmd, check=False)  # run refuses before it listens
                    self.assertNotEqual(r.returncode, 0, cmd + ": " + r.stderr)
                    self.assertRegex(r.stderr, want)
            finally:
                relay.cleanup()

    # -- TLS-RPT (RFC 8460): policy-type "tlsa" ----------------------------------------------

    def test_tlsrpt_counts_dane_sessions_under_tlsa(self):
        leaf = spki_sha256(os.path.join(self.pki, "valid.pem"))
        for dom in ("ee-ok", "ee-bad", "bogus", "none-only", "fail"):
            self.send("%s.test.example" % dom)
        ok = self.wait_tlsrpt("ee-ok.test.example",
                              lambda p: p["summary"]["total-successful-session-count"] >= 1)
        self.assertEqual(sorted(ok["policy"]["policy-string"]), sorted(["3 1 1 " + leaf, "3 1 1 " + WRONG]))
        self.assertEqual(ok["policy"]["mx-host"], ["ee-ok.wild.test.example"])
        # A TLSA lookup that times out (SERVFAIL to the relay) returned no valid records:
        # "dnssec-invalid" (RFC 8460 4.3.2.1), like a bogus answer.
        for dom, kind in (("ee-bad", "tlsa-invalid"), ("bogus", "dnssec-invalid"),
                          ("none-only", "dane-required"), ("fail", "dnssec-invalid")):
            p = self.wait_tlsrpt("%s.test.example" % dom, lambda p: p.get("failure-details"))
            self.assertEqual({d["result-type"] for d in p["failure-details"]}, {kind}, json.dumps(p))

    # -- DNS trouble: defer, never plaintext --------------------------------------------------

    def test_bogus_tlsa_defers(self):
        qid = self.send("bogus.test.example")
        line = self.delivery(qid, "deferred")
        self.assertIn("dane=bogus", line)
        self.assertIn("DNSSEC", line)
        self.agree("dane", "bogus.test.example", "bogus", secure=False)

    def test_tlsa_servfail_defers_and_never_sends_in_plaintext(self):
        qid = self.send("fail.test.example")
        line = self.delivery(qid, "deferred")
        self.assertIn("TLSA lookup failed", line)
        self.assertFalse([m for m in self.plain.messages() if qid.encode() in (m.get("data") or b"")])
        self.agree("daneplain", "fail.test.example", "bogus", secure=False)


if __name__ == "__main__":
    unittest.main()
