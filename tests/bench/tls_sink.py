#!/usr/bin/python3
"""tls_sink.py - a small, fast, discarding SMTP server with STARTTLS, for the benchmark.

Postfix's smtp-sink has no TLS, so the TLS scenario needs another next hop that is the same for
both MTAs. This one speaks just enough ESMTP (EHLO with PIPELINING and STARTTLS, MAIL, RCPT,
DATA, RSET, NOOP, QUIT), answers every transaction 250, throws the message away and counts it.

    tls_sink.py --port N --cert C.pem --key K.pem --count-file F [--require-tls]

It prints "READY <port>" once listening. The number of messages accepted so far is rewritten
into --count-file every 50 ms (one decimal number and a newline), so the benchmark can read it
without talking to this process. Stops on SIGTERM/SIGINT. Loopback only.
"""
import argparse
import asyncio
import os
import signal
import ssl
import sys


class Sink:
    def __init__(self, ctx, require_tls):
        self.ctx = ctx
        self.require_tls = require_tls
        self.count = 0
        self.sessions = 0

    async def session(self, reader, writer):
        self.sessions += 1
        tls = False
        try:
            writer.write(b"220 sink.test.example ESMTP bench sink\r\n")
            while True:
                line = await reader.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb == b"EHLO" or verb == b"HELO":
                    ext = b"250-sink.test.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                    if not tls and self.ctx is not None:
                        ext += b"250-STARTTLS\r\n"
                    writer.write(ext + b"250 SIZE 104857600\r\n")
                elif verb == b"STAR":
                    if tls or self.ctx is None:
                        writer.write(b"503 5.5.1 TLS not available\r\n")
                        continue
                    writer.write(b"220 2.0.0 go ahead\r\n")
                    await writer.drain()
                    await writer.start_tls(self.ctx)
                    tls = True
                elif verb == b"MAIL" or verb == b"RCPT":
                    if self.require_tls and not tls:
                        writer.write(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
                    else:
                        writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == b"DATA":
                    if self.require_tls and not tls:
                        writer.write(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
                        continue
                    writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    first = await reader.readline()
                    if first != b".\r\n":
                        await reader.readuntil(b"\r\n.\r\n")
                    self.count += 1
                    writer.write(b"250 2.0.0 Ok: discarded\r\n")
                elif verb == b"RSET" or verb == b"NOOP":
                    writer.write(b"250 2.0.0 Ok\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 2.0.0 Bye\r\n")
                    await writer.drain()
                    return
                else:
                    writer.write(b"502 5.5.2 Not implemented\r\n")
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError, OSError):
            return
        finally:
            try:
                writer.close()
            except Exception:
                pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--count-file", required=True)
    ap.add_argument("--require-tls", action="store_true")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1"):
        sys.exit("tls_sink listens on loopback only")
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    sink = Sink(ctx, a.require_tls)
    server = await asyncio.start_server(sink.session, a.host, a.port, backlog=1024, limit=1 << 22)
    port = server.sockets[0].getsockname()[1]
    fd = os.open(a.count_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    last = None
    while not stop.is_set():
        if sink.count != last:
            last = sink.count
            data = ("%d %d\n" % (last, sink.sessions)).encode()
            os.pwrite(fd, data.ljust(32), 0)
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except asyncio.TimeoutError:
            pass
    os.pwrite(fd, ("%d %d\n" % (sink.count, sink.sessions)).encode().ljust(32), 0)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
