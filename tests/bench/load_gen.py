#!/usr/bin/python3
"""load_gen.py - the benchmark's SMTP load generator for what smtp-source cannot do.

smtp-source sends every message to one recipient address and has no STARTTLS. The `domains`
scenario needs recipients spread over thousands of domains, and `tls_both` needs STARTTLS on
the inbound leg; both MTAs of a scenario get this same generator, so the ratio stays fair.

    load_gen.py --port N --sessions S --messages M --size BYTES [--starttls]
                [--domains D] [--rcpt-template 'r{seq}@d{dom}.bench.example']
                [--per-conn K] [--max-seconds T]

S concurrent sessions on 127.0.0.1:N share M messages; each session connects, EHLO
(STARTTLS and EHLO again with --starttls, no certificate check: the bench's own test PKI),
sends up to K messages (default 1: one connection per message, as smtp-source without -d),
MAIL/RCPT/DATA pipelined, then the data, then QUIT, and reconnects while messages are left.
Message number i goes to domain i % D; its Subject carries "seq i". Every message is counted
once: a refused transaction or a broken session counts an error and is not retried.

At the end one line is printed: "sent=A errors=E seconds=T" (T from the first connect to the last
250). Bounded by --messages and --max-seconds; connects to --host (default 127.0.0.1), loopback
only.
"""
import argparse
import asyncio
import ssl
import sys
import time


class Load:
    def __init__(self, a):
        self.a = a
        self.next = 0
        self.sent = 0
        self.errors = 0
        self.deadline = time.monotonic() + a.max_seconds
        self.ctx = None
        if a.starttls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            self.ctx.check_hostname = False
            self.ctx.verify_mode = ssl.CERT_NONE
        filler = ("x" * 78 + "\r\n").encode()
        self.lines = max(1, (a.size - 200) // len(filler))
        self.filler = filler * self.lines

    def take(self):
        """The next message number, or None when all are taken or time is up."""
        if self.next >= self.a.messages or time.monotonic() > self.deadline:
            return None
        self.next += 1
        return self.next - 1

    def message(self, i):
        rcpt = self.a.rcpt_template.format(seq=i, dom=i % self.a.domains)
        head = ("From: <bench@source.bench.example>\r\nTo: <%s>\r\nSubject: seq %d\r\n"
                "Message-ID: <%d.load@source.bench.example>\r\n\r\n" % (rcpt, i, i)).encode()
        cmds = ("MAIL FROM:<bench@source.bench.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt).encode()
        return cmds, head + self.filler + b".\r\n"


async def reply(reader):
    """One whole reply's code (continuation lines read to the last)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3])


async def session(load):
    a = load.a
    while True:
        first = load.take()
        if first is None:
            return
        i = first
        try:
            reader, writer = await asyncio.open_connection(a.host, a.port, limit=1 << 20)
        except OSError:
            load.errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            if await reply(reader) != 220:
                raise ConnectionError("no greeting")
            writer.write(b"EHLO load.bench.example\r\n")
            if await reply(reader) != 250:
                raise ConnectionError("EHLO refused")
            if load.ctx:
                writer.write(b"STARTTLS\r\n")
                if await reply(reader) != 220:
                    raise ConnectionError("STARTTLS refused")
                await writer.start_tls(load.ctx, server_hostname="relay.bench.example")
                writer.write(b"EHLO load.bench.example\r\n")
                if await reply(reader) != 250:
                    raise ConnectionError("EHLO after STARTTLS refused")
            done = 0
            while i is not None:
                cmds, data = load.message(i)
                writer.write(cmds)
                codes = [await reply(reader), await reply(reader), await reply(reader)]
                if codes != [250, 250, 354]:
                    load.errors += 1
                    writer.write(b"RSET\r\n")
                    await reply(reader)
                else:
                    writer.write(data)
                    if await reply(reader) == 250:
                        load.sent += 1
                    else:
                        load.errors += 1
                done += 1
                i = load.take() if done < a.per_conn else None
            writer.write(b"QUIT\r\n")
            await reply(reader)
        except (OSError, ConnectionError, ssl.SSLError, ValueError, asyncio.IncompleteReadError):
            load.errors += 1
        finally:
            writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--starttls", action="store_true")
    ap.add_argument("--domains", type=int, default=1)
    ap.add_argument("--rcpt-template", default="r{seq}@d{dom}.bench.example")
    ap.add_argument("--per-conn", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=900)
    a = ap.parse_args()
    if not a.host.startswith("127."):
        sys.exit("load_gen connects to loopback (127.0.0.0/8) only")
    load = Load(a)
    t0 = time.monotonic()
    await asyncio.gather(*(session(load) for _ in range(a.sessions)))
    print("sent=%d errors=%d seconds=%.3f" % (load.sent, load.errors, time.monotonic() - t0))
    return 0 if load.errors == 0 and load.sent == a.messages else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
