#!/usr/bin/python3
"""smtp_peer_server.py - the SMTP server process behind smtp_peer.SmtpPeer (aiosmtpd 1.4).

Run by smtp_peer.py as `/usr/bin/python3 smtp_peer_server.py CONFIG.json`; not meant to be run by
hand. It listens on the configured loopback address, prints "READY <port>" on stdout once the
socket listens, and then serves until SIGTERM/SIGINT. Everything it sees goes to files in the
config's "dir", so that the test process can read it without talking to this process:

  events.jsonl   one JSON object per line, written with a single O_APPEND write (a reader never
                 sees half a line except at the very end, which it must ignore)
  msg-NNNN.eml   each accepted message: the DATA bytes exactly as aiosmtpd returns them, i.e. after
                 dot un-stuffing, CRLF line ends kept, without the final ".CRLF"

Fault injection (all optional, see smtp_peer.py for the meaning of each key): replies per stage,
replies per recipient, "first N attempts fail", stalls (never answer at a stage), broken STARTTLS
handshakes, TLS version and cipher limits.

How it fails: a bad config or an unusable certificate raises before READY is printed; the
traceback goes to stderr (server.log in the peer's dir) and the exit status is 1. Errors inside a
session are logged as {"event": "error"} and answered like aiosmtpd does (500), never fatal.
"""
import asyncio
import json
import os
import signal
import socket
import ssl
import struct
import sys
import time

from aiosmtpd.smtp import SMTP, TLSSetupException

TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class Recorder:
    """Appends events and message files to the peer's folder; holds the process-wide counters."""

    def __init__(self, folder):
        self.dir = folder
        self.fd = os.open(os.path.join(folder, "events.jsonl"),
                          os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.connections = 0
        self.messages = 0
        self.attempts = {}          # stage -> attempts seen so far (for fail_first)

    def event(self, kind, **fields):
        rec = {"t": round(time.time(), 6), "event": kind}
        rec.update(fields)
        # One write per line: O_APPEND makes it atomic for readers in the test process.
        os.write(self.fd, (json.dumps(rec, sort_keys=True) + "\n").encode())

    def save(self, data):
        self.messages += 1
        name = "msg-%04d.eml" % self.messages
        tmp = os.path.join(self.dir, "." + name)
        with open(tmp, "wb") as f:
            f.write(data)
        # Rename so that the file is complete before its event line names it.
        os.rename(tmp, os.path.join(self.dir, name))
        return name


def code_of(reply):
    try:
        return int(reply[:3])
    except (TypeError, ValueError):
        return 0


def wire(reply):
    """Callers write multi-line replies with \\n; SMTP wants CRLF between the lines."""
    return reply.replace("\r\n", "\n").replace("\n", "\r\n")


class Handler:
    """aiosmtpd hooks: decide each reply from the config and log what happened."""

    def __init__(self, cfg, rec):
        self.cfg = cfg
        self.rec = rec
        self.replies = {k.lower(): v for k, v in (cfg.get("replies") or {}).items()}
        self.rcpt_replies = {k.lower(): v for k, v in (cfg.get("rcpt_replies") or {}).items()}
        self.fail_first = {k.lower(): int(v) for k, v in (cfg.get("fail_first") or {}).items()}
        self.stall = {s.lower() for s in (cfg.get("stall") or [])}
        self.stall_seconds = float(cfg.get("stall_seconds", 600))
        self.resume = bool(cfg.get("resume_after_stall", False))

    def injected(self, stage):
        """The reply forced for this stage, or None to go on normally.

        Order: a fixed reply for the stage wins; otherwise the first N attempts of the stage
        (counted over the life of the server, across connections) get the fail reply."""
        if stage in self.replies:
            return self.replies[stage]
        n = self.fail_first.get(stage, 0)
        if n:
            seen = self.rec.attempts.get(stage, 0)
            self.rec.attempts[stage] = seen + 1
            if seen < n:
                default = ("421 4.3.2 Service not available, try again later" if stage == "connect"
                           else "451 4.3.0 Temporary failure, try again later")
                return self.cfg.get("fail_reply") or default
        return None

    async def stall_if(self, server, stage):
        if stage in self.stall:
            self.rec.event("stall", conn=server.conn_id, stage=stage)
            await asyncio.sleep(self.stall_seconds)
            return not self.resume  # resume: the stage then goes on as if nothing happened
        return False

    async def handle_HELO(self, server, session, envelope, hostname):
        self.rec.event("helo", conn=server.conn_id, name=hostname)
        if await self.stall_if(server, "ehlo"):
            return "421 4.4.2 stalled too long"
        forced = self.injected("ehlo")
        if forced:
            return wire(forced)
        session.host_name = hostname
        return "250 %s" % server.hostname

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # The 5-argument hook replaces aiosmtpd's list and must set host_name itself.
        self.rec.event("ehlo", conn=server.conn_id, name=hostname, tls=server.tls is not None)
        if await self.stall_if(server, "ehlo"):
            return ["421 4.4.2 stalled too long"]
        forced = self.injected("ehlo")
        if forced:
            return [wire(forced)]
        session.host_name = hostname
        lines = [r[4:] for r in responses]          # drop "250-" / "250 "
        head, exts = lines[0], [x for x in lines[1:] if x != "HELP"]
        if self.cfg.get("pipelining", True):
            exts.insert(0, "PIPELINING")
        exts += list(self.cfg.get("ehlo_add") or [])
        if self.cfg.get("requiretls") and server.tls is not None:
            exts.append("REQUIRETLS")  # RFC 8689 3: offered only over TLS
        drop = {x.upper() for x in (self.cfg.get("ehlo_remove") or [])}
        exts = [x for x in exts if x.split()[0].upper() not in drop]
        lines = [head] + exts
        self.rec.event("ehlo_reply", conn=server.conn_id, extensions=exts)
        return ["250-" + x for x in lines[:-1]] + ["250 " + lines[-1]]

    def handle_STARTTLS(self, server, session, envelope):
        # Called synchronously by aiosmtpd once the handshake is complete.
        obj = (session.ssl or {}).get("ssl_object")
        info = {"version": None, "cipher": None, "bits": None, "sni": None, "client_cert": None}
        if obj is not None:
            name, _, bits = obj.cipher() or (None, None, None)
            info.update(version=obj.version(), cipher=name, bits=bits,
                        sni=getattr(obj, "peer_sni", None))
            peer = obj.getpeercert()
            if peer:
                subject = dict(x[0] for x in peer.get("subject", ()))
                info["client_cert"] = subject.get("commonName")
        server.tls = info
        self.rec.event("starttls", conn=server.conn_id, **info)
        return True

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if await self.stall_if(server, "mail"):
            return "421 4.4.2 stalled too long"
        server.mails += 1
        how = self.cfg.get("hangup_on_reuse")
        if how and server.mails > 1:
            self.rec.event("hangup", conn=server.conn_id, stage="mail")
            if how == "421":  # the server's idle-timeout 421 crossing the client's MAIL
                asyncio.get_event_loop().call_soon(server.transport.close)
                return "421 4.4.2 mx.test.example Error: timeout exceeded"
            server.transport.close()
            return "421 4.4.2 closing (never sent: the connection is gone)"
        reply = self.injected("mail") or "250 2.1.0 Ok"
        if code_of(reply) // 100 == 2:
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
        if server.requiretls:
            mail_options = list(mail_options) + ["REQUIRETLS"]
        self.rec.event("mail", conn=server.conn_id, address=address, options=mail_options,
                       code=code_of(reply), reply=reply)
        return wire(reply)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if await self.stall_if(server, "rcpt"):
            return "421 4.4.2 stalled too long"
        low = address.lower()
        reply = self.rcpt_replies.get(low) or self.rcpt_replies.get(low.rsplit("@", 1)[0])
        reply = reply or self.injected("rcpt") or "250 2.1.5 Ok"
        if code_of(reply) // 100 == 2:
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        self.rec.event("rcpt", conn=server.conn_id, address=address, options=rcpt_options,
                       code=code_of(reply), reply=reply)
        return wire(reply)

    async def handle_DATA(self, server, session, envelope):
        # End of DATA (after the final dot); stage name "eod".
        data = envelope.original_content or b""
        if await self.stall_if(server, "eod"):
            return "421 4.4.2 stalled too long"
        reply = self.injected("eod")
        fields = dict(conn=server.conn_id, mail_from=envelope.mail_from,
                      rcpt_tos=list(envelope.rcpt_tos), size=len(data),
                      tls_version=(server.tls or {}).get("version"),
                      tls_cipher=(server.tls or {}).get("cipher"),
                      ehlo=session.host_name, file=None)
        if reply is None:
            if self.cfg.get("save", True):
                fields["file"] = self.rec.save(data)
            else:
                self.rec.messages += 1          # a pure sink: count, keep nothing
            reply = "250 2.0.0 Ok: queued as %d" % self.rec.messages
        self.rec.event("eod", code=code_of(reply), reply=reply, **fields)
        return wire(reply)

    async def handle_RSET(self, server, session, envelope):
        self.rec.event("rset", conn=server.conn_id)
        return "250 2.0.0 Ok"

    async def handle_QUIT(self, server, session, envelope):
        self.rec.event("quit", conn=server.conn_id)
        return "221 2.0.0 Bye"



class PeerSMTP(SMTP):
    """aiosmtpd's SMTP with the connection-level faults: greeting, DATA command, STARTTLS."""

    def __init__(self, handler, rec, cfg, **kwargs):
        super().__init__(handler, **kwargs)
        self.h = handler
        self.rec = rec
        self.cfg = cfg
        self.conn_id = None
        self.tls = None
        self.mails = 0  # MAIL commands on this connection
        self.requiretls = False  # the current MAIL had REQUIRETLS (requiretls=True peers)
        self._close_logged = False

    def connection_made(self, transport):
        if self.transport is None:          # the TCP connection, not the STARTTLS re-wrap
            self.rec.connections += 1
            self.conn_id = self.rec.connections
            peer = transport.get_extra_info("peername")
            self.rec.event("connect", conn=self.conn_id, count=self.rec.connections,
                           peer=list(peer[:2]) if peer else None)
        super().connection_made(transport)

    def connection_lost(self, error):
        if not self._close_logged:
            self._close_logged = True
            self.rec.event("close", conn=self.conn_id, error=str(error) if error else None)
        super().connection_lost(error)

    async def smtp_MAIL(self, arg):
        # aiosmtpd 1.4 knows no REQUIRETLS (RFC 8689) and refuses unknown parameters: with
        # requiretls=True this peer takes it over TLS (530 5.7.10 before), and the "mail" event
        # lists it among the options.
        self.requiretls = False
        words = (arg or "").split()
        if self.cfg.get("requiretls") and any(w.upper() == "REQUIRETLS" for w in words[1:]):
            if self.tls is None:
                await self.push("530 5.7.10 REQUIRETLS needs TLS")
                return
            self.requiretls = True
            arg = " ".join([words[0]] + [w for w in words[1:] if w.upper() != "REQUIRETLS"])
        await super().smtp_MAIL(arg)

    async def handle_exception(self, error):
        # aiosmtpd closes the connection itself after a TLSSetupException (no reply is sent).
        if isinstance(error, TLSSetupException):
            cause = error.__cause__
            self.rec.event("starttls_failed", conn=self.conn_id,
                           error="%s: %s" % (type(cause).__name__, cause))
            return "454 4.7.0 TLS handshake failed"
        self.rec.event("error", conn=self.conn_id, error="%s: %s" % (type(error).__name__, error))
        return "500 5.5.0 Error: (%s) %s" % (type(error).__name__, error)

    async def _handle_client(self):
        if await self.h.stall_if(self, "connect"):
            self.transport.close()
            return
        forced = self.h.injected("connect")
        if forced and code_of(forced) // 100 != 2:
            # 421/554 at the greeting: say it and hang up (as Postfix's postscreen does).
            self.rec.event("greeting", conn=self.conn_id, code=code_of(forced), reply=forced)
            await self.push(wire(forced))
            self.transport.close()
            return
        self.rec.event("greeting", conn=self.conn_id, code=220, reply="220 " + self.hostname)
        await super()._handle_client()

    async def smtp_DATA(self, arg):
        # The reply to the DATA command itself (before 354); stage name "data".
        if self.envelope.rcpt_tos and not arg and self.session.host_name:
            if await self.h.stall_if(self, "data"):
                return await self.push("421 4.4.2 stalled too long")
            forced = self.h.injected("data")
            if forced:
                self.rec.event("data", conn=self.conn_id, code=code_of(forced), reply=forced)
                return await self.push(wire(forced))
            self.rec.event("data", conn=self.conn_id, code=354, reply="354")
        await super().smtp_DATA(arg)

    async def smtp_STARTTLS(self, arg):
        brk = self.cfg.get("handshake_break")
        if not self.tls_context or arg or not (brk or "starttls" in self.h.stall):
            return await super().smtp_STARTTLS(arg)
        await self.push("220 2.0.0 Ready to start TLS")
        if await self.h.stall_if(self, "starttls"):
            self.transport.close()
            return
        # Wait (bounded) for the ClientHello, so the break happens mid-handshake, not before it.
        got = b""
        try:
            got = await asyncio.wait_for(self._reader.read(16384), 10)
        except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        self.rec.event("starttls_broken", conn=self.conn_id, how=brk, client_hello_bytes=len(got),
                       looks_like_tls=got[:1] == b"\x16")
        if brk == "garbage":
            self._writer.write(b"this is not a TLS record\r\n" * 4)
        elif brk == "reset":
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._handler_coroutine.cancel()
        self.transport.close()


def tls_context(cfg):
    t = cfg["tls"]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(t["cert"], t["key"])
    lo, hi = t.get("min"), t.get("max")
    if lo:
        ctx.minimum_version = TLS_VERSIONS[lo]
    if hi:
        ctx.maximum_version = TLS_VERSIONS[hi]
    ciphers = t.get("ciphers")
    if (lo in ("1.0", "1.1") or hi in ("1.0", "1.1")) and not ciphers:
        # OpenSSL 3 refuses TLS < 1.2 (SHA-1 signatures) unless the security level is 0.
        ciphers = "DEFAULT:@SECLEVEL=0"
        if not lo:
            ctx.minimum_version = TLS_VERSIONS["1.0"]
    if ciphers:
        ctx.set_ciphers(ciphers)
    if t.get("request_client_cert"):
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(t["ca_file"])
        # Clients (swaks, often our relay too) may send only the leaf: trust the test
        # intermediate as well so that such a chain still verifies.
        for extra in t.get("extra_ca_files") or ():
            ctx.load_verify_locations(extra)

    def sni(obj, name, _ctx):
        # Remember what the client sent as SNI, for the starttls event.
        try:
            obj.peer_sni = name
        except AttributeError:
            pass
        return None
    ctx.sni_callback = sni
    return ctx


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    rec = Recorder(cfg["dir"])
    handler = Handler(cfg, rec)
    ctx = tls_context(cfg) if cfg.get("tls") else None
    timeout = float(cfg.get("timeout", 300))
    if handler.stall:
        timeout = max(timeout, handler.stall_seconds)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    def factory():
        return PeerSMTP(handler, rec, cfg, hostname=cfg.get("hostname", "mx.test.example"),
                        ident="smtp_peer (aiosmtpd)", tls_context=ctx, require_starttls=False,
                        auth_require_tls=False, enable_SMTPUTF8=cfg.get("smtputf8", True),
                        data_size_limit=cfg.get("size_limit", 33554432), timeout=timeout,
                        loop=loop)

    server = loop.run_until_complete(
        loop.create_server(factory, host=cfg["host"], port=int(cfg.get("port") or 0),
                           reuse_address=True))
    port = server.sockets[0].getsockname()[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    rec.event("listening", host=cfg["host"], port=port, pid=os.getpid())
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    try:
        loop.run_forever()
    finally:
        server.close()
        rec.event("stopped")


if __name__ == "__main__":
    main()
