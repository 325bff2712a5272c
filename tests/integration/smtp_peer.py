"""smtp_peer.py - real SMTP servers on loopback for delivery and route-tester tests.

The servers are not ours: each peer is a separate process, either Debian's aiosmtpd 1.4 run by
/usr/bin/python3 (smtp_peer_server.py; every mode and fault below) or Postfix's smtp-sink (SinkPeer,
a fast discard sink for benchmarks, no TLS). They listen on 127.0.0.1 or ::1 only.

    with SmtpPeer("tls", cert="expired") as peer:          # STARTTLS with build/testpki/expired.pem
        cfg = '... host = "127.0.0.1"; port = %d; ...' % peer.port
        ...
        msgs = peer.wait_messages(1, timeout=20)            # [{"mail_from":..., "data": b"..."}]
        assert msgs[0]["tls_version"] == "TLSv1.3"

Modes (SmtpPeer's first argument; every keyword below also works with any mode):
  "tls"     STARTTLS offered with the test-PKI certificate `cert` (valid, valid-ec, expired, notyet,
            wronghost, untrusted, ...)
  "plain"   no STARTTLS in the EHLO reply
  "tls11"   STARTTLS, TLS 1.1 only (OpenSSL 3 needs @SECLEVEL=0 for it; set here)
  "tls12"   STARTTLS, at most TLS 1.2
  "tls13"   STARTTLS, TLS 1.3 only
  "badtls"  STARTTLS offered and answered 220, then the server reads the ClientHello and closes
            (handshake_break="close"; or "garbage": answers non-TLS bytes; "reset": TCP RST)
  "hang"    accepts TCP and never says anything (stall=["connect"])
Fault keywords (stages: connect, ehlo, starttls, mail, rcpt, data = the DATA command, eod = end of
DATA after the final dot):
  replies={"mail": "550 5.7.1 No"}      fixed reply at a stage, every time ("connect": a 4xx/5xx
                                         greeting, then the server hangs up)
  rcpt_replies={"temp": "451 ...", "x@y": "552 ..."}   per recipient, by full address or local
                                         part; default RCPT_REPLIES (temp@ -> 451 4.3.0,
                                         perm@ -> 550 5.1.1); pass {} to turn off
  fail_first={"rcpt": 2, "eod": 1}      the first N attempts of a stage, counted over the peer's
                                         life across connections, get fail_reply (451 4.3.0; 421 for
                                         "connect"), later ones succeed
  stall=["eod"], stall_seconds=600      never answer at that stage (for client timeouts)
  hangup_on_reuse=True                   a second MAIL on one connection gets no reply: the server
                                         closes the connection (an idle connection it dropped just
                                         as the client reused it); event "hangup". "421": it
                                         answers 421 4.4.2 (its idle timeout) and closes
  resume_after_stall=True               after stall_seconds the stage goes on normally (a slow
                                         server: a delivery stays in progress that long)
  tls_min/tls_max="1.0".."1.3", ciphers="...", request_client_cert=True (logs the client cert CN)
  pipelining=True, smtputf8=True, ehlo_add=[...], ehlo_remove=["8BITMIME"], save=False (count only)
  requiretls=True                       offers REQUIRETLS after STARTTLS and takes MAIL ... REQUIRETLS
                                         (RFC 8689; aiosmtpd alone refuses the parameter)

What a test can read (the server writes files; no IPC): events() - one dict per event, in order:
listening, connect (conn, count, peer), greeting, ehlo/helo (name), ehlo_reply (extensions),
starttls (version, cipher, bits, sni, client_cert), starttls_failed / starttls_broken, mail / rcpt
(address, code, reply), data, eod (code, mail_from, rcpt_tos, size, tls_version, tls_cipher, file),
rset, quit, stall, close, error. connections() and messages() are views of them.

Clean-up: stop() ends the server but keeps its folder, so events()/messages() still work;
cleanup() (and leaving a `with` block) also removes the folder; at interpreter exit every peer
this process started is cleaned up (set $SMTP_PEER_KEEP=1 to keep the folders for a post-mortem).

How it fails: start() raises RuntimeError with the server's stderr when the process exits or does
not announce it listens within start_timeout seconds (bad certificate name, port in use, ...);
wait_* raise AssertionError with what was seen when the time is up. stop() is idempotent, ends only
the process it started (by PID: SIGTERM, then SIGKILL after 5 s) and never raises.
"""
import atexit
import glob
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from relay_fixture import free_port, testpki  # noqa: E402  (one place builds the test PKI)

SYSTEM_PYTHON = "/usr/bin/python3"     # has Debian's python3-aiosmtpd; the pyenv python does not
SERVER_SCRIPT = os.path.join(HERE, "smtp_peer_server.py")
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

RCPT_REPLIES = {
    "temp": "451 4.3.0 Mailbox temporarily unavailable",
    "perm": "550 5.1.1 No such user here",
}

MODES = {
    "tls": {"tls": True},
    "plain": {"tls": False},
    "tls11": {"tls": True, "tls_min": "1.1", "tls_max": "1.1"},
    "tls12": {"tls": True, "tls_max": "1.2"},
    "tls13": {"tls": True, "tls_min": "1.3"},
    "badtls": {"tls": True, "handshake_break": "close"},
    "hang": {"tls": False, "stall": ["connect"]},
}


_started = []      # every peer this process started; see _cleanup_at_exit


@atexit.register
def _cleanup_at_exit():
    # Safety net for tests that only stop() (the folder is kept so events stay readable after
    # stop) or forget to: at interpreter exit end our own servers and remove their folders.
    while _started:
        _started.pop().cleanup()


def _kill(proc, grace=5.0):
    """Ends a process we started, by its PID: SIGTERM, then SIGKILL; always reaps it."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
    except OSError:
        pass


def _read_jsonl(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return []
    out = []
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            break           # a line still being written (only possible at the end)
    return out


def _host_port(host, port):
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


class SmtpPeer:
    """An aiosmtpd SMTP server in its own process, configured by mode and fault keywords."""

    def __init__(self, mode="tls", cert="valid", host="127.0.0.1", port=None,
                 hostname="mx.test.example", replies=None, rcpt_replies=None, fail_first=None,
                 fail_reply=None, stall=None, stall_seconds=600.0, resume_after_stall=False, tls_min=None, tls_max=None,
                 ciphers=None, handshake_break=None, request_client_cert=False, pipelining=True,
                 smtputf8=True, ehlo_add=(), ehlo_remove=(), size_limit=33554432, save=True,
                 hangup_on_reuse=False, requiretls=False, timeout=300.0, start_timeout=15.0, keep_dir=False):
        if mode not in MODES:
            raise ValueError("unknown SmtpPeer mode %r (one of %s)" % (mode, ", ".join(MODES)))
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("SmtpPeer listens on loopback only, not %r" % host)
        preset = MODES[mode]
        self.mode, self.cert, self.host = mode, cert, host
        self.requested_port = port or 0
        self.port = None
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir or bool(os.environ.get("SMTP_PEER_KEEP"))
        self.proc = None
        self.dir = None
        self.cfg = {
            "host": host, "hostname": hostname,
            "replies": replies or {},
            "rcpt_replies": RCPT_REPLIES if rcpt_replies is None else rcpt_replies,
            "fail_first": fail_first or {}, "fail_reply": fail_reply,
            "stall": list(stall if stall is not None else preset.get("stall", [])),
            "stall_seconds": stall_seconds, "resume_after_stall": resume_after_stall,
            "handshake_break": handshake_break or preset.get("handshake_break"),
            "pipelining": pipelining, "smtputf8": smtputf8,
            "ehlo_add": list(ehlo_add), "ehlo_remove": list(ehlo_remove),
            "size_limit": size_limit, "save": save, "timeout": timeout,
            "hangup_on_reuse": hangup_on_reuse, "requiretls": requiretls,
        }
        if preset["tls"]:
            self.cfg["tls"] = {"cert_name": cert, "min": tls_min or preset.get("tls_min"),
                               "max": tls_max or preset.get("tls_max"), "ciphers": ciphers,
                               "request_client_cert": request_client_cert}

    # -- life cycle -------------------------------------------------------------------------

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="smtp-peer-%s-" % self.mode)
        _started.append(self)
        try:
            return self._start()
        except BaseException:
            # The caller gets no object to clean up: leave no process and no folder behind.
            self.cleanup()
            raise

    def _start(self):
        cfg = dict(self.cfg, dir=self.dir, port=self.requested_port)
        if cfg.get("tls"):
            pki = testpki()
            name = cfg["tls"]["cert_name"]
            cert, key = os.path.join(pki, name + ".pem"), os.path.join(pki, name + ".key")
            if not (os.path.isfile(cert) and os.path.isfile(key)):
                raise RuntimeError("SmtpPeer: no test-PKI certificate %r (%s)" % (name, pki))
            cfg["tls"] = dict(cfg["tls"], cert=cert, key=key,
                              ca_file=os.path.join(pki, "ca-bundle.pem"),
                              extra_ca_files=[os.path.join(pki, "issuing-ca.pem")])
        cfg_path = os.path.join(self.dir, "config.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=1)
        self._stderr = open(os.path.join(self.dir, "server.log"), "wb")
        self.proc = subprocess.Popen([SYSTEM_PYTHON, SERVER_SCRIPT, cfg_path],
                                     stdout=subprocess.PIPE, stderr=self._stderr,
                                     stdin=subprocess.DEVNULL, close_fds=True)
        # The server prints "READY <port>" once its socket listens: no probe connection, so the
        # connection counts a test asserts on are exactly its client's.
        line = b""
        deadline = time.monotonic() + self.start_timeout
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 256)
                if not chunk:
                    break       # the server exited
                line += chunk
        m = re.match(rb"READY (\d+)\n", line)
        if not m:
            rc = self.proc.poll()
            state = ("exited with status %d" % rc if rc is not None
                     else "did not listen within %.0fs" % self.start_timeout)
            raise RuntimeError("SmtpPeer(%s) %s (stdout %r); its stderr:\n%s"
                               % (self.mode, state, line, self.server_log()))
        self.port = int(m.group(1))
        return self

    def stop(self):
        _kill(self.proc)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        if getattr(self, "_stderr", None):
            self._stderr.close()
            self._stderr = None

    def cleanup(self):
        """stop() and remove the folder (kept when keep_dir or $SMTP_PEER_KEEP is set)."""
        self.stop()
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    @property
    def address(self):
        """"127.0.0.1:PORT" or "[::1]:PORT"."""
        return _host_port(self.host, self.port)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- what the server saw ----------------------------------------------------------------

    def events(self, kind=None, conn=None):
        evs = _read_jsonl(os.path.join(self.dir, "events.jsonl"))
        return [e for e in evs if (kind is None or e["event"] == kind)
                and (conn is None or e.get("conn") == conn)]

    def connections(self):
        """One "connect" event per accepted TCP connection (conn, count, peer)."""
        return self.events("connect")

    def tls_sessions(self):
        """One "starttls" event per completed handshake (version, cipher, bits, sni, ...)."""
        return self.events("starttls")

    def messages(self):
        """Accepted messages: dicts with mail_from, rcpt_tos, data (bytes), tls_version,
        tls_cipher, ehlo, conn, code, file."""
        out = []
        for e in self.events("eod"):
            if e["code"] // 100 != 2:
                continue
            m = dict(e)
            m["data"] = None
            if e.get("file"):
                with open(os.path.join(self.dir, e["file"]), "rb") as f:
                    m["data"] = f.read()
            out.append(m)
        return out

    def wait_events(self, kind, n=1, timeout=10.0):
        """Waits until at least n events of that kind were logged; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            evs = self.events(kind)
            if len(evs) >= n:
                return evs
            if time.monotonic() >= deadline:
                raise AssertionError("SmtpPeer(%s): %d of %d %r events after %.1fs; events: %s"
                                     % (self.mode, len(evs), n, kind, timeout,
                                        self.events()[-20:]))
            time.sleep(0.05)

    def wait_messages(self, n=1, timeout=10.0):
        """Waits until at least n messages were accepted; returns messages()."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= n:
                return msgs
            if time.monotonic() >= deadline:
                raise AssertionError("SmtpPeer(%s): %d of %d messages after %.1fs; events: %s"
                                     % (self.mode, len(msgs), n, timeout, self.events()[-20:]))
            time.sleep(0.05)

    def server_log(self):
        """The server's stderr (aiosmtpd's own log and any traceback)."""
        try:
            with open(os.path.join(self.dir, "server.log"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""


class DownPeer:
    """A loopback port where nothing listens: the socket stays bound (so no one else can take the
    port) but never listens, so a connect gets RST at once (ECONNREFUSED)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    @property
    def address(self):
        return _host_port(self.host, self.port)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


_down = []


def down_port(host="127.0.0.1"):
    """A port on host where connections are refused, reserved until this process exits."""
    d = DownPeer(host)
    _down.append(d)
    return d.port


def _listening(port, host):
    """True when the kernel shows a socket in LISTEN on host:port (no connection made)."""
    table = "/proc/net/tcp6" if ":" in host else "/proc/net/tcp"
    want = ":%04X" % port
    try:
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1].endswith(want) and parts[3] == "0A":
                    return True
    except OSError:
        pass
    return False


class SinkPeer:
    """Postfix's smtp-sink: a fast SMTP discard server (no STARTTLS; for benchmarks).

    Runs `smtp-sink -c -u nobody [args] HOST:PORT backlog`. counts() parses its -c counters
    ({"sess", "quit", "mesg"}). capture=True adds `-d DIR/` so each message is also dumped to a
    file (with smtp-sink's X-* headers; much slower). For a TLS-capable fast sink use
    SmtpPeer("tls", save=False)."""

    def __init__(self, host="127.0.0.1", port=None, backlog=100, args=(), capture=False,
                 start_timeout=10.0):
        if host not in ("127.0.0.1", "::1"):
            raise ValueError("SinkPeer listens on loopback only, not %r" % host)
        self.host, self.port, self.backlog = host, port, backlog
        self.args, self.capture, self.start_timeout = list(args), capture, start_timeout
        self.proc = None
        self.dir = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="smtp-sink-")
        _started.append(self)
        if self.capture:
            os.chmod(self.dir, 0o777)        # smtp-sink writes as nobody after dropping root
        if not self.port:
            self.port = free_port(self.host)
        cmd = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]          # smtp-sink refuses to run as root without -u
        if self.capture:
            cmd += ["-d", os.path.join(self.dir, "msg.")]
        cmd += self.args + [_host_port(self.host, self.port), str(self.backlog)]
        self._out = open(os.path.join(self.dir, "counters.txt"), "wb")
        self._err = open(os.path.join(self.dir, "stderr.txt"), "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, close_fds=True)
        # Ready = socket in LISTEN, read from /proc so no probe session shows in the counters.
        deadline = time.monotonic() + self.start_timeout
        while not _listening(self.port, self.host):
            if self.proc.poll() is not None or time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError("smtp-sink did not start: %s" % self._file("stderr.txt"))
            time.sleep(0.02)
        return self

    def _file(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def counts(self):
        """The latest counters: {"sess": N, "quit": N, "mesg": N} (zeros before any session)."""
        recs = re.findall(r"sess=(\d+) quit=(\d+) mesg=(\d+)", self._file("counters.txt"))
        s, q, m = map(int, recs[-1]) if recs else (0, 0, 0)
        return {"sess": s, "quit": q, "mesg": m}

    def wait_count(self, n, timeout=30.0):
        """Waits until smtp-sink counted at least n messages; returns counts()."""
        deadline = time.monotonic() + timeout
        while True:
            c = self.counts()
            if c["mesg"] >= n:
                return c
            if time.monotonic() >= deadline:
                raise AssertionError("smtp-sink: %s after %.1fs, wanted %d messages"
                                     % (c, timeout, n))
            time.sleep(0.05)

    def captured(self):
        """With capture=True: the dump files' bytes, oldest first."""
        files = sorted(glob.glob(os.path.join(self.dir, "msg.*")), key=os.path.getmtime)
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    @property
    def address(self):
        return _host_port(self.host, self.port)

    def stop(self):
        _kill(self.proc)
        self.proc = None
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                f.close()

    def cleanup(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False


# --- Postfix smtpd as a next hop ------------------------------------------------------------------

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = {hostname}
mydomain = test.example
myorigin = $myhostname
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost = [127.0.0.1]:{next_port}
maillog_file = {logdir}/maillog
maillog_file_prefixes = {logdir}
biff = no
smtpd_banner = $myhostname ESMTP Postfix
smtp_tls_security_level = none
smtpd_tls_security_level = none
"""

POSTFIX_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixPeer:
    """A private Postfix instance whose smtpd listens on 127.0.0.1:port and relays everything it
    accepts to 127.0.0.1:next_port (an SmtpPeer, where a test reads what arrived). `settings` are
    extra main.cf lines, e.g. {"smtputf8_enable": "no"} or {"smtpd_discard_ehlo_keywords":
    "8bitmime"}. Needs root (Postfix's own user owns its data folders).

    sessions() reads smtpd's "disconnect from ..." log lines, whose command counts (ehlo=1 mail=1
    ...) say what a client sent. How it fails: start() raises RuntimeError with Postfix's output
    when `postfix start` fails or smtpd does not listen within 30 s; stop() is idempotent and
    ends only the master this peer started (postfix stop, then SIGKILL of its PID)."""

    def __init__(self, next_port, settings=None, hostname="postfix.test.example"):
        self.next_port, self.settings, self.hostname = next_port, dict(settings or {}), hostname
        self.port = None
        self.dir = None
        self.pid = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="postfix-peer-")
        _started.append(self)
        os.chmod(self.dir, 0o755)
        self.conf, queue, data, self.logdir = (os.path.join(self.dir, d) for d in ("etc", "queue", "data", "log"))
        pw = __import__("pwd").getpwnam("postfix")
        for d in (self.conf, queue, data, self.logdir):
            os.makedirs(d, mode=0o755)
        for d in (data, self.logdir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        main = POSTFIX_MAIN_CF.format(queue=queue, data=data, hostname=self.hostname,
                                      next_port=self.next_port, logdir=self.logdir)
        main += "".join("%s = %s\n" % kv for kv in self.settings.items())
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER_CF.format(port=self.port))
        r = subprocess.run([POSTFIX, "-c", self.conf, "start"], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s %s" % (r.stdout, r.stderr))
        pidfile = os.path.join(queue, "pid", "master.pid")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    self.pid = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                self.pid = None
            if self.pid and _listening(self.port, "127.0.0.1"):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("postfix did not listen on %d: %s" % (self.port, self.log()))

    def stop(self):
        if self.pid is None:
            return
        subprocess.run([POSTFIX, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % self.pid):
            time.sleep(0.1)
        if os.path.exists("/proc/%d" % self.pid):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        self.pid = None

    def cleanup(self):
        self.stop()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def log(self):
        try:
            with open(os.path.join(self.logdir, "maillog"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def sessions(self):
        """smtpd's command counts per finished session: [{"ehlo": 1, "mail": 1, ...}, ...]."""
        out = []
        for line in self.log().splitlines():
            m = re.search(r"smtpd\[\d+\]: disconnect from \S+ (.*)$", line)
            if m:
                out.append({k: v for k, v in (w.split("=", 1) for w in m.group(1).split() if "=" in w)})
        return out
