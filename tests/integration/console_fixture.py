"""console_fixture.py - a relay with the admin console on, real peers around it, and an HTTPS
client for the console (SPEC R-CONSOLE). Used by test_console.py and test_console_browser.py.

The world: unbound answers good.test.example MX mail.test.example (127.0.0.1, where an aiosmtpd
peer serves the valid test-PKI certificate) and bad.test.example MX mx1.test.example (::1, where
a peer on the same port serves the "wronghost" certificate); route "partners" (kind mx,
opportunistic TLS) delivers to both; good.test.example asks for TLS reports (_smtp._tls), so its
sessions are counted for TLS-RPT. Route "expiring" (TLS required, verified) delivers
soon.test.example to mx2.test.example (127.0.0.1, another port), whose peer serves the test-PKI
"expiring" certificate (10 days or less left); route "default" (TLS required, verified) delivers
everything else to mail.test.example, whose certificate has years left. Bounces to the sender go
to a plaintext sink. The console
listens on 127.0.0.1 over HTTPS with the relay's certificate (relay.test.example); the password
hash comes from `smarthost admin-passwd`.
"""
import base64
import http.client
import json
import re
import ssl
import subprocess
import time
import unittest

from dns_server import DnsServer
from relay_fixture import BIN, Relay, free_port, stop_and_check, testpki
from smtp_peer import SmtpPeer

SENDER = "alice@sender.test.example"
PASSWORD = "correct horse battery staple"

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
dns = { servers = [ "%(dns)s" ]; timeout = "2s"; };
address_lists = { senders = [ "sender.test.example" ]; partners = [ "good.test.example", "bad.test.example" ];
                  soon = [ "soon.test.example" ]; };
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; },
  { name = "partners"; match = [ "partners" ]; kind = "mx"; port = %(port)d; },
  { name = "expiring"; match = [ "soon" ]; kind = "host"; host = "mx2.test.example"; port = %(soon)d;
    tls = "%(soon_tls)s"; verify_ca = true; verify_hostname = true; },
  { name = "default"; match = [ "*" ]; kind = "host"; host = "mail.test.example"; port = %(port)d;
    tls = "required"; verify_ca = true; verify_hostname = true; }
);
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; };
limits = { connect_timeout = "3s"; reply_timeout = "5s"; };
admin = { listen = ( { address = "127.0.0.1"; port = %(admin)d; } );
          users = ( { name = "admin"; password_hash = "%(hash)s"; } );
          metrics_allow = [ "127.0.0.9" ]; history_days = 30; history_max_mb = 16; };
"""


def password_hash(password=PASSWORD):
    r = subprocess.run([BIN, "admin-passwd"], input=password + "\n", capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


class ConsoleWorld(unittest.TestCase):
    """One relay, its peers and DNS for the whole class (tests share the history they build)."""

    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(zones=[("test.example.", "static")], records=[
            "mail.test.example. A 127.0.0.1",
            "mx1.test.example. AAAA ::1",
            "mx2.test.example. A 127.0.0.1",
            '_smtp._tls.good.test.example. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@sender.test.example"',
            "good.test.example. MX 10 mail.test.example.",
            "bad.test.example. MX 10 mx1.test.example.",
        ])
        cls.dns.start()
        cls.peers = []
        try:
            cls.sink = cls._peer("plain")
            port = free_port()
            cls.good = cls._peer("tls13", cert="valid", host="127.0.0.1", port=port)
            cls.bad = cls._peer("tls13", cert="wronghost", host="::1", port=port)
            cls.soon = cls._peer("tls13", cert="expiring")
            cls.admin_port = free_port()
            cls.config_args = {"dns": cls.dns.server, "sink": cls.sink.port, "port": port, "soon": cls.soon.port,
                               "soon_tls": "required", "admin": cls.admin_port, "hash": password_hash()}
            cls.relay = Relay(CONFIG % cls.config_args).start()
        except Exception:
            cls._stop_world()
            raise

    @classmethod
    def _peer(cls, mode, **kw):
        p = SmtpPeer(mode, **kw)
        p.start()
        cls.peers.append(p)
        return p

    @classmethod
    def _stop_world(cls):
        for p in cls.peers:
            p.cleanup()
        cls.dns.stop()

    @classmethod
    def tearDownClass(cls):
        try:
            stop_and_check(cls(), cls.relay)
        finally:
            cls._stop_world()

    # -- mail ---------------------------------------------------------------------------------

    def send(self, to, message_id, body="hello"):
        r = self.relay.swaks("--from", SENDER, "--to", to, "--body", body,
                             "--header", "Message-Id: " + message_id, "--tls")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.split("queued as ")[1].split()[0]

    def wait_log(self, want, timeout=30):
        return self.relay.wait_log(want, timeout=timeout)

    # -- the console --------------------------------------------------------------------------

    @staticmethod
    def tls_context():
        ctx = ssl.create_default_context(cafile=testpki() + "/ca-bundle.pem")
        return ctx

    def conn(self, source="127.0.0.1"):
        return http.client.HTTPSConnection("127.0.0.1", self.admin_port, context=self.tls_context(),
                                           timeout=60, source_address=(source, 0))

    def request(self, method, path, body=None, headers=None, source="127.0.0.1", auth=None):
        """(status, headers dict, body text). auth: (user, password) for HTTP Basic."""
        h = dict(headers or {})
        h.setdefault("Host", "relay.test.example:%d" % self.admin_port)
        if auth:
            h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
        c = self.conn(source)
        # Certificate names relay.test.example; we connect by address: check the name ourselves.
        c._context.check_hostname = False
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
        finally:
            c.close()

    def api(self, method, path, body=None, **kw):
        headers = kw.pop("headers", {})
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
            body = json.dumps(body)
        status, h, text = self.request(method, path, body=body, headers=headers,
                                       auth=kw.pop("auth", ("admin", PASSWORD)), **kw)
        return status, h, text

    def login(self, source="127.0.0.1"):
        """Logs in by the form; returns (cookie header value, CSRF token)."""
        status, h, _ = self.request("POST", "/login", body="user=admin&password=" + PASSWORD.replace(" ", "+"),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}, source=source)
        self.assertEqual(status, 303, h)
        cookie = h["set-cookie"].split(";")[0]
        status, _, page = self.request("GET", "/", headers={"Cookie": cookie}, source=source)
        self.assertEqual(status, 200)
        csrf = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page).group(1)
        return cookie, h["set-cookie"], csrf

    def wait_tracking(self, q, state, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            status, _, text = self.api("GET", "/api/tracking?q=" + q)
            self.assertEqual(status, 200, text)
            msgs = json.loads(text)["messages"]
            if msgs and all(r["state"] == state for r in msgs[0]["recipients"]):
                return msgs[0]
            if time.monotonic() > deadline:
                self.fail("tracking %r: want state %s, got %s\n%s" % (q, state, msgs, self.relay.log_text()[-3000:]))
            time.sleep(0.3)
