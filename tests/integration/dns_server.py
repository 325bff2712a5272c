"""dns_server.py - a real DNS server on loopback for integration tests (Debian's unbound).

DnsServer starts `unbound -d -c FILE` on 127.0.0.1 (or `host`, another loopback address) at a free
high port (or the one start() is given), serving the given
local-zone / local-data lines, waits until it answers a query, and stops it by its PID (never by
name). `server` is the "127.0.0.1@PORT" string for smarthost's `dns.servers`.

Signed zones: `auth_zones` are (name, zone file) pairs served by unbound's auth-zone as they are,
signatures included (tests/integration/dnssec_zone.py makes them).

Signed answers that must time out: an auth-zone answers before any forward-zone, so serve the
signed zone from a second DnsServer and reach it through `forward_zones` (name, "127.0.0.1@PORT")
of the one the relay asks; a more specific `blackhole_zones` entry then wins for its names.

Names whose lookups time out: every zone in `blackhole_zones` is forwarded to a UDP socket that
this fixture binds on loopback and never reads. Packets sit in the socket buffer, so no ICMP
"port unreachable" makes unbound fail fast; the query just hangs until the client's own timer
fires (unbound itself gives up with SERVFAIL after several seconds).

How it fails: start() raises RuntimeError with unbound's stderr when unbound exits or does not
answer within `start_timeout` seconds. stop() is idempotent and always reaps the process.

    with DnsServer(zones=[("test.example.", "static")],
                   records=["mx.test.example. A 192.0.2.1"],
                   blackhole_zones=["slow.test.example."]) as dns:
        cfg = 'dns = { servers = [ "%s" ]; };' % dns.server
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (unbound listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free loopback port")


def _quote(rr):
    # local-data with double quotes inside (TXT) must be single-quoted (see NOTES.md).
    return "'%s'" % rr if '"' in rr else '"%s"' % rr


def _query_packet(name, qtype=1, qid=0x5353):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".") if l)
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + b"\0" + struct.pack(">HH", qtype, 1)


class DnsServer:
    def __init__(self, zones=(), records=(), blackhole_zones=(), extra=(), auth_zones=(),
                 forward_zones=(), start_timeout=10.0, host="127.0.0.1"):
        self.zones = list(zones)            # [("test.example.", "static"), ...]
        self.auth_zones = list(auth_zones)  # [("test.example.", "/path/zone.signed"), ...]
        self.forward_zones = list(forward_zones)  # [("test.example.", "127.0.0.1@PORT"), ...]
        self.records = list(records)        # ["mx1.test.example. A 192.0.2.1", ...]
        self.blackhole_zones = list(blackhole_zones)
        self.extra = list(extra)            # more "server:" lines, verbatim
        self.start_timeout = start_timeout
        self.host = host  # any 127.x address: the bench serves a resolv.conf on HOST port 53
        self.port = None
        self.proc = None
        self.dir = None
        self._blackhole = None

    @property
    def server(self):
        return "%s@%d" % (self.host, self.port)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _config(self):
        lines = [
            "server:",
            "  interface: %s@%d" % (self.host, self.port),
            "  port: %d" % self.port,
            "  do-daemonize: no",
            '  chroot: ""',
            '  username: ""',
            '  pidfile: ""',
            '  directory: "%s"' % self.dir,
            '  logfile: ""',
            "  use-syslog: no",
            "  verbosity: 1",
            "  num-threads: 1",
            '  module-config: "iterator"',
            "  do-ip6: no",
            "  do-not-query-localhost: no",  # the black hole lives on 127.0.0.1
            "  qname-minimisation: no",
            "  access-control: 127.0.0.0/8 allow",
        ]
        for name, kind in self.zones:
            lines.append('  local-zone: "%s" %s' % (name, kind))
        for name in self.blackhole_zones:
            # a more specific zone than the static one, with no data: resolution goes on to the
            # forward-zone below instead of answering NXDOMAIN
            lines.append('  local-zone: "%s" transparent' % name)
        lines += ["  local-data: %s" % _quote(rr) for rr in self.records]
        lines += ["  " + l for l in self.extra]
        for name, zonefile in self.auth_zones:
            # a zone file served as is, RRSIG/NSEC included: a signed zone (dnssec_zone.py)
            lines += ["auth-zone:", '  name: "%s"' % name, '  zonefile: "%s"' % zonefile,
                      "  for-downstream: yes", "  for-upstream: no"]
        for name, addr in self.forward_zones:
            lines += ["forward-zone:", '  name: "%s"' % name, "  forward-addr: %s" % addr]
        for name in self.blackhole_zones:
            lines += ["forward-zone:", '  name: "%s"' % name,
                      "  forward-addr: 127.0.0.1@%d" % self._blackhole.getsockname()[1]]
        return "\n".join(lines) + "\n"

    def start(self, port=None):
        """`port`: serve on this port again (a restart with changed records)."""
        self.dir = tempfile.mkdtemp(prefix="smarthost-dns-")
        if self.blackhole_zones:
            self._blackhole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._blackhole.bind(("127.0.0.1", 0))  # bound, never read: queries vanish
        self.port = port or free_port()
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write(self._config())
        self._stderr = open(os.path.join(self.dir, "unbound.log"), "w+")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf], stdout=self._stderr,
                                     stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except Exception:
            self.stop()
            raise

    def _log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        probe = self.zones[0][0] if self.zones else self.auth_zones[0][0] if self.auth_zones else "localhost."
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("unbound exited with %d:\n%s" % (self.proc.returncode, self._log()))
                try:
                    s.sendto(_query_packet(probe), (self.host, self.port))
                    if s.recvfrom(4096)[0][:2] == b"\x53\x53":
                        return
                except OSError:  # refused (not listening yet) or timed out
                    time.sleep(0.05)
        raise RuntimeError("unbound did not answer on port %d within %.0fs:\n%s"
                           % (self.port, self.start_timeout, self._log()))

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)  # by PID, this process only
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            self.proc = None
            self._stderr.close()
        if self._blackhole is not None:
            self._blackhole.close()
            self._blackhole = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
