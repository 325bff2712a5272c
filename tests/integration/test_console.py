"""test_console.py - the admin console over HTTPS, driven with Python's http.client (SPEC
R-CONSOLE, issue 17): login required, failed logins limited and logged, CSRF on POST, mail
tracking of a delivered and a bounced message with their TLS facts, the route test equal to
`smarthost test-route --json`, /metrics in Prometheus text format with moving counters, the
policy impact preview naming the wrong-host destination, expiry warnings for remote certificates
on required routes (overview and metric), the certificates page, and the TLS reports page."""
import hashlib
import html
import json
import re
import ssl
import subprocess
import time
import unittest
from datetime import datetime, timezone

from prometheus_client.parser import text_string_to_metric_families

from console_fixture import CONFIG, PASSWORD, ConsoleWorld
from relay_fixture import free_port, testpki


def samples(text):
    """{(name, frozenset(labels.items())): value} of a /metrics page, by the official parser."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


class ConsoleTest(ConsoleWorld):
    def test_every_page_and_api_needs_a_login(self):
        for path in ("/", "/tracking?q=x", "/routes", "/tls", "/certificates", "/api/tracking?q=x", "/metrics"):
            with self.subTest(path=path):
                status, h, text = self.request("GET", path)
                self.assertEqual(status, 401, text)
        status, h, _ = self.request("GET", "/metrics")
        self.assertIn("basic", h.get("www-authenticate", "").lower())
        status, _, _ = self.request("POST", "/api/routes/partners/test", body="{}",
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 401)
        # metrics_allow: 127.0.0.9 reads /metrics without a login, nothing else.
        status, _, text = self.request("GET", "/metrics", source="127.0.0.9")
        self.assertEqual(status, 200, text)
        status, _, _ = self.request("GET", "/api/tracking?q=x", source="127.0.0.9")
        self.assertEqual(status, 401)

    def test_wrong_passwords_are_rate_limited_and_logged(self):
        src = "127.0.0.7"  # its own address: the block must not touch the other tests
        for i in range(5):
            status, _, _ = self.api("GET", "/api/tracking?q=x", auth=("admin", "wrong%d" % i), source=src)
            self.assertEqual(status, 401)
        status, h, _ = self.api("GET", "/api/tracking?q=x", auth=("admin", PASSWORD), source=src)
        self.assertEqual(status, 429, "the right password is refused too while the address is blocked")
        self.assertGreater(int(h["retry-after"]), 200)
        status, _, _ = self.request("POST", "/login", body="user=admin&password=x",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}, source=src)
        self.assertEqual(status, 429)
        log = self.relay.log_text()
        self.assertEqual(log.count("event=console-login-failed client=127.0.0.7"), 5, log[-2000:])
        self.assertIn("event=console-login-blocked client=127.0.0.7", log)
        # Accounts are never locked: the same user from elsewhere still gets in.
        status, _, _ = self.api("GET", "/api/tracking?q=x", source="127.0.0.1")
        self.assertEqual(status, 200)

    def test_form_login_sets_a_secure_session_cookie(self):
        _, set_cookie, _ = self.login()
        for attr in ("HttpOnly", "Secure", "SameSite=Strict"):
            self.assertIn(attr, set_cookie)
        status, _, _ = self.request("POST", "/login", body="user=admin&password=nope",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}, source="127.0.0.5")
        self.assertEqual(status, 401)

    def test_post_needs_the_csrf_token(self):
        cookie, _, csrf = self.login()
        body = json.dumps({"domain": "good.test.example"})
        base = {"Cookie": cookie, "Content-Type": "application/json"}
        status, _, text = self.request("POST", "/api/routes/partners/test", body=body, headers=base)
        self.assertEqual(status, 403, text)
        status, _, text = self.request("POST", "/api/routes/partners/test", body=body,
                                       headers=dict(base, **{"X-CSRF-Token": "0" * 64}))
        self.assertEqual(status, 403, text)
        status, _, text = self.request("POST", "/api/routes/partners/test", body=body,
                                       headers=dict(base, **{"X-CSRF-Token": csrf, "Origin": "https://evil.example"}))
        self.assertEqual(status, 403, text)
        status, _, text = self.request("POST", "/api/routes/partners/test", body=body,
                                       headers=dict(base, **{"X-CSRF-Token": csrf, "Content-Type": "text/plain"}))
        self.assertEqual(status, 403, text)
        status, _, text = self.request("POST", "/logout", body="", headers={"Cookie": cookie})
        self.assertEqual(status, 403, "logout is a POST: it needs the token too")
        status, _, text = self.request("POST", "/api/routes/partners/test", body=body,
                                       headers=dict(base, **{"X-CSRF-Token": csrf}))
        self.assertEqual(status, 200, text)
        self.assertIn("csrf-refused", self.relay.log_text())

    def test_tracking_finds_a_delivered_and_a_bounced_message_with_tls_facts(self):
        self.send("carol@good.test.example", "<delivered.1@client.example>")
        self.send("perm@good.test.example", "<bounced.1@client.example>")
        m = self.wait_tracking("delivered.1@client.example", "sent")
        self.assertEqual(m["message_id"], "<delivered.1@client.example>")
        self.assertEqual(m["sender"], "alice@sender.test.example")
        self.assertEqual(m["tls"], "TLS1_3")  # swaks --tls: the inbound leg
        self.assertGreater(m["size"], 0)
        r = m["recipients"][0]
        self.assertEqual((r["address"], r["route"], r["state"]), ("carol@good.test.example", "partners", "sent"))
        sent = [e for e in r["events"] if e["event"] == "delivery"][-1]
        self.assertEqual(sent["status"], "sent")
        self.assertEqual(sent["tls_version"], "TLS1_3")
        self.assertTrue(sent["cipher"].startswith("TLS_"), sent)
        self.assertEqual(sent["verify"], "Verified")
        self.assertIn("mail.test.example", sent["relay"])
        self.assertEqual(sent["dsn"], "2.0.0")
        self.assertEqual(r["events"][0]["event"], "accepted")
        # A Message-ID matches with or without <>.
        b = self.wait_tracking("<bounced.1@client.example>", "bounced")
        ev = [e for e in b["recipients"][0]["events"] if e["event"] == "delivery"][-1]
        self.assertEqual((ev["status"], ev["dsn"], ev["tls_version"]), ("bounced", "5.1.1", "TLS1_3"))
        self.assertIn("No such user here", ev["reason"])
        self.assertIn("dsn", [e["event"] for e in b["recipients"][0]["events"]])
        # Its queue ID finds it too.
        status, _, text = self.api("GET", "/api/tracking?q=" + b["id"])
        self.assertEqual([x["id"] for x in json.loads(text)["messages"]], [b["id"]])

    def test_route_test_returns_what_test_route_json_says(self):
        for route, domain in (("partners", "good.test.example"), ("partners", "bad.test.example"), ("default", None)):
            with self.subTest(route=route, domain=domain):
                args = ["test-route", route, "--json"] + (["--domain", domain] if domain else [])
                cli = json.loads(self.relay.cli(*args, check=False).stdout)
                status, _, text = self.api("POST", "/api/routes/%s/test" % route,
                                           body={"domain": domain} if domain else {})
                self.assertEqual(status, 200, text)
                web = json.loads(text)
                self.assertEqual(web["verdict"], cli["verdict"])
                for w, c in zip(web["hosts"], cli["hosts"]):
                    self.assertEqual((w["host"], w["summary"], w["tls"]["verdict"]),
                                     (c["host"], c["summary"], c["tls"]["verdict"]))
        status, _, text = self.api("POST", "/api/routes/nosuch/test", body={})
        self.assertEqual(status, 404, text)

    def test_metrics_parse_and_move_as_mail_flows(self):
        status, h, before = self.api("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(h["content-type"].startswith("text/plain"))
        b = samples(before)
        for name in ("smarthost_messages_accepted_total", "smarthost_deliveries_total", "smarthost_queue_messages",
                     "smarthost_tls_failures_total", "smarthost_inbound_sessions_total", "smarthost_connections"):
            self.assertIn("# TYPE " + name + " ", before)
        sent_key = ("smarthost_deliveries_total",
                    frozenset({"route": "partners", "status": "sent", "tls_version": "TLS1_3"}.items()))
        acc_key = ("smarthost_messages_accepted_total", frozenset())
        self.send("dave@good.test.example", "<metrics.1@client.example>")
        self.wait_tracking("metrics.1@client.example", "sent")
        a = samples(self.api("GET", "/metrics")[2])
        self.assertEqual(a[acc_key], b.get(acc_key, 0) + 1)
        self.assertEqual(a[sent_key], b.get(sent_key, 0) + 1)
        inbound = ("smarthost_inbound_sessions_total", frozenset({"tls_version": "TLS1_3"}.items()))
        self.assertGreater(a[inbound], b.get(inbound, 0))
        self.assertIn(("smarthost_connections", frozenset({"direction": "inbound"}.items())), a)
        for (name, labels) in a:
            for k, v in labels:
                self.assertNotIn("@", v, "no addresses in labels: %s %s" % (name, dict(labels)))

    def test_policy_preview_names_exactly_the_wrong_host_destination(self):
        self.send("erin@good.test.example", "<preview.good@client.example>")
        self.send("frank@bad.test.example", "<preview.bad@client.example>")
        self.wait_tracking("preview.good@client.example", "sent")
        bad = self.wait_tracking("preview.bad@client.example", "sent")  # opportunistic: delivered anyway
        ev = [e for e in bad["recipients"][0]["events"] if e["event"] == "delivery"][-1]
        self.assertEqual(ev["verify"], "Trusted")
        status, _, text = self.api("GET", "/api/preview?route=partners&setting=verify_hostname")
        self.assertEqual(status, 200, text)
        p = json.loads(text)
        self.assertEqual(p["failing_hosts"], ["mx1.test.example"], p)
        self.assertIn("mail.test.example", p["hosts"])
        self.assertIn("mx1.test.example", p["words"])
        status, _, text = self.api("GET", "/api/preview?route=partners&setting=verify_ca")
        self.assertEqual(json.loads(text)["failing_hosts"], [], text)
        status, _, text = self.api("GET", "/api/preview?route=partners&setting=bogus")
        self.assertEqual(status, 400)


    # -- remote certificates (issue 17 item 4) and TLS reports ---------------------------------

    def expiring_metric(self):
        a = samples(self.api("GET", "/metrics")[2])
        return {dict(labels)["route"]: v for (name, labels), v in a.items()
                if name == "smarthost_remote_certificates_expiring"}

    def overview_warnings(self):
        status, _, page = self.api("GET", "/")
        self.assertEqual(status, 200)
        return html.unescape(re.search(r'<section id="expiry">(.*?)</section>', page, re.S).group(1))

    def wait_expiring(self, want, timeout=15):
        deadline = time.monotonic() + timeout
        while self.expiring_metric() != want:
            if time.monotonic() > deadline:
                self.fail("smarthost_remote_certificates_expiring: got %s, want %s" % (self.expiring_metric(), want))
            time.sleep(0.2)

    def test_expiry_warning_for_a_required_routes_certificate_that_expires_within_14_days(self):
        self.send("olga@soon.test.example", "<expiry.soon@client.example>")   # route expiring: 10 days or less
        self.send("paul@elsewhere.example", "<expiry.year@client.example>")   # route default: years left
        self.send("quinn@good.test.example", "<expiry.opp@client.example>")   # opportunistic: never warns
        for mid in ("expiry.soon@client.example", "expiry.year@client.example", "expiry.opp@client.example"):
            self.wait_tracking(mid, "sent")
        # Both required routes have a row; only the one with the expiring certificate counts it.
        self.assertEqual(self.expiring_metric(), {"expiring": 1, "default": 0})
        words = self.overview_warnings()
        self.assertIn("The certificate of mx2.test.example on required route expiring", words)
        self.assertIn("CN=mx1.test.example", words)  # its subject
        self.assertRegex(words, r"expires on \d{4}-\d\d-\d\d \d\d:\d\d UTC, in \d+ days?")
        days = int(re.search(r", in (\d+) days?", words).group(1))
        self.assertTrue(4 <= days <= 10, words)
        self.assertNotIn("mail.test.example", words)

        # The history seeds the warnings at the next start: no new delivery needed.
        self.relay.stop()
        self.relay.start()
        self.wait_expiring({"expiring": 1, "default": 0})
        self.assertIn("mx2.test.example", self.overview_warnings())

        # A reload that makes the route opportunistic ends the warning (and the metric's row).
        cfg = CONFIG % dict(self.config_args, soon_tls="opportunistic")
        self.relay.reload(cfg, "event=reloaded")
        try:
            self.assertEqual(self.expiring_metric(), {"default": 0})
            self.assertIn("No remote certificate on a required route expires within 14 days", self.overview_warnings())
        finally:
            self.relay.reload(CONFIG % self.config_args, "event=reloaded")
        self.assertEqual(self.expiring_metric(), {"expiring": 1, "default": 0})

    def test_certificates_page_lists_remote_certificates_by_expiry_with_their_routes(self):
        self.send("rita@soon.test.example", "<certs.soon@client.example>")
        self.send("sam@elsewhere.example", "<certs.year@client.example>")
        self.send("tom@bad.test.example", "<certs.bad@client.example>")
        self.send("ursula@good.test.example", "<certs.good@client.example>")
        for mid in ("certs.soon@client.example", "certs.year@client.example", "certs.bad@client.example",
                    "certs.good@client.example"):
            self.wait_tracking(mid, "sent")
        status, _, page = self.api("GET", "/certificates")
        self.assertEqual(status, 200, page)
        table = re.search(r'<table id="remote">(.*?)</table>', page, re.S).group(1)
        rows = [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]]
        by_host = {r[3]: r for r in rows}
        self.assertEqual(rows[0][3], "mx2.test.example", rows)  # soonest expiry first
        self.assertEqual(by_host["mx2.test.example"][4], "expiring")
        self.assertEqual(by_host["mail.test.example"][4], "default, partners")
        self.assertEqual(by_host["mx1.test.example"][4], "partners")  # the wrong-host certificate
        self.assertIn("CN=other.example", by_host["mx1.test.example"][1])
        self.assertIn("CN=smarthost test issuing CA", by_host["mail.test.example"][2])
        # Expiry and fingerprint as openssl reads the peer's certificate file.
        out = subprocess.run(["openssl", "x509", "-in", testpki() + "/expiring.pem", "-noout", "-enddate",
                              "-fingerprint", "-sha256", "-dateopt", "iso_8601"],
                             capture_output=True, text=True, check=True).stdout
        end = datetime.strptime(re.search(r"notAfter=(\S+ \S+)Z", out).group(1), "%Y-%m-%d %H:%M:%S")
        self.assertTrue(by_host["mx2.test.example"][0].startswith(end.strftime("%Y-%m-%d %H:%M UTC")), rows[0])
        fp = re.search(r"Fingerprint=(\S+)", out).group(1).replace(":", "").lower()
        self.assertIn('title="%s"' % fp, table)

    def test_tls_reports_page_counts_sessions_per_policy_domain_per_day(self):
        def good_row():
            status, _, page = self.api("GET", "/tls")
            self.assertEqual(status, 200, page)
            table = re.search(r'<table id="tlsrpt">(.*?)</table>', page, re.S).group(1)
            for row in re.findall(r"<tr>(.*?)</tr>", table):
                cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                if cells[:2] == [today, "good.test.example"]:
                    return cells
            return None
        today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        before = good_row()
        n0 = int(before[3]) if before else 0
        self.send("uma@good.test.example", "<tlsrpt.1@client.example>")
        self.send("vic@good.test.example", "<tlsrpt.2@client.example>")
        self.wait_tracking("tlsrpt.1@client.example", "sent")
        self.wait_tracking("tlsrpt.2@client.example", "sent")
        row = good_row()
        self.assertIsNotNone(row, "good.test.example publishes _smtp._tls: its sessions are counted")
        self.assertEqual(row[2], "no-policy-found")
        self.assertGreater(int(row[3]), n0, row)  # one session may carry both messages
        self.assertEqual(row[4], "0")
        # bad.test.example asks for no reports: not listed.
        self.assertNotIn("<td>bad.test.example</td>", self.api("GET", "/tls")[2])


    # -- reload (issue 17 follow-up): the certificate changes at once, the listener needs a restart --

    def served_certificate(self):
        import socket
        ctx = ssl.create_default_context(cafile=testpki() + "/ca-bundle.pem")
        ctx.check_hostname = False
        with socket.create_connection(("127.0.0.1", self.admin_port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()

    def pem_fingerprint(self, name):
        with open(testpki() + "/" + name) as f:  # the leaf: the file's first certificate
            leaf = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", f.read(), re.S).group(0)
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(leaf)).hexdigest()

    def test_reload_applies_a_new_certificate_and_says_a_new_listener_needs_a_restart(self):
        self.assertEqual(self.served_certificate(), self.pem_fingerprint("valid.pem"))
        cfg = (CONFIG % self.config_args).replace("TESTPKI/valid.pem", "TESTPKI/valid-ec.pem") \
            .replace("TESTPKI/valid.key", "TESTPKI/valid-ec.key")
        try:
            added = self.relay.reload(cfg, "event=reloaded")
            self.assertNotIn("admin", added)  # nothing to restart for a new certificate
            self.assertEqual(self.served_certificate(), self.pem_fingerprint("valid-ec.pem"))
            other = free_port()
            moved = cfg.replace("port = %d; } );\n          users" % self.admin_port,
                                "port = %d; } );\n          users" % other)
            self.assertNotEqual(moved, cfg)
            added = self.relay.reload(moved, "event=warning what=.*restart")
            self.assertRegex(added, r"event=warning what=\"?changed settings take effect only after a restart\"? "
                                    r"settings=\"?[^\n]*admin\.listen")
            # The console stays where it is (and keeps working) until the restart.
            self.assertEqual(self.api("GET", "/api/tracking?q=x")[0], 200)
        finally:
            self.relay.reload(CONFIG % self.config_args, "event=reloaded")
        self.assertEqual(self.served_certificate(), self.pem_fingerprint("valid.pem"))


if __name__ == "__main__":
    unittest.main()
