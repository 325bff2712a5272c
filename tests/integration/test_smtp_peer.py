"""test_smtp_peer.py - proves each SmtpPeer / SinkPeer / DownPeer mode does what smtp_peer.py says.

Clients are swaks and Python's smtplib/ssl, never our relay: these tests check the fixture that
the delivery and route-tester tests rely on. Each test starts its own peer (about 0.3 s each).
"""
import os
import smtplib
import socket
import ssl
import subprocess
import time
import unittest
import warnings

from smtp_peer import DownPeer, SinkPeer, SmtpPeer, down_port
from relay_fixture import testpki

PKI = testpki()
CA = os.path.join(PKI, "ca-bundle.pem")
MX = "mx1.test.example"      # a name in the valid / expired / untrusted certificates

warnings.filterwarnings("ignore", category=DeprecationWarning)   # ssl TLSv1_1 constants


def swaks(peer, *args, timeout=30):
    host, port = ("::1", peer.port) if peer.host == "::1" else ("127.0.0.1", peer.port)
    cmd = ["swaks", "--server", host, "--port", str(port), "--timeout", "5",
           "--ehlo", "client.test.example",
           "--from", "sender@client.example", "--to", "rcpt@dest.example"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def client_ctx(verify=False, min_v=None, max_v=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(CA)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if min_v:
        ctx.minimum_version = min_v
    if max_v:
        ctx.maximum_version = max_v
    if ciphers:
        ctx.set_ciphers(ciphers)
    return ctx


def starttls(peer, ctx, server_hostname=MX):
    """EHLO, STARTTLS, handshake; returns (version, cipher) as the client saw them.
    Raises ssl.SSLError / OSError when the handshake fails."""
    s = smtplib.SMTP(timeout=5)
    s._host = server_hostname            # smtplib uses this as SNI and for host-name checks
    try:
        s.connect(peer.host, peer.port)
        s.ehlo("client.test.example")
        code, _ = s.starttls(context=ctx)
        assert code == 220
        version, cipher = s.sock.version(), s.sock.cipher()[0]
        s.ehlo("client.test.example")
        s.quit()
        return version, cipher
    finally:
        s.close()


class TlsModes(unittest.TestCase):
    def test_valid_cert_swaks_gets_250_and_peer_logs_tls13(self):
        with SmtpPeer("tls", cert="valid") as peer:
            r = swaks(peer, "--tls", "--tls-sni", MX, "--body", "hello\r\n..dot\r\n")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("<~  250 2.0.0 Ok", r.stdout)
            msgs = peer.wait_messages(1, timeout=5)
            self.assertEqual(msgs[0]["tls_version"], "TLSv1.3")
            self.assertTrue(msgs[0]["tls_cipher"].startswith("TLS_"))
            self.assertEqual(msgs[0]["mail_from"], "sender@client.example")
            self.assertEqual(msgs[0]["rcpt_tos"], ["rcpt@dest.example"])
            # swaks sends "...dot" (dot-stuffed); the peer stores the un-stuffed bytes.
            self.assertIn(b"\r\nhello\r\n..dot\r\n", msgs[0]["data"])
            (tls,) = peer.tls_sessions()
            self.assertEqual((tls["version"], tls["sni"]), ("TLSv1.3", MX))
            self.assertEqual(len(peer.connections()), 1)
            self.assertEqual([e["name"] for e in peer.events("ehlo")], ["client.test.example"] * 2)
            self.assertEqual([e["tls"] for e in peer.events("ehlo")], [False, True])

    def test_valid_cert_verifies_with_test_ca(self):
        with SmtpPeer("tls", cert="valid") as peer:
            version, _ = starttls(peer, client_ctx(verify=True))
            self.assertEqual(version, "TLSv1.3")

    def test_bad_certificates_fail_verification_for_their_reason(self):
        cases = {"expired": "certificate has expired",
                 "wronghost": "Hostname mismatch",
                 "untrusted": "self-signed certificate in certificate chain",
                 "notyet": "certificate is not yet valid"}
        for cert, why in cases.items():
            with self.subTest(cert=cert), SmtpPeer("tls", cert=cert) as peer:
                with self.assertRaises(ssl.SSLCertVerificationError) as cm:
                    starttls(peer, client_ctx(verify=True))
                self.assertIn(why, str(cm.exception))
                # Without verification the same peer completes the handshake.
                self.assertEqual(starttls(peer, client_ctx())[0], "TLSv1.3")

    def test_valid_ec_cert_gives_ecdsa_suite_under_tls12(self):
        with SmtpPeer("tls12", cert="valid-ec") as peer:
            version, cipher = starttls(peer, client_ctx(verify=True))
            self.assertEqual(version, "TLSv1.2")
            self.assertIn("ECDSA", cipher)
            self.assertEqual(peer.tls_sessions()[0]["cipher"], cipher)

    def test_tls11_only_peer(self):
        with SmtpPeer("tls11") as peer:
            # A client that insists on TLS 1.2+ fails ...
            with self.assertRaises((ssl.SSLError, OSError)):
                starttls(peer, client_ctx(min_v=ssl.TLSVersion.TLSv1_2))
            # ... one that allows 1.1 (OpenSSL 3: only at security level 0) succeeds.
            ctx = client_ctx(min_v=ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0")
            self.assertEqual(starttls(peer, ctx)[0], "TLSv1.1")
            self.assertEqual([t["version"] for t in peer.tls_sessions()], ["TLSv1.1"])
            self.assertTrue(peer.events("starttls_failed"))

    def test_tls12_max_peer(self):
        with SmtpPeer("tls12") as peer:
            with self.assertRaises((ssl.SSLError, OSError)):
                starttls(peer, client_ctx(min_v=ssl.TLSVersion.TLSv1_3))
            self.assertEqual(starttls(peer, client_ctx())[0], "TLSv1.2")
            self.assertEqual(peer.tls_sessions()[0]["version"], "TLSv1.2")

    def test_tls13_min_peer(self):
        with SmtpPeer("tls13") as peer:
            with self.assertRaises((ssl.SSLError, OSError)):
                starttls(peer, client_ctx(max_v=ssl.TLSVersion.TLSv1_2))
            self.assertEqual(starttls(peer, client_ctx())[0], "TLSv1.3")
            failed = peer.wait_events("starttls_failed", 1, timeout=5)
            self.assertIn("UNSUPPORTED_PROTOCOL", failed[0]["error"])

    def test_plain_peer_offers_no_starttls(self):
        with SmtpPeer("plain") as peer:
            r = swaks(peer)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("STARTTLS", r.stdout)
            r = swaks(peer, "--tls")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("STARTTLS", r.stdout + r.stderr)    # "Host did not advertise STARTTLS"
            (msg,) = peer.wait_messages(1, timeout=5)
            self.assertIsNone(msg["tls_version"])
            self.assertEqual(len(peer.connections()), 2)

    def test_broken_handshake_modes(self):
        for how in ("close", "garbage", "reset"):
            with self.subTest(how=how), SmtpPeer("badtls", handshake_break=how) as peer:
                r = swaks(peer)
                self.assertIn("250-STARTTLS", r.stdout)
                with self.assertRaises((ssl.SSLError, OSError)):
                    starttls(peer, client_ctx())
                (ev,) = peer.wait_events("starttls_broken", 1, timeout=5)
                self.assertEqual(ev["how"], how)
                self.assertTrue(ev["looks_like_tls"])     # it did get a ClientHello first
                self.assertFalse(peer.tls_sessions())

    def test_client_certificate_is_logged(self):
        with SmtpPeer("tls", request_client_cert=True) as peer:
            r = swaks(peer, "--tls", "--tls-cert", os.path.join(PKI, "client.pem"),
                      "--tls-key", os.path.join(PKI, "client.key"))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(peer.tls_sessions()[0]["client_cert"], "relay.test.example")


class Replies(unittest.TestCase):
    def test_per_recipient_codes(self):
        with SmtpPeer("plain") as peer:
            s = smtplib.SMTP(peer.host, peer.port, timeout=5)
            s.ehlo("c.example")
            self.assertEqual(s.mail("a@client.example")[0], 250)
            self.assertEqual(s.rcpt("temp@dest.example"),
                             (451, b"4.3.0 Mailbox temporarily unavailable"))
            self.assertEqual(s.rcpt("perm@dest.example")[0], 550)
            self.assertEqual(s.rcpt("perm@dest.example")[1][:5], b"5.1.1")
            self.assertEqual(s.rcpt("ok@dest.example")[0], 250)
            self.assertEqual(s.data(b"Subject: x\r\n\r\nbody\r\n")[0], 250)
            s.quit()
            (msg,) = peer.messages()
            self.assertEqual(msg["rcpt_tos"], ["ok@dest.example"])
            self.assertEqual([(e["address"], e["code"]) for e in peer.events("rcpt")],
                             [("temp@dest.example", 451), ("perm@dest.example", 550),
                              ("perm@dest.example", 550), ("ok@dest.example", 250)])

    def test_custom_recipient_replies(self):
        with SmtpPeer("plain", rcpt_replies={"full@dest.example": "552 5.2.2 Mailbox full"}) as p:
            s = smtplib.SMTP(p.host, p.port, timeout=5)
            s.ehlo("c.example")
            s.mail("a@client.example")
            self.assertEqual(s.rcpt("FULL@dest.example")[0], 552)
            self.assertEqual(s.rcpt("temp@dest.example")[0], 250)    # defaults replaced
            s.quit()

    def test_421_greeting(self):
        with SmtpPeer("plain", replies={"connect": "421 4.3.2 Not now"}) as peer:
            with self.assertRaises(smtplib.SMTPConnectError) as cm:
                smtplib.SMTP(peer.host, peer.port, timeout=5)
            self.assertEqual(cm.exception.smtp_code, 421)
            peer.wait_events("close", 1, timeout=5)     # and it hung up
            self.assertEqual(peer.events("greeting")[0]["code"], 421)

    def test_mail_and_end_of_data_replies(self):
        with SmtpPeer("plain", replies={"mail": "550 5.7.1 Sender rejected"}) as peer:
            r = swaks(peer)
            self.assertIn("<** 550 5.7.1 Sender rejected", r.stdout)
            self.assertEqual(peer.messages(), [])
        with SmtpPeer("plain", replies={"eod": "452 4.3.1 Insufficient storage"}) as peer:
            r = swaks(peer)
            self.assertIn("<** 452 4.3.1 Insufficient storage", r.stdout)
            self.assertEqual(peer.messages(), [])
            self.assertEqual(peer.events("eod")[0]["code"], 452)
        with SmtpPeer("tls", replies={"data": "554 5.5.1 No valid recipients"}) as peer:
            r = swaks(peer, "--tls")
            self.assertIn("554 5.5.1 No valid recipients", r.stdout)   # "<~*" under TLS

    def test_first_attempts_fail_then_succeed(self):
        with SmtpPeer("plain", fail_first={"rcpt": 2, "eod": 1}) as peer:
            # RCPT fails twice, then end of DATA once, then the fourth session goes through.
            self.assertEqual([swaks(peer).returncode == 0 for _ in range(4)],
                             [False, False, False, True])
            rcpts = [e["code"] for e in peer.events("rcpt")]
            self.assertEqual(rcpts, [451, 451, 250, 250])
            self.assertEqual([e["code"] for e in peer.events("eod")], [451, 250])
            self.assertEqual(len(peer.messages()), 1)
            self.assertEqual(len(peer.connections()), 4)

    def test_first_connections_get_421(self):
        with SmtpPeer("plain", fail_first={"connect": 1}) as peer:
            self.assertNotEqual(swaks(peer).returncode, 0)
            self.assertEqual(swaks(peer).returncode, 0)
            self.assertEqual([e["code"] for e in peer.events("greeting")], [421, 220])


class Timeouts(unittest.TestCase):
    def test_hang_accepts_and_never_answers(self):
        with SmtpPeer("hang") as peer:
            t0 = time.monotonic()
            with socket.create_connection((peer.host, peer.port), timeout=5) as s:
                s.settimeout(1.0)
                with self.assertRaises(socket.timeout):
                    s.recv(100)
            self.assertLess(time.monotonic() - t0, 3)
            with self.assertRaises((socket.timeout, smtplib.SMTPServerDisconnected)):
                smtplib.SMTP(peer.host, peer.port, timeout=1)
            self.assertEqual(len(peer.wait_events("connect", 2, timeout=5)), 2)
            self.assertEqual(peer.events("greeting"), [])

    def test_stall_at_end_of_data(self):
        with SmtpPeer("plain", stall=["eod"]) as peer:
            s = smtplib.SMTP(peer.host, peer.port, timeout=1)
            s.ehlo("c.example")
            s.mail("a@client.example")
            s.rcpt("b@dest.example")
            with self.assertRaises((socket.timeout, smtplib.SMTPServerDisconnected)):
                s.data(b"Subject: x\r\n\r\nbody\r\n")
            s.close()
            self.assertEqual(peer.wait_events("stall", 1, timeout=5)[0]["stage"], "eod")

    def test_down_port_refuses(self):
        with DownPeer() as d:
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", d.port), timeout=2)
        port = down_port("::1")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("::1", port), timeout=2)


class Plumbing(unittest.TestCase):
    def test_ipv6_and_fixed_port(self):
        from relay_fixture import free_port
        port = free_port("::1")
        with SmtpPeer("tls", host="::1", port=port) as peer:
            self.assertEqual((peer.port, peer.address), (port, "[::1]:%d" % port))
            r = swaks(peer, "--tls")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(peer.connections()[0]["peer"][0], "::1")
            self.assertEqual(peer.wait_messages(1)[0]["tls_version"], "TLSv1.3")

    def test_exact_bytes_after_unstuffing(self):
        from relay_fixture import SmtpClient
        with SmtpPeer("plain") as peer:
            c = SmtpClient(peer.port)
            self.assertEqual(c.reply()[0], 220)
            # Pipelined, as our relay sends it when PIPELINING is offered.
            c.send("EHLO c.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@dest.example>\r\n"
                   "DATA\r\n")
            code, text = c.reply()
            self.assertIn("PIPELINING", text)
            self.assertEqual([c.reply()[0] for _ in range(3)], [250, 250, 354])
            c.send(b"a\nbare LF\r\n..one dot\r\n...\r\n\xc3\xa9 8bit\r\n.\r\n")
            self.assertEqual(c.reply()[0], 250)
            self.assertEqual(c.cmd("QUIT")[0], 221)
            c.close()
            (msg,) = peer.messages()
            self.assertEqual(msg["data"], b"a\nbare LF\r\n.one dot\r\n..\r\n\xc3\xa9 8bit\r\n")

    def test_stop_ends_the_process(self):
        peer = SmtpPeer("plain").start()
        pid, port = peer.proc.pid, peer.port
        peer.cleanup()
        self.assertFalse(os.path.exists("/proc/%d" % pid))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2)

    def test_bad_cert_name_fails_to_start(self):
        peer = SmtpPeer("tls", cert="no-such-cert")
        with self.assertRaises(RuntimeError) as cm:
            peer.start()
        self.assertIn("no-such-cert", str(cm.exception))
        self.assertFalse(os.path.exists(peer.dir))       # nothing left behind
        self.assertIsNone(peer.proc)
        # A server that dies before it listens: its stderr is in the error.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            with self.assertRaises(RuntimeError) as cm:
                SmtpPeer("plain", port=busy.getsockname()[1]).start()
            self.assertIn("address already in use", str(cm.exception))

    def test_smtp_sink_counts(self):
        with SinkPeer() as sink:
            for _ in range(2):
                r = swaks(sink)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            c = sink.wait_count(2, timeout=5)
            self.assertEqual((c["sess"], c["mesg"]), (2, 2))
        with SinkPeer(host="::1", capture=True) as sink:
            self.assertEqual(swaks(sink, "--body", "captured body").returncode, 0)
            sink.wait_count(1, timeout=5)
            self.assertIn(b"captured body", sink.captured()[0])


if __name__ == "__main__":
    unittest.main()
