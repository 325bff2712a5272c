"""test_delivery.py - outbound delivery against SMTP servers we did not write.

Each test starts aiosmtpd peers (smtp_peer.py: valid / expired / wrong-host / untrusted
certificates, no STARTTLS, TLS 1.1 or 1.2 only, injected 4xx/5xx), a sink for the senders'
domain where DSNs land, and the real relay whose routes point at them. Names that certificates
are checked against come from a real DNS server (unbound, dns_server.py).
"""
import email
import re
import smtplib
import time
import unittest

from dns_server import DnsServer
from relay_fixture import Relay, free_port, stop_and_check
from smtp_peer import PostfixPeer, SmtpPeer, down_port

SENDER = "alice@sender.test.example"

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
dns = { servers = [ "%(dns)s" ]; timeout = "2s"; };
address_lists = { senders = [ "sender.test.example" ]; };
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; },
  { name = "dest"; match = [ "*" ]; kind = "%(kind)s"; %(host)s port = %(port)d; %(tls)s }
);
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; max_lifetime = "%(lifetime)s"; };
limits = { connect_timeout = "3s"; reply_timeout = "5s"; };
"""

REQUIRED = 'tls = "required"; verify_ca = true; verify_hostname = true;'


class DeliveryBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(zones=[("test.example.", "static")], records=[
            "mail.test.example. A 127.0.0.1",
            "mx1.test.example. AAAA ::1",       # nothing listens there: "first MX down"
            "mx2.test.example. A 127.0.0.1",
            "two.test.example. MX 10 mx1.test.example.",
            "two.test.example. MX 20 mx2.test.example.",
        ])
        cls.dns.start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def setUp(self):
        self.peers = []
        self.relay = None
        self.sink = self.peer("plain")

    def tearDown(self):
        for p in self.peers:
            p.cleanup()
        if self.relay:
            stop_and_check(self, self.relay)

    def peer(self, mode, **kw):
        p = SmtpPeer(mode, **kw)
        p.start()
        self.peers.append(p)
        return p

    def start_relay(self, port, tls=REQUIRED, kind="host", host="mail.test.example", lifetime="5d",
                    our_cert="valid"):
        host_line = 'host = "%s";' % host if kind == "host" else ""
        cfg = CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "kind": kind, "host": host_line,
                        "port": port, "tls": tls, "lifetime": lifetime}
        cfg = cfg.replace("TESTPKI/valid.", "TESTPKI/%s." % our_cert)
        self.relay = Relay(cfg).start()
        return self.relay

    def send(self, to="bob@dest.test.example", body="hello"):
        r = self.relay.swaks("--from", SENDER, "--to", to, "--body", body)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.split("queued as ")[1].split()[0]

    def wait_queue_empty(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.relay.queue_list():
                return
            time.sleep(0.2)
        self.fail("queue not empty: %s\n%s" % (self.relay.queue_list(), self.relay.log_text()))

    def wait_deferred(self, ids, timeout=30):
        """Waits until every recipient of each message in `ids` was tried and deferred, so a
        test counting connections afterwards does not race the first attempts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = {m["id"]: {r["state"] for r in m["recipients"]} for m in self.relay.queue_list()}
            if all(states.get(i) == {"deferred"} for i in ids):
                return
            time.sleep(0.1)
        self.fail("not all deferred: %s\n%s" % (self.relay.queue_list(), self.relay.log_text()))

    def dsn(self, timeout=30):
        """The one DSN that reached the sender's sink, parsed by Python's email package."""
        msgs = self.sink.wait_messages(1, timeout=timeout)
        self.assertIn(msgs[0]["mail_from"], ("", "<>"))
        self.assertEqual(msgs[0]["rcpt_tos"], [SENDER])
        m = email.message_from_bytes(msgs[0]["data"])
        self.assertEqual(m.get_content_type(), "multipart/report")
        self.assertEqual(m.get_param("report-type"), "delivery-status")
        parts = m.get_payload()
        status = parts[1].get_payload()
        fields = {}
        for block in status:
            for k, v in block.items():
                fields.setdefault(k.lower(), v)
        return parts[0].get_payload(decode=True).decode(), fields


class TlsPolicyTest(DeliveryBase):
    def test_valid_certificate_is_sent_over_tls13_and_facts_logged(self):
        dest = self.peer("tls", cert="valid")
        self.start_relay(dest.port)
        qid = self.send()
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["tls_version"], "TLSv1.3")
        self.assertIn(b"hello", msgs[0]["data"])
        self.wait_queue_empty()
        log = self.relay.log_text()
        self.assertRegex(log, r"event=delivery .*id=%s rcpt=<bob@dest.test.example> route=dest "
                              r"relay=mail.test.example\[127.0.0.1\]:%d status=sent dsn=2.0.0 tls=TLS1_3 "
                              r"cipher=TLS_AES_\w+ verify=Verified" % (qid, dest.port))

    def check_bounce(self, dest, status, words):
        self.start_relay(dest.port)
        self.send()
        text, fields = self.dsn()
        self.assertEqual(fields["status"], status, fields)
        self.assertEqual(fields["final-recipient"], "rfc822; bob@dest.test.example")
        self.assertEqual(fields["action"], "failed")
        self.assertIn(words, text)
        self.assertEqual(dest.messages(), [])
        self.wait_queue_empty()
        return text

    def test_no_starttls_with_required_tls_bounces_after_one_connection(self):
        dest = self.peer("plain")
        text = self.check_bounce(dest, "5.7.4", "TLS unavailable")
        self.assertEqual(len(dest.connections()), 1)
        self.assertIn("bounced", self.relay.log_text())
        # Never falls back to plaintext: no MAIL FROM reached the server.
        self.assertEqual(dest.events("mail"), [])
        self.assertIn("mail.test.example", text)

    def test_expired_certificate_bounces(self):
        self.check_bounce(self.peer("tls", cert="expired"), "5.7.5", "expired")

    def test_wrong_host_certificate_bounces(self):
        self.check_bounce(self.peer("tls", cert="wronghost"), "5.7.5", "host name")

    def test_unknown_ca_bounces(self):
        self.check_bounce(self.peer("tls", cert="untrusted"), "5.7.5", "trusted")

    def test_tls11_server_with_min_12_bounces(self):
        dest = self.peer("tls11")
        self.start_relay(dest.port, tls=REQUIRED + ' min_tls_version = "1.2";')
        self.send()
        _, fields = self.dsn()
        self.assertEqual(fields["status"], "5.7.5")
        self.assertEqual(dest.messages(), [])

    def test_tls12_server_with_min_13_bounces(self):
        dest = self.peer("tls12")
        self.start_relay(dest.port, tls=REQUIRED + ' min_tls_version = "1.3";')
        self.send()
        _, fields = self.dsn()
        self.assertEqual(fields["status"], "5.7.5")
        self.assertEqual(dest.messages(), [])

    def test_bad_certificates_are_sent_when_verification_is_off(self):
        for cert in ("expired", "wronghost", "untrusted"):
            with self.subTest(cert=cert):
                dest = self.peer("tls", cert=cert)
                self.start_relay(dest.port, tls='tls = "required"; verify_ca = false;')
                self.send()
                msgs = dest.wait_messages(1, timeout=20)
                self.assertTrue(msgs[0]["tls_version"].startswith("TLSv1."))
                self.wait_queue_empty()
                self.assertIn("verify=Untrusted" if cert != "wronghost" else "verify=Trusted", self.relay.log_text())
                self.relay.stop()
                self.relay.cleanup()
                self.relay = None

    def test_client_certificate_is_presented_when_the_route_asks(self):
        dest = self.peer("tls", cert="valid", request_client_cert=True)
        self.start_relay(dest.port, tls=REQUIRED + " client_cert = true;", our_cert="client")
        self.send()
        dest.wait_messages(1, timeout=20)
        tls = dest.events("starttls")
        self.assertIn("relay.test.example", str(tls[0]["client_cert"]))

    def test_opportunistic_without_starttls_sends_plaintext(self):
        dest = self.peer("plain")
        self.start_relay(dest.port, tls='tls = "opportunistic";')
        self.send()
        msgs = dest.wait_messages(1, timeout=20)
        self.assertIsNone(msgs[0]["tls_version"])
        self.wait_queue_empty()
        self.assertIn("status=sent dsn=2.0.0 tls=none", self.relay.log_text())

    def test_opportunistic_logs_untrusted_but_delivers(self):
        dest = self.peer("tls", cert="untrusted")
        self.start_relay(dest.port, tls='tls = "opportunistic";')
        self.send()
        dest.wait_messages(1, timeout=20)
        self.wait_queue_empty()
        self.assertIn("verify=Untrusted", self.relay.log_text())

    def test_opportunistic_broken_handshake_retries_in_plaintext(self):
        dest = self.peer("badtls")
        self.start_relay(dest.port, tls='tls = "opportunistic";')
        self.send()
        msgs = dest.wait_messages(1, timeout=20)
        self.assertIsNone(msgs[0]["tls_version"])
        self.assertIn("event=tls-fallback", self.relay.log_text())


class TypedOutcomeTest(DeliveryBase):
    """What a failure was stays typed from the session to the log, the queue and the DSN."""

    def config_text(self, port):
        return CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "kind": "host",
                         "host": 'host = "mail.test.example";', "port": port, "tls": REQUIRED, "lifetime": "5d"}

    def start_relay_with_hold(self, port):
        """Like start_relay, plus route "hold" for hold.test.example to a port that refuses
        connections, so that a message with a recipient there stays in the queue."""
        hold = down_port()
        cfg = self.config_text(port)
        cfg = cfg.replace('senders = [ "sender.test.example" ];',
                          'senders = [ "sender.test.example" ]; hold = [ "hold.test.example" ];')
        cfg = cfg.replace('{ name = "dest";', '{ name = "hold"; match = [ "hold" ]; kind = "host"; host = "127.0.0.1"; '
                                              'port = %d; tls = "none"; },\n  { name = "dest";' % hold)
        self.relay = Relay(cfg).start()
        return self.relay

    def recipient(self, qid, address, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.relay.queue_list():
                for r in m["recipients"] if m["id"] == qid else []:
                    if r["address"] == address and r["state"] == "bounced":
                        return r
            time.sleep(0.2)
        self.fail("%s of %s never bounced: %s\n%s" % (address, qid, self.relay.queue_list(), self.relay.log_text()))

    def test_tls_facts_kept_when_the_name_check_fails_after_the_handshake(self):
        dest = self.peer("tls", cert="wronghost")
        self.start_relay_with_hold(dest.port)
        qid = self.send(to="bob@dest.test.example,carol@hold.test.example")
        self.dsn()
        log = self.relay.log_text()
        self.assertRegex(log, r"event=delivery session=\S+ id=%s rcpt=<bob@dest.test.example> route=dest "
                              r"relay=mail.test.example\[127.0.0.1\]:%d status=bounced dsn=5.7.5 tls=TLS1_3 "
                              r"cipher=TLS_\w+ verify=Trusted reason=\"certificate host name mismatch"
                              % (qid, dest.port))
        r = self.recipient(qid, "bob@dest.test.example")
        self.assertEqual(r["tls_version"], "TLS1_3", r)
        self.assertTrue(r["tls_cipher"].startswith("TLS_"), r)
        self.assertEqual(r["tls_verdict"], "Trusted", r)
        self.assertEqual(r["failure"], "tls", r)
        self.assertEqual(r["relay"], "mail.test.example[127.0.0.1]:%d" % dest.port, r)
        self.assertIn("certificate host name mismatch", r["last_error"])
        show = self.relay.cli("queue", "show", qid).stdout
        bob = [l for l in show.splitlines() if l.startswith("recipient: <bob@dest.test.example>")]
        self.assertEqual(len(bob), 1, show)
        self.assertIn("tls=TLS1_3 verdict=Trusted failure=tls relay=mail.test.example[127.0.0.1]", bob[0])
        self.assertEqual(dest.events("mail"), [])  # not one byte of mail over that session
        self.assertNotIn("event=client-state", log)  # debug lines only at log.level = "debug"

    def test_tls_facts_kept_for_every_certificate_check_that_fails(self):
        """Issue 14 item 2: CA, expiry and name checks run after a completed handshake; the
        delivery line keeps tls=/cipher=/verify= and names the check that failed."""
        cases = [("wronghost", "Trusted", "certificate host name mismatch"),
                 ("expired", "Untrusted", "certificate expired"),
                 ("untrusted", "Untrusted", "certificate not signed by a trusted CA")]
        for cert, verdict, words in cases:
            with self.subTest(cert=cert):
                dest = self.peer("tls", cert=cert)
                self.start_relay(dest.port)
                qid = self.send()
                self.dsn()
                line = self.relay.wait_log(r"event=delivery [^\n]*id=%s [^\n]*status=bounced[^\n]*" % qid).group(0)
                self.assertRegex(line, r" dsn=5.7.5 tls=TLS1_3 cipher=TLS_\w+ verify=%s reason=\"[^\"]*%s"
                                       % (verdict, words))
                self.assertEqual(dest.events("mail"), [])
                self.relay.stop()
                self.relay.cleanup()
                self.relay = None
                self.sink.cleanup()
                self.peers.remove(self.sink)
                self.sink = self.peer("plain")

    def test_debug_level_logs_every_client_state_transition(self):
        dest = self.peer("tls", cert="valid")
        self.relay = Relay(self.config_text(dest.port) + 'log = { level = "debug"; };\n').start()
        self.send()
        dest.wait_messages(1, timeout=20)
        self.wait_queue_empty()
        log = self.relay.log_text()
        want = ["connect -> banner", "banner -> EHLO", "EHLO -> STARTTLS", "STARTTLS -> TLS handshake",
                "TLS handshake -> EHLO", "EHLO -> MAIL FROM"]
        got = re.findall(r"event=client-state session=c1-[0-9a-z]{6} transition=\"([^\"]+)\"", log)
        self.assertEqual(got[1:1 + len(want)], want, log)  # got[0]: the session's first entry into connect
        self.assertTrue(any(t.endswith("-> end of data") for t in got), got)

    def check_remote_mta(self, dest, status):
        self.start_relay(dest.port)
        self.send()
        _, fields = self.dsn()
        self.assertEqual(fields["status"], status, fields)
        self.assertEqual(fields.get("remote-mta"), "dns; mail.test.example", fields)
        self.assertNotIn("diagnostic-code", fields)  # the remote sent no reply about it
        self.wait_queue_empty()

    def test_tls_failure_dsn_names_the_remote_mta(self):
        self.check_remote_mta(self.peer("tls", cert="wronghost"), "5.7.5")

    def test_starttls_not_offered_dsn_names_the_remote_mta(self):
        self.check_remote_mta(self.peer("plain"), "5.7.4")


class RetryTest(DeliveryBase):
    def test_4xx_is_deferred_then_sent_on_retry(self):
        dest = self.peer("tls", cert="valid", fail_first={"rcpt": 1})
        self.start_relay(dest.port)
        self.send()
        msgs = dest.wait_messages(1, timeout=30)
        self.assertEqual(msgs[0]["rcpt_tos"], ["bob@dest.test.example"])
        self.wait_queue_empty()
        log = self.relay.log_text()
        self.assertIn("status=deferred dsn=4.3.0", log)
        self.assertIn("status=sent", log)

    def test_5xx_bounces_with_the_remote_reply(self):
        dest = self.peer("tls", cert="valid")
        self.start_relay(dest.port)
        self.send(to="perm@dest.test.example")
        text, fields = self.dsn()
        self.assertEqual(fields["status"], "5.1.1")
        self.assertEqual(fields["remote-mta"], "dns; mail.test.example")
        self.assertIn("550 5.1.1 No such user here", fields["diagnostic-code"])
        self.wait_queue_empty()

    def test_mixed_recipients_get_their_own_outcome(self):
        dest = self.peer("tls", cert="valid")
        self.start_relay(dest.port)
        self.send(to="ok@dest.test.example,perm@dest.test.example")
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["rcpt_tos"], ["ok@dest.test.example"])
        _, fields = self.dsn()
        self.assertEqual(fields["final-recipient"], "rfc822; perm@dest.test.example")
        self.wait_queue_empty()

    def test_first_mx_down_second_mx_used(self):
        dest = self.peer("tls", cert="valid")
        # mx1 is ::1 on the same port, where nothing listens.
        self.start_relay(dest.port, kind="mx", tls='tls = "required"; verify_ca = true; verify_hostname = true;')
        self.send(to="bob@two.test.example")
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["rcpt_tos"], ["bob@two.test.example"])
        self.wait_queue_empty()
        self.assertIn("relay=mx2.test.example[127.0.0.1]", self.relay.log_text())

    def test_lifetime_expiry_bounces_with_5_4_7(self):
        port = down_port()
        self.start_relay(port, lifetime="3s")
        self.send()
        text, fields = self.dsn(timeout=40)
        self.assertEqual(fields["status"], "5.4.7")
        self.wait_queue_empty()
        # Issue 14 item 4: the lifetime in the setting's own words, not "after 0h".
        self.assertIn("delivery time expired after 3s", " ".join(text.split()))
        self.assertRegex(self.relay.log_text(), r"event=delivery .*status=bounced dsn=5.4.7 .*"
                                                r"reason=\"delivery time expired after 3s")

    def test_restart_mid_queue_resumes_without_loss(self):
        port = free_port()
        self.start_relay(port)
        ids = [self.send(body="m%d" % i) for i in range(3)]
        self.wait_deferred(ids)  # attempted at least once: nothing listens yet
        self.assertEqual(sorted(m["id"] for m in self.relay.queue_list()), sorted(ids))
        self.relay.kill9()
        dest = self.peer("tls", cert="valid", port=port)
        self.relay.start()
        msgs = dest.wait_messages(3, timeout=30)
        self.assertEqual(sorted(m["data"].split(b"\r\n\r\n", 1)[1].strip() for m in msgs), [b"m0", b"m1", b"m2"])
        self.wait_queue_empty()


class QueueToolsTest(DeliveryBase):
    def test_connection_reuse_under_a_concurrency_limit_of_one(self):
        port = free_port()
        self.start_relay(port, tls=REQUIRED + " max_connections = 1;")
        ids = [self.send(body="m%d" % i) for i in range(4)]
        self.wait_deferred(ids)  # each tried once: nothing listens yet
        dest = self.peer("tls", cert="valid", port=port)
        self.relay.cli("queue", "flush")  # wakes the running relay: all four are due together
        dest.wait_messages(4, timeout=30)
        self.wait_queue_empty()
        # One connection carried all four messages, one TLS handshake.
        self.assertEqual(len(dest.connections()), 1, dest.events())
        self.assertEqual(len(ids), 4)

    def test_reused_connection_that_dies_before_its_first_reply_is_no_deferral(self):
        # Issue 20: a parked connection woken for a new message died before answering MAIL
        # (the server dropped it as idle just then; the same as our idle timer firing in the
        # wake's loop turn). Our choice to reuse it is no fault of the destination: the message
        # goes out at once on a fresh connection, not after the retry interval (an hour here).
        self.reuse_fails_then_fresh_connection(True)

    def test_reused_connection_answered_by_an_idle_timeout_421_is_no_deferral(self):
        self.reuse_fails_then_fresh_connection("421")

    def reuse_fails_then_fresh_connection(self, how):
        dest = self.peer("tls", cert="valid", hangup_on_reuse=how)
        self.relay = Relay(self.relay_config_with_retry("1h", dest.port)).start()
        self.send(body="first")
        dest.wait_messages(1, timeout=20)
        self.send(body="second")  # within the parked connection's idle time
        msgs = dest.wait_messages(2, timeout=15)
        self.assertEqual(sorted(m["data"].split(b"\r\n\r\n", 1)[1].strip() for m in msgs),
                         [b"first", b"second"])
        self.assertEqual(len(dest.events("hangup")), 1, "the parked connection was not reused: %s" % dest.events())
        self.assertEqual(len(dest.connections()), 2, dest.events())
        self.assertNotIn("status=deferred", self.relay.log_text())
        self.wait_queue_empty()

    def test_queue_flush_retries_at_once(self):
        port = free_port()
        self.start_relay(port)
        self.relay.write_config(self.relay_config_with_retry("1h", port))
        self.relay.proc.send_signal(1)  # SIGHUP: retry is now an hour
        deadline = time.monotonic() + 15
        while "event=reloaded" not in self.relay.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("event=reloaded", self.relay.log_text())
        self.wait_deferred([self.send()])
        dest = self.peer("tls", cert="valid", port=port)
        t0 = time.monotonic()
        self.relay.cli("queue", "flush")
        dest.wait_messages(1, timeout=20)
        self.assertLess(time.monotonic() - t0, 15)
        self.wait_queue_empty()

    def relay_config_with_retry(self, retry, port):
        return (CONFIG % {"dns": self.dns.server, "sink": self.sink.port, "kind": "host",
                          "host": 'host = "mail.test.example";', "port": port, "tls": REQUIRED,
                          "lifetime": "5d"}).replace('retry = [ "1s" ]', 'retry = [ "%s" ]' % retry)

    def test_queue_bounce_returns_the_message_with_a_dsn(self):
        port = down_port()
        self.start_relay(port)
        qid = self.send()
        r = self.relay.cli("queue", "bounce", qid)
        self.assertIn("bounced 1 recipient(s) of %s" % qid, r.stdout)
        text, fields = self.dsn()
        self.assertEqual(fields["status"], "5.0.0")
        self.assertIn("administrator", text)
        self.wait_queue_empty()
        self.assertEqual(self.relay.cli("queue", "bounce", qid, check=False).returncode, 1)


if __name__ == "__main__":
    unittest.main()


class BusyHostTest(DeliveryBase):
    """Issue 20: concurrency that adapts to replies. A real Postfix smtpd that takes two
    connections from one client (anvil: smtpd_client_connection_count_limit = 2) answers the
    others "421 4.7.0 Error: too many connections". Those are our concurrency's fault, not the
    messages': they must go out on the sessions that work, none deferred, and the destination's
    session window must shrink (event=destination-busy)."""

    def test_a_host_that_limits_connections_gets_fewer_and_nothing_is_deferred(self):
        capture = self.peer("plain")
        pf = PostfixPeer(capture.port, {"smtpd_client_connection_count_limit": "2",
                                        "smtpd_client_event_limit_exceptions": ""})
        self.peers.append(pf)
        pf.start()
        self.start_relay(pf.port, tls='tls = "none"; max_connections = 10;')
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20) as s:
            for i in range(20):
                s.sendmail(SENDER, ["bob@dest.test.example"], "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))
        capture.wait_messages(20, timeout=90)
        self.wait_queue_empty()
        log = self.relay.log_text()
        self.assertIn("Connection concurrency limit exceeded", pf.log())  # Postfix really turned sessions away
        self.assertIn("event=destination-busy", log)
        self.assertNotIn("status=deferred", log)
