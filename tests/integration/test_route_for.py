"""test_route_for.py - `smarthost route-for` against a real DNS server (unbound on loopback).

One unbound serves the zone test.example. for the whole module; slow.test.example. is forwarded
to a black hole so its lookups time out. Each case runs the binary once (at most 20 s; the
timeout cases take dns.timeout = 2 s per DNS round) and checks the printed candidate hosts and the
exit code: 0 when hosts were found, 1 with one line on stderr otherwise.
"""
import os
import subprocess
import tempfile
import unittest

from dns_server import DnsServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SMARTHOST_BIN", os.path.join(ROOT, "build/san/smarthost"))

RECORDS = [
    # several preferences; mx1 has both families, mx2 A only, mx3 AAAA only
    "partner.test.example. MX 20 mx2.test.example.",
    "partner.test.example. MX 10 mx1.test.example.",
    "partner.test.example. MX 30 mx3.test.example.",
    "mx1.test.example. A 192.0.2.1",
    "mx1.test.example. AAAA 2001:db8::1",
    "mx2.test.example. A 192.0.2.2",
    "mx3.test.example. AAAA 2001:db8::3",
    # equal preferences
    "equal.test.example. MX 5 first.test.example.",
    "equal.test.example. MX 10 eq-a.test.example.",
    "equal.test.example. MX 10 eq-b.test.example.",
    "first.test.example. A 192.0.2.5",
    "eq-a.test.example. A 192.0.2.10",
    "eq-b.test.example. A 192.0.2.11",
    # no MX, but addresses: implicit MX
    "implicit.test.example. A 192.0.2.20",
    "implicit.test.example. AAAA 2001:db8::20",
    # RFC 7505 null MX
    "nullmx.test.example. MX 0 .",
    # an MX target that does not resolve, next to one that does
    "broken.test.example. MX 10 missing.test.example.",
    "broken.test.example. MX 20 mx2.test.example.",
    # only targets that do not resolve
    "allbroken.test.example. MX 10 missing.test.example.",
    "allbroken.test.example. MX 20 missing2.test.example.",
    # an MX target whose address lookups time out
    "slowtarget.test.example. MX 10 host.slow.test.example.",
    "slowtarget.test.example. MX 20 mx2.test.example.",
    # host routes
    "gw.test.example. A 192.0.2.30",
    "smarthost.test.example. MX 10 in1.test.example.",
    "in1.test.example. A 192.0.2.31",
]

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = 2525; } );
allow = [ "127.0.0.0/8" ];
queue = { path = "%(dir)s/queue"; };
dns = { servers = [ "%(dns)s" ]; timeout = "2s"; };
address_lists = {
  partners = [ "partner.test.example" ];
  via_gw = [ "gw-customer.example" ];
  via_mx = [ "mx-customer.example" ];
  via_literal = [ "literal-customer.example" ];
  bosses = [ "ceo@normal.test.example", "boss@bücher.test.example" ];
};
routes = (
  { name = "partners"; match = [ "partners" ]; kind = "mx"; tls = "required";
    verify_ca = true; verify_hostname = true; min_tls_version = "1.2"; },
  { name = "gw"; match = [ "via_gw" ]; kind = "host"; host = "gw.test.example"; port = 2526; },
  { name = "gw-mx"; match = [ "via_mx" ]; kind = "host"; host = "smarthost.test.example";
    mx_lookup = true; port = 587; },
  { name = "literal"; match = [ "via_literal" ]; kind = "host"; host = "[192.0.2.99]"; },
  { name = "bosses"; match = [ "bosses" ]; kind = "host"; host = "gw.test.example"; port = 2527;
    tls = "required"; },
  { name = "default"; match = [ "*" ]; kind = "mx"; tls = "opportunistic"; }
);
"""


class RouteForTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(zones=[("test.example.", "static")], records=RECORDS,
                            blackhole_zones=["slow.test.example."])
        cls.dns.start()
        cls.tmp = tempfile.TemporaryDirectory(prefix="smarthost-route-for-")
        cls.cfg = os.path.join(cls.tmp.name, "smarthost.cfg")
        with open(cls.cfg, "w") as f:
            f.write(CONFIG % {"dir": cls.tmp.name, "dns": cls.dns.server})

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()
        cls.tmp.cleanup()

    def route_for(self, address):
        p = subprocess.run([BIN, "route-for", "-c", self.cfg, address], capture_output=True,
                           text=True, timeout=20)
        return p.returncode, p.stdout, p.stderr

    def hosts(self, out):
        """The numbered candidate lines, without their numbers."""
        return [l.split(". ", 1)[1] for l in out.splitlines() if l[:2] == "  " and l[2:3].isdigit()]

    def assertOk(self, address):
        rc, out, err = self.route_for(address)
        self.assertEqual(rc, 0, "exit %d, stdout:\n%s\nstderr:\n%s" % (rc, out, err))
        return out

    def assertFails(self, address, want_err):
        rc, out, err = self.route_for(address)
        self.assertEqual(rc, 1, "exit %d, stdout:\n%s\nstderr:\n%s" % (rc, out, err))
        self.assertEqual(err.strip().splitlines()[-1], "route-for: %s: %s" % (address, want_err))
        return out

    def test_mx_preferences_route_and_tls_options(self):
        out = self.assertOk("someone@partner.test.example")
        self.assertIn("route: partners (kind mx)\n", out)
        self.assertIn("tls: required, verify_ca yes, verify_hostname yes, min_tls_version 1.2, "
                      "client_cert no\n", out)
        self.assertIn("lookup: MX partner.test.example", out)
        self.assertEqual(self.hosts(out), [
            "mx1.test.example (pref 10) port 25: 2001:db8::1, 192.0.2.1",
            "mx2.test.example (pref 20) port 25: 192.0.2.2",
            "mx3.test.example (pref 30) port 25: 2001:db8::3",  # AAAA only
        ])
        self.assertNotIn("notes:", out)

    def test_equal_preferences_in_both_orders(self):
        seen = set()
        for _ in range(16):
            hosts = self.hosts(self.assertOk("a@equal.test.example"))
            self.assertEqual(hosts[0], "first.test.example (pref 5) port 25: 192.0.2.5")
            self.assertEqual(sorted(hosts[1:]), ["eq-a.test.example (pref 10) port 25: 192.0.2.10",
                                                 "eq-b.test.example (pref 10) port 25: 192.0.2.11"])
            seen.add(tuple(hosts[1:]))
            if len(seen) == 2:
                break
        self.assertEqual(len(seen), 2, "equal-preference MX hosts always came in the same order")

    def test_implicit_mx(self):
        out = self.assertOk("a@implicit.test.example")
        self.assertIn("route: default (kind mx)\n", out)
        self.assertEqual(self.hosts(out),
                         ["implicit.test.example (pref 0) port 25: 2001:db8::20, 192.0.2.20"])
        self.assertIn("implicit MX", out)

    def test_null_mx_is_permanent(self):
        self.assertFails("a@nullmx.test.example",
                         "permanent failure: null MX: domain accepts no mail")

    def test_nxdomain_is_permanent(self):
        self.assertFails("a@nope.test.example", "permanent failure: domain nope.test.example "
                         "does not exist (NXDOMAIN)")

    def test_unresolvable_target_is_skipped_and_reported(self):
        out = self.assertOk("a@broken.test.example")
        self.assertEqual(self.hosts(out), ["mx2.test.example (pref 20) port 25: 192.0.2.2"])
        self.assertIn("  - missing.test.example skipped: it does not resolve", out)

    def test_no_target_resolves_is_temporary(self):
        out = self.assertFails("a@allbroken.test.example", "temporary failure: none of the 2 MX "
                               "hosts of allbroken.test.example has an address")
        self.assertIn("missing2.test.example skipped", out)

    def test_mx_lookup_timeout_is_temporary(self):
        self.assertFails("a@dead.slow.test.example", "temporary failure: MX lookup for "
                         "dead.slow.test.example failed: timed out after 2s")

    def test_target_timeout_is_skipped(self):
        out = self.assertOk("a@slowtarget.test.example")
        self.assertEqual(self.hosts(out), ["mx2.test.example (pref 20) port 25: 192.0.2.2"])
        self.assertIn("host.slow.test.example skipped: it does not resolve (AAAA: timed out after "
                      "2s; A: timed out after 2s)", out)

    def test_host_route(self):
        out = self.assertOk("a@gw-customer.example")
        self.assertIn("route: gw (kind host, host gw.test.example, port 2526, mx_lookup no)", out)
        self.assertEqual(self.hosts(out), ["gw.test.example (pref 0) port 2526: 192.0.2.30"])

    def test_host_route_with_mx_lookup(self):
        out = self.assertOk("a@mx-customer.example")
        self.assertIn("lookup: MX smarthost.test.example", out)
        self.assertEqual(self.hosts(out), ["in1.test.example (pref 10) port 587: 192.0.2.31"])

    def test_host_route_with_ip_literal(self):
        out = self.assertOk("a@literal-customer.example")
        self.assertEqual(self.hosts(out), ["192.0.2.99 (pref 0) port 25: 192.0.2.99"])

    def test_address_entry_matches_in_any_case_and_label_form(self):
        # SPEC R-ROUTE: a required-TLS route must not be bypassed by writing CEO@ for ceo@.
        for address in ("ceo@normal.test.example", "CEO@Normal.Test.Example", "cEo@NORMAL.test.example",
                        "BOSS@xn--bcher-kva.test.example", "Boss@BÜCHER.test.example"):
            out = self.assertOk(address)
            self.assertIn("route: bosses (kind host, host gw.test.example, port 2527", out, address)
            self.assertIn("tls: required", out, address)
            self.assertEqual(self.hosts(out), ["gw.test.example (pref 0) port 2527: 192.0.2.30"])
        # Another local part of that domain is not on the list.
        rc, out, err = self.route_for("cfo@normal.test.example")
        self.assertIn("route: default (kind mx)", out)

    def test_no_route(self):
        cfg = os.path.join(self.tmp.name, "no-default.cfg")
        with open(self.cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace(',\n  { name = "default"; match = [ "*" ]; kind = "mx"; '
                                 'tls = "opportunistic"; }', ""))
        p = subprocess.run([BIN, "route-for", "-c", cfg, "a@elsewhere.example"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("no route matches", p.stderr)


if __name__ == "__main__":
    unittest.main()
