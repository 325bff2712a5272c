#!/usr/bin/python3
"""test_sink.py - the image test's SMTP sink on the host: stores every message in a folder.

SUMMARY: image/test_sink.py HOST PORT DIR

DESCRIPTION
  An aiosmtpd server (no TLS, no authentication) that accepts any envelope and
  writes each message to DIR/NNNN.eml with the envelope in X-Sink-Mail-From and
  X-Sink-Rcpt-To headers in front. Prints "ready" on stdout once it listens.
  Runs until killed.

DIAGNOSTICS
  Exit 1 when the port cannot be bound (the traceback says why).
"""
import itertools
import os
import sys
import time

from aiosmtpd.controller import Controller


class Store:
    """aiosmtpd handler: one file per message, written whole (temp name, then rename)."""

    def __init__(self, folder):
        self.folder = folder
        self.counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        head = "X-Sink-Mail-From: <%s>\r\nX-Sink-Rcpt-To: %s\r\nX-Sink-Peer: %s\r\n" % (
            envelope.mail_from, ", ".join("<%s>" % r for r in envelope.rcpt_tos),
            session.peer[0] if session.peer else "?")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        tmp = os.path.join(self.folder, ".%04d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(head.encode() + data)
        os.rename(tmp, os.path.join(self.folder, "%04d.eml" % n))
        return "250 2.0.0 Ok: stored as %04d" % n


def main():
    host, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(folder, exist_ok=True)
    controller = Controller(Store(folder), hostname=host, port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
