"""test_mta_sts.py - MTA-STS policy discovery and fetch, and TLS-RPT reports, end to end.

Real peers on loopback: unbound (tests/integration/dns_server.py) serves the TXT, MX and A
records; an HTTPS policy server (Python's http.server behind ssl, certificates from the test PKI)
serves https://mta-sts.wild.test.example/.well-known/mta-sts.txt on a free port, which the
relay's test-only key mta_sts.https_port points at. The policy domain is wild.test.example
because the test PKI's `valid` certificate names *.wild.test.example, so mta-sts.wild.test.example
verifies without a new certificate.

Cases: `smarthost mta-sts check` with a valid policy (fetched, cached); server down -> the
cached policy is used; a redirect is refused; a certificate for the wrong name or from an
untrusted CA is refused (sts-webpki-invalid); a broken policy is refused (sts-policy-invalid);
`mta-sts record`; `tlsrpt show/send`: counts seeded into the store with mdb_load, the report
queued, its DKIM signature verified by python3-dkim, its gzip'ed JSON parsed back and every
required RFC 8460 field checked.
"""
import base64
import email
import gzip
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import unittest

from dns_server import DnsServer
from relay_fixture import BIN, free_port, testpki

DOMAIN = "wild.test.example"
POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx1.test.example\r\nmx: *.wild.test.example\r\nmax_age: 86400\r\n"

RECORDS = [
    '_mta-sts.%s. TXT "v=STSv1; id=20261123T170000"' % DOMAIN,
    "mta-sts.%s. A 127.0.0.1" % DOMAIN,
    "%s. MX 10 mx1.test.example." % DOMAIN,
    "%s. MX 20 mx9.other.test.example." % DOMAIN,
    "mx1.test.example. A 127.0.0.1",
    '_smtp._tls.%s. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"' % (DOMAIN, DOMAIN),
    # a domain whose policy server is never there
    '_mta-sts.nohttps.test.example. TXT "v=STSv1; id=1"',
    "mta-sts.nohttps.test.example. A 127.0.0.1",
]

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = 2525; } );
tls = { ca_file = "%(pki)s/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; } );
queue = { path = "%(dir)s/queue"; };
dns = { servers = [ "%(dns)s" ]; timeout = "3s"; };
mta_sts = { enabled = true; https_port = %(port)d; fetch_timeout = "5s"; };
tlsrpt = { enabled = true; organization = "Example Corp"; contact = "mailto:postmaster@example.com";
           submitter = "example.com";
           dkim = { domain = "example.com"; selector = "tlsrpt"; key = "%(dir)s/dkim.key"; }; };
"""


class PolicyServer:
    """HTTPS on 127.0.0.1:port serving the policy, a redirect, or a wrong media type."""

    def __init__(self, port, cert, key):
        self.port, self.cert, self.key = port, cert, key
        self.mode = "ok"
        self.policy = POLICY
        self.requests = []
        self.posts = []
        self.httpd = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                # TLS-RPT reports by HTTPS (RFC 8460 3): keep what arrived.
                n = int(self.headers.get("Content-Length", "0"))
                owner.posts.append((self.path, self.headers.get("Content-Type"), self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                owner.requests.append((self.path, self.headers.get("Host")))
                if owner.mode == "redirect":
                    self.send_response(301)
                    self.send_header("Location", "https://elsewhere.test.example/.well-known/mta-sts.txt")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                body = owner.policy.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if owner.mode == "html" else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


class MtaStsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = testpki()
        cls.dns = DnsServer(zones=[("test.example.", "static")], records=RECORDS)
        cls.dns.start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="smarthost-sts-")
        self.port = free_port()
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", os.path.join(self.dir, "dkim.key")], check=True, capture_output=True)
        self.cfg = os.path.join(self.dir, "smarthost.cfg")
        with open(self.cfg, "w") as f:
            f.write(CONFIG % {"pki": self.pki, "dir": self.dir, "dns": self.dns.server, "port": self.port})
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self, leaf="valid"):
        if self.server:
            self.server.stop()
        self.server = PolicyServer(self.port, os.path.join(self.pki, leaf + ".pem"),
                                   os.path.join(self.pki, leaf + ".key")).start()
        return self.server

    def smarthost(self, *args):
        p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def check(self, domain=DOMAIN):
        return self.smarthost("mta-sts", "check", "-c", self.cfg, domain)

    def assertCheck(self, want_rc, *wants, domain=DOMAIN):
        rc, out, err = self.check(domain)
        detail = "exit %d\nstdout:\n%s\nstderr:\n%s" % (rc, out, err)
        self.assertEqual(rc, want_rc, detail)
        for w in wants:
            self.assertIn(w, out, detail)
        return out, err

    def test_valid_policy_fetched_then_cached_when_server_down(self):
        srv = self.serve()
        out, _ = self.assertCheck(
            0, "_mta-sts.%s TXT: \"v=STSv1; id=20261123T170000\"" % DOMAIN,
            "policy in force: mode enforce, fetched, id 20261123T170000, max_age 86400",
            "  mx: mx1.test.example\n", "  mx: *.wild.test.example\n",
            "_smtp._tls.%s TXT: rua mailto:tlsrpt@%s" % (DOMAIN, DOMAIN),
            "MX mx1.test.example: named by the policy", "MX mx9.other.test.example: NOT named by the policy",
            "result: valid policy published")
        self.assertEqual(srv.requests, [("/.well-known/mta-sts.txt", "mta-sts.%s:%d" % (DOMAIN, self.port))])
        srv.stop()
        self.server = None
        out, err = self.assertCheck(1, "policy in force: mode enforce, cached, id 20261123T170000",
                                    "sts-policy-fetch-error", "result: no valid policy could be fetched")
        self.assertIn("cannot connect", err)

    def test_redirect_refused(self):
        self.serve().mode = "redirect"
        out, err = self.assertCheck(1, "HTTP 301 redirect to https://elsewhere.test.example/.well-known/mta-sts.txt refused",
                                    "policy in force: none")
        self.assertEqual(len(self.server.requests), 1)  # never followed

    def test_wrong_name_certificate_refused(self):
        self.serve("wronghost")
        self.assertCheck(1, "[TLS-RPT result-type sts-webpki-invalid]", "policy in force: none")

    def test_untrusted_certificate_refused(self):
        self.serve("untrusted")
        self.assertCheck(1, "[TLS-RPT result-type sts-webpki-invalid]", "policy in force: none")

    def test_expired_certificate_refused(self):
        self.serve("expired")
        self.assertCheck(1, "[TLS-RPT result-type sts-webpki-invalid]", "policy in force: none")

    def test_invalid_policy_and_media_type_refused(self):
        srv = self.serve()
        srv.policy = "version: STSv1\nmode: enforce\nmx: mx1.test.example\n"  # no max_age
        self.assertCheck(1, "max_age missing", "[TLS-RPT result-type sts-policy-invalid]")
        srv.policy = POLICY
        srv.mode = "html"
        self.assertCheck(1, "has media type 'text/html', not text/plain")

    def test_no_policy_server(self):
        self.assertCheck(1, "sts-policy-fetch-error", "policy in force: none", domain="nohttps.test.example")

    def test_no_record(self):
        out, err = self.assertCheck(1, "_mta-sts.mx1.test.example TXT: (none)", "policy in force: none",
                                    domain="mx1.test.example")
        self.assertIn("no MTA-STS policy published", err)

    def test_record_helper(self):
        rc, out, err = self.smarthost("mta-sts", "record", DOMAIN, "-c", self.cfg)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r'_mta-sts\.%s\. IN TXT "v=STSv1; id=\d{8}T\d{6}"' % DOMAIN.replace(".", r"\."))
        self.assertIn('_smtp._tls.%s. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"' % (DOMAIN, DOMAIN), out)
        self.assertIn("version: STSv1\nmode: testing\nmx: mx1.test.example\nmx: mx9.other.test.example\nmax_age: 86400\n", out)

    # ---- TLS-RPT ------------------------------------------------------------------------------

    def seed_counts(self, day):
        """Writes two entries into the TLS-RPT store with mdb_load, as delivery would."""
        def field(s):
            return "%d:%s" % (len(s.encode()), s)

        def lst(items):
            return field(str(len(items))) + "".join(field(i) for i in items)

        policy_lines = ["version: STSv1", "mode: enforce", "mx: mx1.test.example", "mx: *.wild.test.example",
                        "max_age: 86400"]
        value = (field("tlsrpt1") + field(day) + field(DOMAIN) + field("sts") + field("20261123T170000") +
                 lst(policy_lines) + lst(["mx1.test.example", "*.wild.test.example"]) + field("9") + field("2") +
                 field("1") + lst(["certificate-expired", "127.0.0.1", "mx1.test.example", "", "127.0.0.1", "", ""]) +
                 field("2"))
        key = "e\t%s\t%s\tsts\t20261123T170000" % (day, DOMAIN)

        def esc(s):
            return "".join("\\%02x" % ord(c) if (ord(c) < 0x20 or c == "\\") else c for c in s)

        store = os.path.join(self.dir, "queue", "tlsrpt")
        os.makedirs(store)
        subprocess.run(["mdb_load", "-T", store], input="%s\n%s\n" % (esc(key), esc(value)), text=True, check=True)

    def test_tlsrpt_show_and_send_signed_report(self):
        day = "2025-01-15"
        self.seed_counts(day)
        rc, out, err = self.smarthost("tlsrpt", "-c", self.cfg, "show", "--date", day)
        self.assertEqual(rc, 0, err)
        self.assertIn("%s  policy sts id 20261123T170000: 9 successful, 2 failed" % DOMAIN, out)
        self.assertIn("certificate-expired  mx1.test.example [127.0.0.1]  x2", out)
        rc, out, err = self.smarthost("tlsrpt", "-c", self.cfg, "show", "--date", day, "--json")
        self.assertEqual(rc, 0, err)
        shown = json.loads(out)["reports"][0]
        self.assertEqual(shown["policies"][0]["summary"]["total-successful-session-count"], 9)

        rc, out, err = self.smarthost("tlsrpt", "-c", self.cfg, "send", "--date", day)
        self.assertEqual(rc, 0, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertIn("reports sent: 1, failed: 0", out)
        self.assertIn("no relay is running", out)  # the report waits in the queue for one
        qid = out.split("queued as ")[1].split()[0]
        rc, again, err = self.smarthost("tlsrpt", "-c", self.cfg, "send", "--date", day)
        self.assertIn("already sent", again)  # never twice

        listing = json.loads(self.smarthost("queue", "-c", self.cfg, "list", "--json")[1])["messages"]
        self.assertEqual(len(listing), 1)
        self.assertEqual(listing[0]["sender"], "postmaster@example.com")
        self.assertEqual(listing[0]["recipients"][0]["address"], "tlsrpt@%s" % DOMAIN)
        shown = subprocess.run([BIN, "queue", "-c", self.cfg, "show", qid], capture_output=True,
                               timeout=60).stdout  # bytes: CRLF must survive for DKIM
        raw = shown[shown.index(b"\n\nDKIM-Signature:") + 2:]  # the stored message after the summary

        # DKIM: verified by python3-dkim with the public key derived by openssl.
        der = subprocess.run(["openssl", "pkey", "-in", os.path.join(self.dir, "dkim.key"), "-pubout",
                              "-outform", "DER"], capture_output=True, check=True).stdout
        record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
        verify = subprocess.run(
            ["/usr/bin/python3", "-c",
             "import sys, dkim\nrec = sys.argv[1].encode()\nmsg = sys.stdin.buffer.read()\n"
             "ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: rec if name == b'tlsrpt._domainkey.example.com.' else None)\n"
             "print('verified' if ok else 'FAILED')\n", record.decode()],
            input=raw, capture_output=True, timeout=30)
        self.assertEqual(verify.stdout.strip(), b"verified", verify.stderr.decode())
        sig = raw.split(b"\r\n\r\n", 1)[0].decode()
        self.assertNotIn(" l=", sig)
        self.assertIn("tls-report-domain:tls-report-submitter", sig)

        msg = email.message_from_bytes(raw)
        self.assertEqual(msg.get_content_type(), "multipart/report")
        self.assertEqual(msg.get_param("report-type"), "tlsrpt")
        self.assertEqual(msg["TLS-Report-Domain"], DOMAIN)
        self.assertEqual(msg["TLS-Report-Submitter"], "example.com")
        report_id = "2025-01-15T000000Z.%s@example.com" % DOMAIN
        self.assertEqual(" ".join(msg["Subject"].split()),
                         "Report Domain: %s Submitter: example.com Report-ID: <%s>" % (DOMAIN, report_id))
        parts = [p for p in msg.walk() if p.get_content_type() == "application/tlsrpt+gzip"]
        self.assertEqual(len(parts), 1)
        self.assertEqual(parts[0].get_filename(), "example.com!%s!1736899200!1736985599.json.gz" % DOMAIN)
        report = json.loads(gzip.decompress(parts[0].get_payload(decode=True)))
        self.assertEqual(report["organization-name"], "Example Corp")
        self.assertEqual(report["date-range"], {"start-datetime": "2025-01-15T00:00:00Z",
                                                "end-datetime": "2025-01-15T23:59:59Z"})
        self.assertEqual(report["contact-info"], "mailto:postmaster@example.com")
        self.assertEqual(report["report-id"], report_id)
        pol = report["policies"][0]
        self.assertEqual(pol["policy"]["policy-type"], "sts")
        self.assertEqual(pol["policy"]["policy-domain"], DOMAIN)
        self.assertEqual(pol["policy"]["policy-string"][1], "mode: enforce")
        self.assertEqual(pol["policy"]["mx-host"], ["mx1.test.example", "*.wild.test.example"])
        self.assertEqual(pol["summary"], {"total-successful-session-count": 9, "total-failure-session-count": 2})
        self.assertEqual(pol["failure-details"], [{
            "result-type": "certificate-expired", "sending-mta-ip": "127.0.0.1",
            "receiving-mx-hostname": "mx1.test.example", "receiving-ip": "127.0.0.1",
            "failed-session-count": 2}])


if __name__ == "__main__":
    unittest.main()
