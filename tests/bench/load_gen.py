#!/usr/bin/python3
"""load_gen.py - the benchmark's SMTP load generator for what smtp-source cannot do.

smtp-source sends every message to one recipient address and has no STARTTLS. The `domains`
scenario needs recipients spread over thousands of domains, and `tls_both` needs STARTTLS on
the inbound leg; both MTAs of a scenario get this same generator, so the ratio stays fair.
(One smtp-source per domain was tried: spawning costs several ms of CPU per process here.)

    load_gen.py --port N --sessions S --messages M --size BYTES [--starttls]
                [--domains D] [--per-conn K] [--procs P] [--max-seconds T] [--host 127.x.y.z]

S concurrent sessions share M messages; each session connects, EHLO (STARTTLS and EHLO again
with --starttls, no certificate check: the bench's own test PKI), sends up to K messages
(default 1: one connection per message, as smtp-source without -d), MAIL/RCPT/DATA pipelined,
then the data, then QUIT, and reconnects while messages are left. Message i goes to
r<i>@d<i % D>.bench.example; its Subject carries "seq i". A refused transaction or a broken
session counts an error and its message is not retried.

Speed: asyncio Protocols driven by callbacks (a coroutine per reply costs several times more:
Python, not the MTA, would be the limit). --procs P forks P processes that split S and M, for
when one core of Python is not enough.

At the end one line per process goes to stdout: "sent=A errors=E seconds=T"; errors also to
stderr. Exit 0 when every message got its 250. Bounded by M and --max-seconds; connects to
--host (default 127.0.0.1), loopback only.
"""
import argparse
import asyncio
import os
import ssl
import sys
import time


class Load:
    """What all sessions of one process share: the message counter and the tallies."""

    def __init__(self, a, first, count):
        self.a = a
        self.next, self.end = first, first + count
        self.sent = 0
        self.errors = 0
        self.deadline = time.monotonic() + a.max_seconds
        self.ctx = None
        if a.starttls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        filler = ("x" * 78 + "\r\n").encode()
        self.filler = filler * max(1, (a.size - 200) // len(filler)) + b".\r\n"

    def take(self):
        """The next message number, or None when all are taken or time is up."""
        if self.next >= self.end or time.monotonic() > self.deadline:
            return None
        self.next += 1
        return self.next - 1

    def message(self, i):
        rcpt = "r%d@d%d.bench.example" % (i, i % self.a.domains)
        cmds = ("MAIL FROM:<bench@source.bench.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt).encode()
        head = ("From: <bench@source.bench.example>\r\nTo: <%s>\r\nSubject: seq %d\r\n"
                "Message-ID: <%d.load@source.bench.example>\r\n\r\n" % (rcpt, i, i)).encode()
        return cmds, head + self.filler


class Session(asyncio.Protocol):
    """One connection: counts whole replies and moves on when the expected number arrived."""

    def __init__(self, load, first, done):
        self.load, self.i, self.done = load, first, done
        self.buf = b""
        self.codes = []
        self.want = 1
        self.step = self.on_greeting
        self.sent_here = 0
        self.transport = None
        self.failed = False

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) >= 4 and line[3:4] == b"-":
                continue
            self.codes.append(int(line[:3]) if line[:3].isdigit() else 0)
            if len(self.codes) == self.want:
                codes, self.codes = self.codes, []
                self.step(codes)

    def expect(self, n, step, data):
        self.want, self.step = n, step
        self.transport.write(data)

    def fail(self, why):
        if not self.failed:
            self.failed = True
            self.load.errors += 1
            sys.stderr.write("load_gen: %s\n" % why)
        self.transport.close()

    def on_greeting(self, codes):
        if codes != [220]:
            return self.fail("greeting %s" % codes)
        self.expect(1, self.on_ehlo, b"EHLO load.bench.example\r\n")

    def on_ehlo(self, codes):
        if codes != [250]:
            return self.fail("EHLO %s" % codes)
        if self.load.ctx and not self.transport.get_extra_info("sslcontext"):
            return self.expect(1, self.on_starttls, b"STARTTLS\r\n")
        self.send_message()

    def on_starttls(self, codes):
        if codes != [220]:
            return self.fail("STARTTLS %s" % codes)
        asyncio.ensure_future(self.upgrade())

    async def upgrade(self):
        try:
            loop = asyncio.get_running_loop()
            self.transport = await loop.start_tls(self.transport, self, self.load.ctx,
                                                  server_hostname="relay.bench.example")
        except (OSError, ssl.SSLError, ConnectionError) as e:
            return self.fail("TLS handshake: %s" % e)
        self.expect(1, self.on_ehlo, b"EHLO load.bench.example\r\n")

    def send_message(self):
        self.cmds, self.data = self.load.message(self.i)
        self.expect(3, self.on_envelope, self.cmds)

    def on_envelope(self, codes):
        if codes != [250, 250, 354]:
            self.load.errors += 1
            sys.stderr.write("load_gen: transaction refused %s\n" % codes)
            return self.expect(1, self.on_result_after_rset, b"RSET\r\n")
        self.expect(1, self.on_result, self.data)

    def on_result(self, codes):
        if codes == [250]:
            self.load.sent += 1
        else:
            self.load.errors += 1
            sys.stderr.write("load_gen: message refused %s\n" % codes)
        self.next_or_quit()

    def on_result_after_rset(self, codes):
        self.next_or_quit()

    def next_or_quit(self):
        self.sent_here += 1
        self.i = self.load.take() if self.sent_here < self.load.a.per_conn else None
        if self.i is None:
            return self.expect(1, self.on_quit, b"QUIT\r\n")
        self.send_message()

    def connection_lost(self, exc):
        if not self.failed and self.i is not None:
            self.load.errors += 1
            sys.stderr.write("load_gen: connection lost: %s\n" % (exc or "closed"))
        if not self.done.done():
            self.done.set_result(None)

    def on_quit(self, codes):
        self.transport.close()


async def session_loop(load):
    loop = asyncio.get_running_loop()
    while True:
        first = load.take()
        if first is None:
            return
        done = loop.create_future()
        try:
            await loop.create_connection(lambda: Session(load, first, done), load.a.host, load.a.port)
        except OSError as e:
            load.errors += 1
            sys.stderr.write("load_gen: connect: %s\n" % e)
            await asyncio.sleep(0.05)
            continue
        await done


async def run(a, first, count, sessions):
    load = Load(a, first, count)
    t0 = time.monotonic()
    await asyncio.gather(*(session_loop(load) for _ in range(sessions)))
    print("sent=%d errors=%d seconds=%.3f" % (load.sent, load.errors, time.monotonic() - t0))
    sys.stdout.flush()
    return 0 if load.errors == 0 and load.sent == count else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--domains", type=int, default=1)
    ap.add_argument("--per-conn", type=int, default=1)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=900)
    a = ap.parse_args()
    if not a.host.startswith("127."):
        sys.exit("load_gen connects to loopback (127.0.0.0/8) only")
    procs = max(1, min(a.procs, a.sessions))
    kids, first = [], 0
    for k in range(procs):
        count = a.messages // procs + (k < a.messages % procs)
        sessions = a.sessions // procs + (k < a.sessions % procs)
        if k == procs - 1:
            rc = asyncio.run(run(a, first, count, sessions))
            break
        pid = os.fork()
        if pid == 0:
            os._exit(asyncio.run(run(a, first, count, sessions)))
        kids.append(pid)
        first += count
    for pid in kids:  # ours, by PID
        rc |= os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
