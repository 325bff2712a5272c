"""test_tenant.py - SPEC R-TENANT: binding an allowlisted (shared) range to our own tenant.

The real relay, driven by swaks and Python's smtplib. The sender part (sender_domains,
check_from, allow_null_sender, exempt) needs no DNS; the DKIM part signs messages with
python3-dkim (rsa-sha256 1024/2048, ed25519-sha256) and serves the public keys from a real
unbound (dns_server.py), with a zone that never answers for the DNS timeout case.
"""
import base64
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import unittest

import dkim
import nacl.encoding
import nacl.signing

from dns_server import DnsServer
from relay_fixture import BIN, Relay, stop_and_check
from smtp_peer import SmtpPeer

BINDING = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; } );
queue = { path = "QUEUE_DIR"; };
relay_policy = { sender_domains = [ "example.com", ".example.com" ]; check_from = true;
                 allow_null_sender = %(null)s; exempt = [ "127.0.0.2" ]; };
"""


def message(frm="Alice <alice@example.com>", subject="binding", body="Hello.\r\n"):
    return ("From: %s\r\nTo: bob@example.org\r\nSubject: %s\r\nMessage-ID: <m1@example.com>\r\n"
            "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\n%s" % (frm, subject, body)).encode()


class BindingBase(unittest.TestCase):
    null = "false"

    def setUp(self):
        self.relay = Relay(BINDING % {"null": self.null}).start()

    def tearDown(self):
        stop_and_check(self, self.relay)

    def send(self, sender, msg, source="127.0.0.1"):
        """(code, text) of the first refusal, or (250, queue reply) when queued."""
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=20, source_address=(source, 0)) as s:
            s.ehlo("client.example")
            code, text = s.mail(sender)
            if code != 250:
                return code, text.decode()
            self.assertEqual(s.rcpt("bob@example.org")[0], 250)
            code, text = s.data(msg)
            return code, text.decode()


class SenderBindingTest(BindingBase):
    def test_our_domain_and_subdomain_are_accepted(self):
        self.assertEqual(self.send("alice@example.com", message())[0], 250)
        code, text = self.send("bounce@mail.Example.COM", message(frm="x@sub.example.com"))
        self.assertEqual(code, 250, text)

    def test_swaks_other_tenant_refused_at_mail(self):
        r = self.relay.swaks("--from", "eve@other-tenant.example", "--to", "bob@example.org")
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"<\*\* 550 5\.7\.1 <eve@other-tenant\.example>: sender domain "
                                   r"other-tenant\.example is not relayed here \(only example\.com, \.example\.com\)")
        self.assertRegex(self.relay.log_text(), r"event=reject .*client=127\.0\.0\.1 .*from=<eve@other-tenant\.example> "
                                                r"reason=\"sender domain not ours\" domain=other-tenant\.example "
                                                r"allowed=\"example\.com, \.example\.com\"")
        self.assertEqual(self.relay.queue_list(), [])

    def test_lookalike_domain_refused(self):
        code, text = self.send("a@badexample.com", message())
        self.assertEqual(code, 550)
        self.assertIn("5.7.1", text)

    def test_header_from_mismatch_refused_at_end_of_data(self):
        code, text = self.send("alice@example.com", message(frm="Eve <eve@other-tenant.example>"))
        self.assertEqual(code, 550, text)
        self.assertIn("5.7.1 header From: domain other-tenant.example is not relayed here", text)
        self.assertRegex(self.relay.log_text(), r"reason=\"header From not ours\" domain=other-tenant\.example")
        self.assertEqual(self.relay.queue_list(), [])

    def test_second_from_address_must_be_ours_too(self):
        code, _ = self.send("alice@example.com", message(frm="a@example.com, \"x, y\" <eve@other-tenant.example>"))
        self.assertEqual(code, 550)

    def test_null_sender_refused_when_not_allowed(self):
        code, text = self.send("", message())
        self.assertEqual(code, 550)
        self.assertIn("null sender", text)

    def test_exempt_client_skips_the_binding(self):
        code, text = self.send("eve@other-tenant.example", message(frm="eve@other-tenant.example"), source="127.0.0.2")
        self.assertEqual(code, 250, text)


class NullSenderAllowedTest(BindingBase):
    null = "true"

    def test_null_sender_skips_the_binding(self):
        code, text = self.send("", message(frm="MAILER-DAEMON@bounces.other.example"))
        self.assertEqual(code, 250, text)


# ---- DKIM ---------------------------------------------------------------------------------------

KEYS = {}  # name -> {"alg", "private" (PEM bytes or nacl base64 seed), "record"}
KEY_DIR = None


def setUpModule():
    global KEY_DIR
    KEY_DIR = tempfile.mkdtemp(prefix="smarthost-dkim-")
    for name, bits in (("rsa1024", 1024), ("rsa2048", 2048), ("other", 2048)):
        pem = os.path.join(KEY_DIR, name + ".pem")
        subprocess.run(["openssl", "genrsa", "-out", pem, str(bits)], check=True, capture_output=True)
        der = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        with open(pem, "rb") as f:
            KEYS[name] = {"alg": b"rsa-sha256", "private": f.read(), "file": pem,
                          "record": "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()}
    seed = nacl.signing.SigningKey.generate()
    KEYS["ed"] = {"alg": b"ed25519-sha256", "private": seed.encode(encoder=nacl.encoding.Base64Encoder),
                  "record": "v=DKIM1; k=ed25519; p=" + seed.verify_key.encode(encoder=nacl.encoding.Base64Encoder).decode()}


def tearDownModule():
    shutil.rmtree(KEY_DIR, ignore_errors=True)


def txt(name, record):
    """A local-data TXT line; strings over 255 octets split (RFC 1035 character-strings)."""
    parts = [record[i:i + 250] for i in range(0, len(record), 250)]
    return "%s TXT %s" % (name, " ".join('"%s"' % p for p in parts))


def sign(msg, domain, selector, key, canon=(b"relaxed", b"simple"), length=False, expires=None):
    """`msg` with a DKIM-Signature by python3-dkim on top. expires: an x= (unix seconds)."""
    d = dkim.DKIM(msg)
    orig = dkim.DKIM.gen_header

    def with_x(self, fields, *args):
        if expires is not None:
            fields.insert(len(fields) - 1, (b"x", str(expires).encode()))
            for i, (k, v) in enumerate(fields):
                if k == b"t":
                    fields[i] = (b"t", str(expires - 3600).encode())
        return orig(self, fields, *args)

    dkim.DKIM.gen_header = with_x
    try:
        sig = d.sign(selector.encode(), domain.encode(), KEYS[key]["private"], signature_algorithm=KEYS[key]["alg"],
                     canonicalize=canon, include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                     length=length)
    finally:
        dkim.DKIM.gen_header = orig
    return sig + msg


def dkim_message(frm="Alice <alice@ours.example>", body="Hello from our tenant.\r\n", extra=""):
    return ("From: %s\r\nTo: bob@example.org\r\nSubject: signed\r\nMessage-ID: <d1@ours.example>\r\n"
            "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n%s\r\n%s" % (frm, extra, body)).encode()


DKIM_CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; } );
queue = { path = "QUEUE_DIR"; retry = [ "1h" ]; };
dns = { servers = [ "%(dns)s" ]; timeout = "2s"; };
relay_policy = { sender_domains = [ "ours.example", ".ours.example" ]; check_from = true; allow_null_sender = true;
                 require_dkim = [ "ours.example", "slow.example" ]; exempt = [ "127.0.0.2" ]; };
%(extra)s
"""


class DkimBase(unittest.TestCase):
    extra = ""
    sink_port = 9

    @classmethod
    def setUpClass(cls):
        cls.dns = DnsServer(zones=[("ours.example.", "static"), ("other.example.", "static"), ("slow.example.", "static")],
                            records=[txt("s1024._domainkey.ours.example.", KEYS["rsa1024"]["record"]),
                                     txt("s2048._domainkey.ours.example.", KEYS["rsa2048"]["record"]),
                                     txt("ed._domainkey.ours.example.", KEYS["ed"]["record"]),
                                     txt("t1._domainkey.other.example.", KEYS["other"]["record"])],
                            blackhole_zones=["_domainkey.slow.example."])
        cls.dns.start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def config(self):
        return DKIM_CONFIG % {"dns": self.dns.server, "sink": self.sink_port, "extra": self.extra}

    def setUp(self):
        self.relay = Relay(self.config()).start()

    def tearDown(self):
        stop_and_check(self, self.relay)

    def send(self, msg, sender="alice@ours.example", source="127.0.0.1"):
        with smtplib.SMTP("127.0.0.1", self.relay.port, timeout=30, source_address=(source, 0)) as s:
            s.ehlo("client.example")
            code, text = s.mail(sender)
            if code != 250:
                return code, text.decode()
            self.assertEqual(s.rcpt("bob@example.org")[0], 250)
            code, text = s.data(msg)
            return code, text.decode()

    def stored(self):
        """The one queued message, bytes as stored."""
        qid = self.relay.queue_list()[0]["id"]
        out = subprocess.run([BIN, "queue", "-c", self.relay.config_path, "show", qid],
                             capture_output=True, check=True).stdout
        return out.split(b"\n\n", 1)[1]


class DkimBindingTest(DkimBase):
    def accepted(self, msg, want_ar):
        code, text = self.send(msg)
        self.assertEqual(code, 250, text)
        stored = self.stored()
        self.assertTrue(stored.endswith(msg), "the original bytes are kept exactly")
        top = stored[:len(stored) - len(msg)].decode()
        self.assertRegex(top, r"^Received: from client\.example ")
        self.assertEqual(len(re.findall(r"(?m)^Authentication-Results:", top)), 1, top)
        self.assertRegex(top, r"Authentication-Results: relay\.test\.example;\r\n\t" + want_ar)
        return stored

    def test_rsa1024_relaxed_simple_passes(self):
        self.accepted(sign(dkim_message(), "ours.example", "s1024", "rsa1024"),
                      r"dkim=pass header\.d=ours\.example header\.s=s1024 header\.a=rsa-sha256 header\.b=")
        self.assertRegex(self.relay.log_text(), r"event=accepted .*client=127\.0\.0\.1 tls=none dkim=\"pass d=ours\.example s=s1024\"")

    def test_rsa2048_simple_simple_passes_through_swaks(self):
        msg = sign(dkim_message(), "ours.example", "s2048", "rsa2048", canon=(b"simple", b"simple"))
        path = os.path.join(self.relay.dir, "msg.eml")
        with open(path, "wb") as f:
            f.write(msg)
        r = self.relay.swaks("--from", "alice@ours.example", "--to", "bob@example.org", "--data", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("dkim=pass header.d=ours.example header.s=s2048", self.stored().decode())

    def test_ed25519_relaxed_relaxed_passes(self):
        self.accepted(sign(dkim_message(), "ours.example", "ed", "ed", canon=(b"relaxed", b"relaxed")),
                      r"dkim=pass header\.d=ours\.example header\.s=ed header\.a=ed25519-sha256")

    def test_length_tag_lets_text_be_appended(self):
        msg = sign(dkim_message(), "ours.example", "s2048", "rsa2048", length=True)
        self.assertIn(b"l=", msg.split(b"\r\n\r\n")[0])
        self.accepted(msg + b"Appended by a list.\r\n", r"dkim=pass header\.d=ours\.example")

    def refused(self, msg, want_log):
        code, text = self.send(msg)
        self.assertEqual(code, 550, text)
        self.assertIn("5.7.1 no valid DKIM signature by ours.example, slow.example", text)
        self.assertRegex(self.relay.log_text(), r"event=reject .*client=127\.0\.0\.1 .*reason=\"no valid DKIM signature\" "
                                                r"allowed=\"ours\.example, slow\.example\" dkim=" + want_log)
        self.assertEqual(self.relay.queue_list(), [])

    def test_tampered_body_refused(self):
        msg = sign(dkim_message(), "ours.example", "s1024", "rsa1024")
        self.refused(msg.replace(b"Hello from", b"Hullo from"), r"\"fail d=ours\.example s=s1024 \(body hash mismatch\)\"")

    def test_tampered_subject_refused(self):
        msg = sign(dkim_message(), "ours.example", "ed", "ed")
        self.refused(msg.replace(b"Subject: signed", b"Subject: forged"), r"\"fail d=ours\.example s=ed \(signature did not verify\)\"")

    def test_expired_signature_refused(self):
        import time
        msg = sign(dkim_message(), "ours.example", "s2048", "rsa2048", expires=int(time.time()) - 60)
        self.assertRegex(msg.split(b"\r\n\r\n")[0].decode(), r"x=\d+")
        self.refused(msg, r"\"permerror d=ours\.example s=s2048 \(signature expired")

    def test_other_tenants_signature_refused(self):
        # A valid signature, by a domain that is not listed: not even looked at.
        msg = sign(dkim_message(), "other.example", "t1", "other")
        self.refused(msg, "none")

    def test_unsigned_refused(self):
        self.refused(dkim_message(), "none")

    def test_key_lookup_timeout_is_temporary(self):
        msg = sign(dkim_message(), "slow.example", "s1", "rsa1024")
        code, text = self.send(msg)
        self.assertEqual(code, 451, text)
        self.assertIn("4.7.5", text)
        self.assertRegex(self.relay.log_text(), r"reason=\"DKIM key lookup failed\".*dkim=\"temperror d=slow\.example")

    def test_one_valid_listed_signature_is_enough(self):
        # A broken listed signature beside a valid one: accepted, both reported.
        good = sign(dkim_message(), "ours.example", "ed", "ed")
        bad = b"DKIM-Signature: v=1; a=rsa-sha256; d=ours.example; s=s1024; h=from; bh=AAAA; b=AAAA\r\n"
        self.accepted(bad + good, r"dkim=fail \(body hash mismatch\) header\.d=ours\.example header\.s=s1024")
        self.assertIn("dkim=pass header.d=ours.example header.s=ed", self.stored().decode())

    def test_forged_auth_results_with_our_id_removed(self):
        extra = ("Authentication-Results: RELAY.test.example; dkim=pass header.d=ours.example\r\n"
                 "Authentication-Results: mx.upstream.example; spf=pass smtp.mailfrom=ours.example\r\n")
        msg = sign(dkim_message(extra=extra), "ours.example", "s1024", "rsa1024")
        code, text = self.send(msg)
        self.assertEqual(code, 250, text)
        stored = self.stored().decode()
        self.assertNotIn("RELAY.test.example", stored)
        self.assertIn("Authentication-Results: mx.upstream.example; spf=pass", stored)
        self.assertEqual(len(re.findall(r"(?mi)^Authentication-Results: relay\.test\.example", stored)), 1)
        # The upstream signature still verifies after our headers went on top.
        self.assertTrue(dkim.verify(stored.encode(), dnsfunc=lambda name, timeout=5:
                                    KEYS["rsa1024"]["record"].encode() if name == b"s1024._domainkey.ours.example." else None))

    def test_null_sender_and_exempt_client_skip_dkim(self):
        self.assertEqual(self.send(dkim_message(), sender="")[0], 250)
        code, text = self.send(dkim_message(frm="x@other.example"), sender="x@other.example", source="127.0.0.2")
        self.assertEqual(code, 250, text)
        for m in self.relay.queue_list():
            out = self.relay.cli("queue", "show", m["id"]).stdout
            self.assertNotIn("Authentication-Results", out)
            self.assertIn("Received: from client.example", out)


def dns_of(records):
    """A dnsfunc for python3-dkim answering from {name: record}."""
    return lambda name, timeout=5: records.get(name.decode().rstrip("."), "").encode() or None


class DkimSignTest(DkimBase):
    """dkim_sign: relayed mail signed for its From: domain, checked by python3-dkim at the sink."""
    resign = "false"

    def setUp(self):
        self.sink = SmtpPeer("plain")
        self.sink.start()
        self.sink_port = self.sink.port
        self.extra = ('dkim_sign = ( { domain = "ours.example"; selector = "s2048"; key = "%s"; resign = %s; } );'
                      % (KEYS["rsa2048"]["file"], self.resign))
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.sink.cleanup()

    def delivered(self, msg, **kw):
        code, text = self.send(msg, **kw)
        self.assertEqual(code, 250, text)
        return self.sink.wait_messages(1, timeout=30)[0]["data"]

    def keys(self):
        return dns_of({"s2048._domainkey.ours.example": KEYS["rsa2048"]["record"],
                       "ed._domainkey.ours.example": KEYS["ed"]["record"]})

    def test_unsigned_message_is_signed_above_our_received(self):
        # From the exempt client: no binding, but signing applies to every relayed message.
        msg = dkim_message()
        data = self.delivered(msg, source="127.0.0.2")
        self.assertTrue(data.endswith(msg), "the original bytes follow our headers unchanged")
        names = [l.split(b":")[0] for l in data.split(b"\r\n\r\n")[0].split(b"\r\n") if l and l[0:1] not in b" \t"]
        self.assertEqual(names[:2], [b"DKIM-Signature", b"Received"], names)
        self.assertIn(b"d=ours.example", data.split(b"Received:")[0])
        self.assertTrue(dkim.verify(data, dnsfunc=self.keys()), "our signature verifies with python3-dkim")

    def test_valid_signature_by_the_domain_signed_again_only_with_resign(self):
        msg = sign(dkim_message(), "ours.example", "ed", "ed")
        data = self.delivered(msg)
        self.assertEqual(data.count(b"DKIM-Signature:"), 2 if self.resign == "true" else 1)
        d = dkim.DKIM(data)
        for idx in range(data.count(b"DKIM-Signature:")):
            # ours (with resign) first, then the upstream one, which still verifies below our headers
            self.assertTrue(d.verify(idx=idx, dnsfunc=self.keys()), "signature %d verifies" % idx)
        self.assertIn(b"s=ed", data.split(b"Received:")[1])

    def test_broken_signature_by_the_domain_is_signed(self):
        msg = sign(dkim_message(), "ours.example", "ed", "ed").replace(b"Hello", b"Hullo")
        data = self.delivered(msg, source="127.0.0.2")
        self.assertEqual(data.count(b"DKIM-Signature:"), 2)
        self.assertTrue(dkim.verify(data, dnsfunc=self.keys()), "ours, the first, verifies")


class DkimResignTest(DkimSignTest):
    resign = "true"


class CheckMessageTest(DkimBase):
    """smarthost check-message and check-config: the binding in words, nothing sent."""

    def setUp(self):
        self.relay = Relay(self.config())  # not started: the tools read the config only

    def tearDown(self):
        self.relay.cleanup()

    def check(self, msg, *args):
        path = os.path.join(self.relay.dir, "msg.eml")
        with open(path, "wb") as f:
            f.write(msg.replace(b"\r\n", b"\n"))  # as a file on disk: LF line ends
        return self.relay.cli("check-message", "--file", path, *args, check=False)

    def test_verdicts_and_exit_status(self):
        r = self.check(sign(dkim_message(), "ours.example", "ed", "ed"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("client: 127.0.0.0\nsender: <alice@ours.example>\n", r.stdout)
        self.assertIn("dkim: pass d=ours.example s=ed a=ed25519-sha256\n", r.stdout)
        self.assertIn("verdict: accept (250)", r.stdout)

        r = self.check(dkim_message())
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("dkim: no signature by ours.example, slow.example", r.stdout)
        self.assertIn("verdict: reject (550 5.7.1 at end of DATA: no valid DKIM signature by ours.example, slow.example",
                      r.stdout)

        r = self.check(sign(dkim_message(), "slow.example", "s1", "rsa1024"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("verdict: temporary failure (451 4.7.5", r.stdout)

        r = self.check(dkim_message(frm="eve@other.example"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("550 5.7.1 at MAIL: <eve@other.example>: sender domain other.example is not relayed here", r.stdout)

        r = self.check(dkim_message(), "--sender", "alice@ours.example", "--client", "127.0.0.2")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("client 127.0.0.2 is exempt", r.stdout)

        r = self.check(dkim_message(), "--sender", "<>")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("the null sender is allowed", r.stdout)

        r = self.check(dkim_message(), "--client", "192.0.2.1")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("client is not in allow", r.stdout)

        r = self.relay.cli("check-message", "--file", "/nonexistent.eml", check=False)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)

    def test_check_config_explains_the_binding(self):
        r = self.relay.cli("check-config")
        self.assertIn("relay_policy: accepting mail from 127.0.0.0/8 only for senders @ours.example or @*.ours.example "
                      "(envelope and From: header) with a valid DKIM signature by ours.example or slow.example; the "
                      "null sender (bounces) is accepted without these checks; clients 127.0.0.2 are exempt\n", r.stdout)

    def test_check_config_warns_about_a_shared_range_without_binding(self):
        self.relay.write_config(BINDING.replace('allow = [ "127.0.0.0/8" ];', 'allow = [ "127.0.0.0/8", "209.85.128.0/17" ];')
                                .replace("relay_policy = { sender_domains = [ \"example.com\", \".example.com\" ]; check_from = true;",
                                         "relay_policy = {") % {"null": "true"})
        r = self.relay.cli("check-config")
        self.assertRegex(r.stderr, r"smarthost\.cfg:\d+: warning: allow\[1\]: '209\.85\.128\.0/17' holds 209\.85\.128\.0/17, "
                                   r"shared by every Google Workspace customer")
        self.assertIn("relay_policy: accepting mail from 127.0.0.0/8 or 209.85.128.0/17 for any sender", r.stdout)

    def test_help_page(self):
        r = subprocess.run([BIN, "help", "check-message"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertIn("smarthost check-message [-c FILE] [--client IP] [--sender ADDR] [--file MSG]", r.stdout)


if __name__ == "__main__":
    unittest.main()
