"""test_mta_sts_delivery.py - MTA-STS enforced during delivery, and TLS-RPT counting.

Real peers on loopback: unbound serves `_mta-sts.wild.test.example` and the MX records; the HTTPS
policy server from test_mta_sts.py serves the policy (its certificate names *.wild.test.example);
aiosmtpd peers play the MX with good or bad certificates. The route is an opportunistic `mx`
route: only the policy makes TLS required, so failures must defer (RFC 8461 5.1), never bounce.
"""
import gzip
import json
import os
import re
import time
import unittest

from dns_server import DnsServer
from relay_fixture import Relay, free_port, testpki
from smtp_peer import SmtpPeer
from test_mta_sts import DOMAIN, PolicyServer

HTTPS_PORT = free_port()

RECORDS = [
    '_mta-sts.%s. TXT "v=STSv1; id=20261123T170000"' % DOMAIN,
    # The mailto: rua is on the policy domain itself: the report's own delivery meets the policy.
    '_smtp._tls.%s. TXT "v=TLSRPTv1; rua=https://mta-sts.%s:%d/tlsrpt,mailto:tlsrpt@%s"'
    % (DOMAIN, DOMAIN, HTTPS_PORT, DOMAIN),
    "mta-sts.%s. A 127.0.0.1" % DOMAIN,
    "%s. MX 10 mx1.test.example." % DOMAIN,
    "mx1.test.example. A 127.0.0.1",
    # No MTA-STS policy, but TLS reports wanted: sessions count as "no-policy-found".
    "nosts.test.example. MX 10 mx1.test.example.",
    '_smtp._tls.nosts.test.example. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@nosts.test.example"',
]

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
address_lists = { senders = [ "sender.test.example" ]; };
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; },
  { name = "internet"; match = [ "*" ]; kind = "mx"; port = %(mx_port)d; tls = "opportunistic"; }
);
queue = { path = "QUEUE_DIR"; retry = [ "1h" ]; };
dns = { servers = [ "%(dns)s" ]; timeout = "3s"; };
mta_sts = { enabled = true; https_port = %(https)d; fetch_timeout = "5s"; };
tlsrpt = { enabled = true; organization = "Example Corp"; contact = "mailto:postmaster@example.com";
           submitter = "relay.test.example"; };
limits = { connect_timeout = "3s"; reply_timeout = "5s"; };
"""


def policy(mode, *mx):
    return "version: STSv1\r\nmode: %s\r\n%smax_age: 86400\r\n" % (mode, "".join("mx: %s\r\n" % m for m in mx))


class MtaStsDeliveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = testpki()
        cls.dns = DnsServer(zones=[("test.example.", "static")], records=RECORDS)
        cls.dns.start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def setUp(self):
        self.peers = []
        self.sink = self.peer("plain")
        self.https_port = HTTPS_PORT
        self.https = None
        self.relay = None

    def tearDown(self):
        if self.https:
            self.https.stop()
        for p in self.peers:
            p.cleanup()
        if self.relay:
            rc = self.relay.stop()
            log = self.relay.log_text()
            self.relay.cleanup()
            self.assertEqual(rc, 0, log)
            self.assertNotIn("AddressSanitizer", log)

    def peer(self, mode, **kw):
        p = SmtpPeer(mode, **kw).start()
        self.peers.append(p)
        return p

    def serve(self, text):
        self.https = PolicyServer(self.https_port, os.path.join(self.pki, "valid.pem"),
                                  os.path.join(self.pki, "valid.key"))
        self.https.policy = text
        self.https.start()

    def start(self, mx, dns=None):
        cfg = CONFIG % {"sink": self.sink.port, "mx_port": mx.port, "dns": (dns or self.dns).server,
                        "https": self.https_port}
        self.relay = Relay(cfg).start()

    def send(self, domain=DOMAIN):
        r = self.relay.swaks("--from", "alice@sender.test.example", "--to", "bob@%s" % domain)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.split("queued as ")[1].split()[0]

    def wait_state(self, qid, state, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = [m for m in self.relay.queue_list() if m["id"] == qid]
            if msgs and msgs[0]["recipients"][0]["state"] == state:
                return msgs[0]["recipients"][0]
            if not msgs and state == "gone":
                return None
            time.sleep(0.2)
        self.fail("message %s never %s: %s\n%s" % (qid, state, self.relay.queue_list(), self.relay.log_text()))

    def tlsrpt(self, domain=DOMAIN):
        day = time.strftime("%Y-%m-%d", time.gmtime())
        r = self.relay.cli("tlsrpt", "show", "--date", day, "--json")
        reports = [rep for rep in json.loads(r.stdout)["reports"]
                   if rep["policies"][0]["policy"]["policy-domain"] == domain]
        return reports[0] if reports else None

    def test_enforce_with_a_valid_certificate_delivers_and_counts_success(self):
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        qid = self.send()
        msgs = mx.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["tls_version"], "TLSv1.3")
        self.wait_state(qid, "gone")
        # The policy line names the message it applied to (issue 14 item 1).
        self.assertRegex(self.relay.log_text(), r"event=mta-sts id=%s route=\S+ domain=\S+ policy=" % qid)
        rep = self.tlsrpt()
        self.assertEqual(rep["policies"][0]["policy"]["policy-type"], "sts")
        self.assertEqual(rep["policies"][0]["summary"]["total-successful-session-count"], 1)

    def test_tlsrpt_report_is_posted_by_https(self):
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        self.send()
        mx.wait_messages(1, timeout=20)
        r = self.relay.cli("tlsrpt", "send", check=False)
        self.assertIn("posted (HTTP 200)", r.stdout, r.stdout + r.stderr)
        path, ctype, body = self.https.posts[0]
        self.assertEqual(path, "/tlsrpt")
        self.assertEqual(ctype, "application/tlsrpt+gzip")
        rep = json.loads(gzip.decompress(body))
        self.assertEqual(rep["organization-name"], "Example Corp")
        self.assertEqual(rep["policies"][0]["policy"]["policy-domain"], DOMAIN)
        self.assertEqual(rep["policies"][0]["summary"]["total-successful-session-count"], 1)

    def test_tlsrpt_report_by_mail_is_never_counted_itself(self):
        """The report is recognised by its origin (not its HELO): delivered under the same policy,
        its own session is not counted (RFC 8460 section 3: no report loops)."""
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        self.wait_state(self.send(), "gone")
        mx.wait_events("quit", 1, timeout=10)  # the idle connection ended: the report needs its own
        r = self.relay.cli("tlsrpt", "send", check=False)
        self.assertIn("report to <tlsrpt@%s> queued as " % DOMAIN, r.stdout, r.stdout + r.stderr)
        qid = r.stdout.split("queued as ")[1].split()[0]
        self.assertIn("the relay is sending", r.stdout)  # woken at once: no flush, no minute's rescan
        msgs = mx.wait_messages(2, timeout=20)
        self.assertEqual(msgs[1]["rcpt_tos"], ["tlsrpt@%s" % DOMAIN])
        self.assertIn(b"TLS-Report-Domain: %s" % DOMAIN.encode(), msgs[1]["data"])
        self.assertEqual(msgs[1]["tls_version"], "TLSv1.3")
        self.assertNotEqual(msgs[1]["conn"], msgs[0]["conn"])  # a session of its own: it would count
        self.wait_state(qid, "gone")
        rep = self.tlsrpt()
        self.assertEqual(rep["policies"][0]["summary"]["total-successful-session-count"], 1, rep)

    def test_enforce_with_mx_not_in_policy_is_not_delivered_and_defers(self):
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx9.test.example"))
        self.start(mx)
        qid = self.send()
        r = self.wait_state(qid, "deferred")
        self.assertEqual(r["dsn_status"], "4.7.5")
        self.assertEqual(mx.connections(), [])
        self.assertEqual(self.sink.messages(), [])  # deferred, not bounced
        # Counted as a failed session (RFC 8460 4.3.2.3 validation-failure), naming the MX.
        rep = self.tlsrpt()
        self.assertEqual(rep["policies"][0]["summary"]["total-failure-session-count"], 1, rep)
        detail = rep["policies"][0]["failure-details"][0]
        self.assertEqual(detail["result-type"], "validation-failure", detail)
        self.assertEqual(detail["receiving-mx-hostname"], "mx1.test.example", detail)
        self.assertIn("not named by the MTA-STS policy", detail["failure-reason-code"])

    def test_a_new_txt_id_after_an_enforce_deferral_is_used_by_the_next_retry(self):
        """RFC 8461 5.1: after a policy failure the TXT record is checked again before the next
        attempt; a new id fetches the new policy, and that retry uses it (not a cached plan)."""
        records = [r for r in RECORDS if not r.startswith("_mta-sts.")]
        txt = '_mta-sts.%s. 1 TXT "v=STSv1; id=%s"'
        dns = DnsServer(zones=[("test.example.", "static")], records=records + [txt % (DOMAIN, "old1")])
        dns.start()
        self.addCleanup(dns.stop)
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx9.test.example"))
        self.start(mx, dns)
        qid = self.send()
        self.assertEqual(self.wait_state(qid, "deferred")["dsn_status"], "4.7.5")
        # The domain fixes its policy and publishes a new id (the record's TTL is 1 s).
        self.https.policy = policy("enforce", "mx1.test.example")
        port = dns.port
        dns.stop()
        dns.records[-1] = txt % (DOMAIN, "new2")
        dns.start(port=port)
        time.sleep(1.5)
        self.relay.cli("queue", "flush")
        msgs = mx.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["rcpt_tos"], ["bob@%s" % DOMAIN])
        self.wait_state(qid, "gone")

    def test_domain_with_tlsrpt_but_no_policy_counts_as_no_policy_found(self):
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        self.wait_state(self.send("nosts.test.example"), "gone")
        rep = self.tlsrpt("nosts.test.example")
        self.assertIsNotNone(rep, self.relay.log_text())
        self.assertEqual(rep["policies"][0]["policy"]["policy-type"], "no-policy-found", rep)
        self.assertEqual(rep["policies"][0]["summary"]["total-successful-session-count"], 1, rep)

    def test_tlsrpt_report_is_delivered_despite_the_rua_domains_enforce_policy(self):
        """RFC 8460 5.3.1: the report is sent even when the rua domain's TLS fails; for a report the
        enforce policy is applied as testing. The message says TLS-Required: No (RFC 8689)."""
        mx = self.peer("tls", cert="untrusted")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        qid = self.send()
        self.wait_state(qid, "deferred")  # ordinary mail: the policy holds
        r = self.relay.cli("tlsrpt", "send", check=False)
        self.assertIn("report to <tlsrpt@%s> queued as " % DOMAIN, r.stdout, r.stdout + r.stderr)
        rid = r.stdout.split("report to <tlsrpt@%s> queued as " % DOMAIN)[1].split()[0]
        msgs = mx.wait_messages(1, timeout=20)  # `tlsrpt send` woke the relay
        self.assertEqual(msgs[0]["rcpt_tos"], ["tlsrpt@%s" % DOMAIN])
        self.assertIn(b"\nTLS-Required: No", msgs[0]["data"])
        self.wait_state(rid, "gone")
        self.assertEqual(self.wait_state(qid, "deferred")["dsn_status"][:4], "4.7.")  # still held

    def test_enforce_with_an_untrusted_certificate_defers_and_counts_the_failure(self):
        mx = self.peer("tls", cert="untrusted")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        qid = self.send()
        r = self.wait_state(qid, "deferred")
        self.assertTrue(r["dsn_status"].startswith("4.7."), r)
        self.assertEqual(mx.messages(), [])
        self.assertEqual(mx.events("mail"), [])  # not one byte of mail
        time.sleep(1)
        self.assertEqual(self.sink.messages(), [])
        rep = self.tlsrpt()
        details = rep["policies"][0]["failure-details"]
        self.assertEqual(details[0]["result-type"], "certificate-not-trusted")
        self.assertEqual(details[0]["sending-mta-ip"], "127.0.0.1", details)  # our end of the session
        self.assertEqual(details[0]["receiving-ip"], "127.0.0.1", details)
        self.assertIn("failure-reason-code", details[0])  # words there, not in additional-information
        self.assertNotIn("additional-information", details[0])

    def test_testing_mode_delivers_and_reports_the_failure(self):
        mx = self.peer("tls", cert="untrusted")
        self.serve(policy("testing", "mx1.test.example"))
        self.start(mx)
        qid = self.send()
        mx.wait_messages(1, timeout=20)
        self.wait_state(qid, "gone")
        rep = self.tlsrpt()
        self.assertEqual(rep["policies"][0]["summary"]["total-failure-session-count"], 1)
        self.assertEqual(rep["policies"][0]["failure-details"][0]["result-type"], "certificate-not-trusted")

    def test_route_tester_applies_the_policy_like_delivery(self):
        mx = self.peer("tls", cert="untrusted")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        r = self.relay.cli("test-route", "internet", "--domain", DOMAIN, "--json", check=False)
        doc = json.loads(r.stdout)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(doc["mta_sts"]["result"], "enforce")
        self.assertIn("would be deferred", doc["verdict"]["text"])
        qid = self.send()  # and a delivery does the same
        self.wait_state(qid, "deferred")

    def test_route_tester_defers_like_delivery_when_the_policy_names_no_host(self):
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx9.test.example"))
        self.start(mx)
        r = self.relay.cli("test-route", "internet", "--domain", DOMAIN, "--json", check=False)
        doc = json.loads(r.stdout)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(doc["verdict"]["status"], "4.7.5", doc["verdict"])  # as delivery (one judge)
        self.assertIn("names none of the MX hosts", doc["verdict"]["reason"])
        self.assertEqual(mx.connections(), [])

    def test_route_for_shows_the_policy_in_force(self):
        mx = self.peer("tls", cert="valid")
        self.serve(policy("enforce", "mx9.test.example"))
        self.start(mx)
        r = self.relay.cli("route-for", "bob@%s" % DOMAIN, check=False)
        self.assertIn("mta-sts: MTA-STS enforce", r.stdout)
        self.assertIn("excluded by the policy: mx1.test.example", r.stdout)

    def test_enforce_policy_is_used_from_the_cache_when_the_server_is_down(self):
        mx = self.peer("tls", cert="untrusted")
        self.serve(policy("enforce", "mx1.test.example"))
        self.start(mx)
        self.relay.cli("mta-sts", "check", DOMAIN, check=False)  # warms nothing: the CLI has its own view
        qid = self.send()
        self.wait_state(qid, "deferred")
        self.https.stop()
        self.https = None
        # A restart forgets the in-memory plan; the LMDB cache still holds the policy. Only
        # the log written after the restart counts: the first run fetched the policy itself.
        self.relay.stop()
        since = len(self.relay.log_text())
        self.relay.start()
        self.relay.cli("queue", "flush")
        self.wait_log(r"event=mta-sts [^\n]*cached", since)
        self.wait_log(r"event=delivery [^\n]*id=%s [^\n]*status=deferred" % qid, since)
        self.assertEqual(mx.messages(), [])

    def wait_log(self, want, since, timeout=20):
        """Waits for a line matching `want` (a regex) in the log written after offset `since`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(want, self.relay.log_text()[since:]):
                return
            time.sleep(0.1)
        self.fail("no %r in the log since the restart:\n%s" % (want, self.relay.log_text()[since:]))


if __name__ == "__main__":
    unittest.main()
