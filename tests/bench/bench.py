#!/usr/bin/python3
"""bench.py - smarthost against Postfix, side by side, on this machine (run by tests/bench/run.sh).

For each scenario a fresh next hop is started, then a private Postfix instance and then smarthost,
one after the other (never both at once: they would share the two cores), each in its own temp
folders, listening on 127.0.0.1, relaying everything to that next hop with normal durability
(Postfix fsyncs each queue file before its 250; smarthost commits to LMDB with fsync before 250).
The same load goes into each: Postfix's smtp-source (BENCH_SESSIONS sessions, BENCH_MESSAGES
messages of BENCH_SIZE bytes), plus one probe session of ours that timestamps the end of each
message's DATA and its 250 (smtp-source reports no latency).

Scenarios (BENCH_SCENARIOS, comma separated; default plain,tls,idle; `all`: limit, plain, tls,
tls_both, domains, backlog, idle_tls, dkim, in that order):
  plain  next hop: Postfix's smtp-sink (no TLS)
  tls    next hop: tls_sink.py, STARTTLS required outbound (Postfix smtp_tls_security_level =
         encrypt; smarthost route tls = "required", verify_ca = false)
  idle   smarthost only: RSS growth per idle inbound TLS connection (BENCH_IDLE_CONNS after
         EHLO + STARTTLS + EHLO)
  dkim   not in the default set: as plain, but every message (smtp-source -F, and the probe's)
         carries a DKIM signature by python3-dkim (rsa-sha256 2048) for the sender's domain, whose
         key a test unbound serves; smarthost checks it (relay_policy.require_dkim, SPEC R-TENANT),
         Postfix has no verifier and just relays, so the ratio is the price of the check. Compare
         its dkim_ratio_e2e with plain_ratio_e2e of the same run (BENCH_SCENARIOS=plain,dkim).
  console not in the default set; smarthost only: as plain, with the admin console on (HTTPS on
         127.0.0.1, SPEC R-CONSOLE: delivery history and metrics fed by every message) and a
         client that asks for /metrics and the overview page every second while the load runs
         (issue 17: at most 5 % below plain). With plain in the same run it also reports
         console_vs_plain_e2e = console e2e / plain e2e of smarthost (BENCH_SCENARIOS=plain,console).

Measured per MTA: messages/s accepted (until smtp-source is done), messages/s delivered end to
end (until the next hop counted every message), p50/p99 accept latency (end of DATA to 250, from
the probe), CPU seconds of every process of the MTA (/proc/PID/stat utime+stime, plus cutime+cstime
for children that exited), peak RSS (sum over the MTA's processes, sampled every 200 ms, and
VmHWM), and the ratios smarthost / Postfix. Results are printed as name=value lines and written
between the markers of BENCH_RESULTS (default tests/bench/RESULTS.md; empty: not written).

Scale scenarios (issue 20; not in the default set; scale_scenarios.py's docstring says what each
measures and its BENCH_* variables: BENCH_DOMAINS, BENCH_DOMAIN_ADDRS, BENCH_BACKLOG,
BENCH_BACKLOG_IDLE_SECONDS, BENCH_BACKLOG_SETTLE, BENCH_IDLE_TLS_CONNS, BENCH_LOADGEN_PER_CONN,
BENCH_LOADGEN_PROCS): limit (no MTA at all), domains (thousands of MX domains through a local
unbound), backlog (a deep queue while the hop is down, then its drain), tls_both (STARTTLS on
both legs), idle_tls (RSS per idle TLS connection at 5000 connections).

Environment: B (build folder, default build), BENCH_SMARTHOST (binary; default $B/smarthost),
BENCH_MESSAGES (20000), BENCH_SESSIONS (20), BENCH_SIZE (4096), BENCH_IDLE_CONNS (2000),
BENCH_SCENARIOS, BENCH_MAX_SECONDS (the whole run: 900 s + scale_scenarios.extra_seconds()),
BENCH_TMP (parent of the temp folders,
default /var/tmp: a real disk, never tmpfs), BENCH_SOURCE_ARGS (extra smtp-source flags, e.g. -d
to reuse connections), BENCH_POSTFIX_TLS_REUSE (1: Postfix reuses TLS connections through
tlsproxy, its fastest TLS setup; 0: its default, one handshake per message), BENCH_KEEP=1 keeps
the temp folders, BENCH_PROBE=0 turns the latency probe off, BENCH_PERF_DIR=DIR records a
`perf record -g` profile of smarthost per scenario there (perf report -i DIR/plain_smarthost...),
BENCH_MTAS=smarthost (or postfix) runs only one of the two (no ratios then). BENCH_SMARTHOST may
name a wrapper script, e.g. one that execs `valgrind --tool=callgrind` on the binary.

Every process is ended by the PID we started (Postfix by `postfix -c DIR stop`); every wait is
bounded; everything listens and connects on loopback only (127.0.0.1; domains also on 127.0.1.x
and 127.0.2.53).
"""
import base64
import datetime
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from relay_fixture import free_port, testpki  # noqa: E402
from smtp_peer import SinkPeer, _listening  # noqa: E402
import scale_scenarios  # noqa: E402  (tests/bench, this script's folder)

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
CLK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SENDER = "bench@source.test.example"
RCPT = "rcpt@dest.test.example"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


B = os.environ.get("B", "build")
SMARTHOST = os.environ.get("BENCH_SMARTHOST") or os.path.join(ROOT, B, "smarthost")
MESSAGES = env_int("BENCH_MESSAGES", 20000)
SESSIONS = env_int("BENCH_SESSIONS", 20)
SIZE = env_int("BENCH_SIZE", 4096)
IDLE_CONNS = env_int("BENCH_IDLE_CONNS", 2000)
MAX_SECONDS = env_int("BENCH_MAX_SECONDS", 900)
SCENARIOS = [s.strip() for s in os.environ.get("BENCH_SCENARIOS", "plain,tls,idle").split(",") if s.strip()]
SCENARIOS = scale_scenarios.expand(SCENARIOS)  # "all"
if not os.environ.get("BENCH_MAX_SECONDS", "").strip():
    MAX_SECONDS += scale_scenarios.extra_seconds(SCENARIOS)
TMP_PARENT = os.environ.get("BENCH_TMP", "/var/tmp")
SOURCE_ARGS = os.environ.get("BENCH_SOURCE_ARGS", "").split()
POSTFIX_TLS_REUSE = env_int("BENCH_POSTFIX_TLS_REUSE", 1)
KEEP = os.environ.get("BENCH_KEEP") == "1"
PROBE = os.environ.get("BENCH_PROBE", "1") != "0"
PERF_DIR = os.environ.get("BENCH_PERF_DIR", "")
MTAS = [m.strip() for m in os.environ.get("BENCH_MTAS", "postfix,smarthost").split(",") if m.strip()]
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(HERE, "RESULTS.md"))

DEADLINE = time.monotonic() + MAX_SECONDS


def remaining(cap):
    """A wait bound: cap seconds, but never past the whole run's deadline."""
    return max(1.0, min(cap, DEADLINE - time.monotonic()))


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


# --- /proc accounting ---------------------------------------------------------------------------

def proc_stat(pid):
    """(ppid, cpu ticks of the process and of its exited children) or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    ppid = int(rest[1])
    own = int(rest[11]) + int(rest[12])
    kids = int(rest[13]) + int(rest[14])
    return ppid, own, kids


def process_tree(root):
    """root and every descendant, by PID."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu(root):
    """CPU seconds used so far by root's tree, exited children included (via cutime/cstime)."""
    total = 0
    for p in process_tree(root):
        st = proc_stat(p)
        if st:
            total += st[1] + st[2]
    return total / CLK


def rss_kb(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE_KB
    except OSError:
        return 0


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]), idle, v[4]


class Sampler(threading.Thread):
    """Peaks of the summed RSS and PSS of a process tree, every 200 ms (RSS counts pages shared
    by several processes once per process; PSS divides them among those processes)."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root = root
        self.peak = 0
        self.peak_pss = 0
        self.stop_ev = threading.Event()

    def run(self):
        tree, n = [], 0
        while not self.stop_ev.is_set():
            if n % 4 == 0:
                tree = process_tree(self.root)  # walking /proc costs more than the reads
            n += 1
            self.peak = max(self.peak, sum(rss_kb(p) for p in tree))
            self.peak_pss = max(self.peak_pss, sum(pss_kb(p) for p in tree))
            self.stop_ev.wait(0.2)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=5)
        return self.peak


# --- SMTP helpers -------------------------------------------------------------------------------

class LineSock:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def reply(self):
        """One whole reply's code (multi-line replies read to their last line)."""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3])


def probe_body(size):
    head = "From: <%s>\r\nTo: <%s>\r\nSubject: latency probe\r\n\r\n" % (SENDER, RCPT)
    line = "x" * 78 + "\r\n"
    n = max(1, (size - len(head)) // len(line))
    return (head + line * n).encode()


class Probe(threading.Thread):
    """One session sending messages back to back (MAIL, RCPT, DATA pipelined) until stopped;
    each sample is the time from the last byte of the data (".\r\n") to the 250."""

    def __init__(self, port, body=None):
        super().__init__(daemon=True)
        self.port = port
        self.body = body
        self.samples = []
        self.sent = 0
        self.error = ""
        self.stop_ev = threading.Event()

    def run(self):
        body = (self.body or probe_body(SIZE)) + b".\r\n"
        cmds = ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (SENDER, RCPT)).encode()
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            c = LineSock(s)
            if c.reply() != 220:
                raise RuntimeError("no greeting")
            s.sendall(b"EHLO probe.test.example\r\n")
            if c.reply() != 250:
                raise RuntimeError("EHLO refused")
            while not self.stop_ev.is_set():
                s.sendall(cmds)
                codes = [c.reply(), c.reply(), c.reply()]
                if codes != [250, 250, 354]:
                    raise RuntimeError("transaction refused: %s" % codes)
                s.sendall(body)
                t0 = time.perf_counter()
                code = c.reply()
                t1 = time.perf_counter()
                if code != 250:
                    raise RuntimeError("message refused: %d" % code)
                self.samples.append(t1 - t0)
                self.sent += 1
            s.sendall(b"QUIT\r\n")
            c.reply()
            s.close()
        except Exception as e:  # noqa: BLE001 - reported, never fatal for the bench
            self.error = str(e)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=60)


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


# --- next hops ----------------------------------------------------------------------------------

class PlainSink:
    """Postfix's smtp-sink (via the integration tests' SinkPeer)."""

    def __init__(self):
        self.peer = SinkPeer(backlog=1024).start()
        self.port = self.peer.port
        self.pid = self.peer.proc.pid

    def count(self):
        return self.peer.counts()["mesg"]

    def stop(self):
        self.peer.cleanup()


class TlsSink:
    """tls_sink.py with the test PKI's ECDSA certificate (cheap handshakes for the sink)."""

    def __init__(self, folder):
        pki = testpki()
        self.count_file = os.path.join(folder, "tls-sink.count")
        self.err = open(os.path.join(folder, "tls-sink.err"), "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(HERE, "tls_sink.py"), "--port", "0",
             "--cert", os.path.join(pki, "valid-ec.pem"), "--key", os.path.join(pki, "valid-ec.key"),
             "--count-file", self.count_file, "--require-tls"],
            stdout=subprocess.PIPE, stderr=self.err, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        line = self.proc.stdout.readline()
        m = re.match(rb"READY (\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError("tls_sink did not start")
        self.port = int(m.group(1))

    def count(self):
        try:
            with open(self.count_file) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def stop(self):
        stop_pid(self.proc)
        self.err.close()


def stop_pid(proc, grace=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)


# --- the two MTAs -------------------------------------------------------------------------------

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
local     unix  - n n - - local
virtual   unix  - n n - - virtual
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
tlsproxy  unix  - - n - 0 tlsproxy
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.test.example
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
relayhost = [127.0.0.1]:{sink}
maillog_file = {logdir}/maillog
maillog_file_prefixes = {logdir}
biff = no
smtpd_banner = $myhostname ESMTP
smtp_tls_security_level = {tls_level}
smtp_tls_connection_reuse = {tls_reuse}
smtp_tls_session_cache_database = btree:${{data_directory}}/smtp_scache
smtp_tls_loglevel = 0
"""


class Postfix:
    name = "postfix"
    start_prefix = []  # a command that runs `postfix start` (scale_scenarios: its own resolv.conf)

    def __init__(self, base, sink_port, tls):
        self.dir = os.path.join(base, "postfix")
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.logdir = os.path.join(self.dir, "log")
        self.port = free_port()
        pw = pwd.getpwnam("postfix")
        for d in (self.dir, self.conf, self.queue, self.data, self.logdir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        for d in (self.data, self.logdir):
            os.chown(d, pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(queue=self.queue, data=self.data, sink=sink_port, logdir=self.logdir,
                                   tls_level="encrypt" if tls else "none",
                                   tls_reuse="yes" if (tls and POSTFIX_TLS_REUSE) else "no"))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        self.pid = None

    def start(self):
        r = subprocess.run(self.start_prefix + [POSTFIX, "-c", self.conf, "start"], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s %s" % (r.stdout, r.stderr))
        pidfile = os.path.join(self.queue, "pid", "master.pid")
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
        raise RuntimeError("postfix did not listen on %d" % self.port)

    def stop(self):
        if self.pid is None:
            return
        subprocess.run([POSTFIX, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % self.pid):
            time.sleep(0.1)
        if os.path.exists("/proc/%d" % self.pid):
            subprocess.run([POSTFIX, "-c", self.conf, "abort"], capture_output=True, timeout=60)
        self.pid = None

    def log_tail(self):
        try:
            with open(os.path.join(self.logdir, "maillog"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""


SMARTHOST_CFG = """\
hostname = "relay.bench.test.example";
listen = ( {{ address = "127.0.0.1"; port = {port}; }} );
tls = {{ cert = "{pki}/valid.pem"; key = "{pki}/valid.key"; ca_file = "{pki}/ca-bundle.pem"; }};
allow = [ "127.0.0.0/8" ];
routes = ( {{ name = "bench"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = {sink};
             {tls} }} );
queue = {{ path = "{queue}"; }};
limits = {{ connections = {conns}; connections_per_ip = {conns}; }};
log = {{ format = "kv"; file = "{log}"; }};
user = "root";  # as the integration tests: no "smarthost" account on build machines
{extra}"""


class Smarthost:
    name = "smarthost"

    def __init__(self, base, sink_port, tls, conns=1000, extra=""):
        self.dir = os.path.join(base, "smarthost")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "smarthost.log")
        self.cfg = os.path.join(self.dir, "smarthost.cfg")
        tls_line = ('tls = "required"; verify_ca = false; verify_hostname = false;' if tls else 'tls = "none";')
        with open(self.cfg, "w") as f:
            f.write(SMARTHOST_CFG.format(port=self.port, pki=testpki(), sink=sink_port, tls=tls_line,
                                         queue=os.path.join(self.dir, "queue"), log=self.log_path,
                                         conns=max(conns, 1000), extra=extra))
        self.proc = None
        self.pid = None

    def start(self):
        self.out = open(os.path.join(self.dir, "stderr.txt"), "wb")
        self.proc = subprocess.Popen([SMARTHOST, "run", "-c", self.cfg], stdout=self.out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30
        while not _listening(self.port, "127.0.0.1"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("smarthost did not start: %s" % self.log_tail())
            time.sleep(0.05)
        return self

    def stop(self):
        stop_pid(self.proc, grace=40)
        if getattr(self, "out", None):
            self.out.close()
            self.out = None
        self.pid = None

    def log_tail(self):
        text = ""
        for p in (os.path.join(self.dir, "stderr.txt"), self.log_path):
            try:
                with open(p, errors="replace") as f:
                    text += f.read()[-3000:]
            except OSError:
                pass
        return text


# --- one run ------------------------------------------------------------------------------------

def run_load(mta, sink, results, prefix, message=None, source=None):
    """Drives MESSAGES through mta into sink; fills results[prefix + name]. message: (bytes, file)
    of a pre-formatted message for smtp-source -F and the probe (the dkim scenario). source: a function
    of the MTA's port giving another load command that sends MESSAGES (scale_scenarios' load_gen.py)."""
    base_count = sink.count()
    cpu0 = tree_cpu(mta.pid)
    sink_cpu0 = tree_cpu(sink.pid)
    m0 = machine_ticks()
    me0 = os.times()
    sampler = Sampler(mta.pid)
    sampler.start()
    probe = Probe(mta.port, message[0] if message else None) if PROBE else None
    content = ["-F", message[1]] if message else ["-l", str(SIZE)]  # smtp-source takes one of the two
    cmd = [SMTP_SOURCE, "-s", str(SESSIONS), "-m", str(MESSAGES)] + content + ["-f", SENDER, "-t", RCPT,
                                                                               "-M", "source.test.example"] + \
        SOURCE_ARGS + ["127.0.0.1:%d" % mta.port]
    if source:
        cmd = source(mta.port)
    perf = None
    if PERF_DIR and isinstance(mta, Smarthost):
        os.makedirs(PERF_DIR, exist_ok=True)
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-g", "-p", str(mta.pid),
                                 "-o", os.path.join(PERF_DIR, prefix + "smarthost.perf.data")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if probe:
        probe.start()
    limit = remaining(max(120, MESSAGES / 20.0))
    src_err = b""
    src_ru = None
    while True:
        pid, status, ru = os.wait4(src.pid, os.WNOHANG)
        if pid == src.pid:
            src.returncode = os.waitstatus_to_exitcode(status)
            src_ru = ru
            break
        if time.monotonic() - t0 > limit:
            src.kill()
            _, status, src_ru = os.wait4(src.pid, 0)
            src.returncode = -9
            log("%s: smtp-source did not finish within %.0fs" % (prefix + mta.name, limit))
            break
        time.sleep(0.01)
    t_accept = time.monotonic()
    if probe:
        probe.stop()
    try:
        src_err = src.stderr.read()
    finally:
        src.stderr.close()
    errors = len([l for l in src_err.splitlines() if l.strip()])
    sent = MESSAGES + (probe.sent if probe else 0)
    target = base_count + sent
    limit = remaining(max(120, MESSAGES / 10.0))
    got = sink.count()
    while got < target and time.monotonic() - t0 < limit:
        time.sleep(0.01)
        got = sink.count()
    t_done = time.monotonic()
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=60)
    delivered = got - base_count
    cpu = tree_cpu(mta.pid) - cpu0
    sink_cpu = tree_cpu(sink.pid) - sink_cpu0
    m1 = machine_ticks()
    me1 = os.times()
    peak = sampler.stop()
    if isinstance(mta, Smarthost):
        peak = max(peak, status_kb(mta.pid, "VmHWM"))
    src_cpu = (src_ru.ru_utime + src_ru.ru_stime) if src_ru else float("nan")
    total_ticks = max(1, m1[0] - m0[0])
    p = prefix + mta.name + "_"
    r = results
    r[p + "messages"] = sent
    r[p + "delivered"] = delivered
    r[p + "accept_msgs_per_s"] = round(sent / max(1e-9, t_accept - t0), 1)
    r[p + "e2e_msgs_per_s"] = round(delivered / max(1e-9, t_done - t0), 1)
    r[p + "e2e_seconds"] = round(t_done - t0, 2)
    lat = probe.samples if probe else []
    r[p + "accept_p50_ms"] = round(percentile(lat, 50) * 1000, 2)
    r[p + "accept_p99_ms"] = round(percentile(lat, 99) * 1000, 2)
    r[p + "latency_samples"] = len(lat)
    r[p + "cpu_s"] = round(cpu, 2)
    r[p + "cpu_ms_per_msg"] = round(cpu * 1000 / max(1, delivered), 3)
    r[p + "peak_rss_kb"] = peak
    r[p + "peak_pss_kb"] = sampler.peak_pss
    r[p + "source_cpu_s"] = round(src_cpu, 2)
    r[p + "sink_cpu_s"] = round(sink_cpu, 2)
    r[p + "machine_busy_pct"] = round(100.0 * (1 - (m1[1] - m0[1]) / total_ticks), 1)
    r[p + "machine_iowait_pct"] = round(100.0 * (m1[2] - m0[2]) / total_ticks, 1)
    # CPU that none of this run's processes used (other work on the machine): makes a noisy
    # run visible. Busy ticks minus MTA, next hop, smtp-source and this script (probe).
    own = (me1.user + me1.system) - (me0.user + me0.system)
    busy_s = ((m1[0] - m0[0]) - (m1[1] - m0[1])) / CLK
    r[p + "foreign_cpu_s"] = round(max(0.0, busy_s - cpu - sink_cpu - (src_cpu if src_ru else 0) - own), 2)
    r[p + "bench_cpu_s"] = round(own, 2)
    r[p + "source_errors"] = errors
    ok = delivered >= sent and src.returncode == 0
    r[p + "complete"] = 1 if ok else 0
    if not ok:
        log("%s incomplete: source rc=%s, %d of %d delivered; smtp-source said: %s"
            % (p[:-1], src.returncode, delivered, sent, src_err[-500:].decode(errors="replace")))
        log(mta.log_tail()[-2000:])
    if probe and probe.error:
        log("%s probe: %s" % (p[:-1], probe.error))
    log("%s: %d msgs, accept %.0f/s, e2e %.0f/s, cpu %.2fs, p50 %.1f ms, p99 %.1f ms"
        % (p[:-1], sent, r[p + "accept_msgs_per_s"], r[p + "e2e_msgs_per_s"], cpu,
           r[p + "accept_p50_ms"], r[p + "accept_p99_ms"]))


def dkim_setup(folder):
    """The dkim scenario's message, signed for the sender's domain, and a DNS server with its key.
    Returns (dns, (signed bytes, the same as a file for smtp-source -F), smarthost config lines)."""
    import dkim
    from dns_server import DnsServer
    key = os.path.join(folder, "dkim.pem")
    subprocess.run(["openssl", "genrsa", "-out", key, "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"], check=True,
                         capture_output=True).stdout
    rec = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    domain = SENDER.split("@")[1]
    txt = " ".join('"%s"' % rec[i:i + 250] for i in range(0, len(rec), 250))
    dns = DnsServer(zones=[(domain + ".", "static")], records=["bench._domainkey.%s. TXT %s" % (domain, txt)])
    dns.start()
    msg = probe_body(SIZE)
    with open(key, "rb") as f:
        signed = dkim.sign(msg, b"bench", domain.encode(), f.read(), include_headers=[b"from", b"to", b"subject"]) + msg
    path = os.path.join(folder, "signed.eml")
    with open(path, "wb") as f:
        f.write(signed.replace(b"\r\n", b"\n"))  # smtp-source -F appends CRLF to each line
    extra = ('dns = { servers = [ "%s" ]; };\nrelay_policy = { sender_domains = [ "%s" ]; require_dkim = [ "%s" ]; };\n'
             % (dns.server, domain, domain))
    return dns, (signed, path), extra


class ConsolePoller(threading.Thread):
    """The console scenario's client: GET /metrics and GET / (HTTP Basic over TLS) every second,
    as a Prometheus scraper and an admin with the overview open would. Counts answers and errors."""

    def __init__(self, port, password):
        super().__init__(daemon=True)
        self.port, self.password = port, password
        self.polls = self.errors = 0
        self.error = ""
        self.done = threading.Event()

    def get(self, path):
        import http.client
        ctx = ssl.create_default_context(cafile=testpki() + "/ca-bundle.pem")
        ctx.check_hostname = False  # its certificate names mx1.test.example; we connect by address
        auth = base64.b64encode(("admin:" + self.password).encode()).decode()
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=ctx, timeout=30)
        try:
            c.request("GET", path, headers={"Authorization": "Basic " + auth})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()

    def run(self):
        while True:  # at once, then every second
            for path in ("/metrics", "/"):
                try:
                    status = self.get(path)
                    self.polls += 1
                    if status != 200:
                        self.errors += 1
                        self.error = "%s: HTTP %d" % (path, status)
                except Exception as e:  # noqa: BLE001
                    self.errors += 1
                    self.error = "%s: %s" % (path, e)
            if self.done.wait(1.0):
                return

    def stop(self):
        self.done.set()
        self.join(timeout=40)


def console_setup():
    """The console scenario's admin section and its password (hash by `smarthost admin-passwd`)."""
    password = base64.b64encode(os.urandom(12)).decode()
    h = subprocess.run([SMARTHOST, "admin-passwd"], input=password + "\n", capture_output=True, text=True,
                       timeout=60, check=True).stdout.strip()
    port = free_port()
    extra = ('admin = { listen = ( { address = "127.0.0.1"; port = %d; } ); users = ( { name = "admin"; '
             'password_hash = "%s"; } ); };\n' % (port, h))
    return port, password, extra


def scenario(name, base, results):
    tls = name == "tls"
    folder = tempfile.mkdtemp(prefix=name + "-", dir=base)
    os.chmod(folder, 0o755)
    sink = TlsSink(folder) if tls else PlainSink()
    dns, message, extra = dkim_setup(folder) if name == "dkim" else (None, None, "")
    console = console_setup() if name == "console" else None
    if console:
        extra = console[2]
    mtas = ["smarthost"] if console else MTAS
    try:
        for cls in [c for c in (Postfix, Smarthost) if c.name in mtas]:
            mta = Smarthost(folder, sink.port, tls, extra=extra) if cls is Smarthost else cls(folder, sink.port, tls)
            poller = None
            try:
                mta.start()
                time.sleep(0.5)  # let start-up work settle before the CPU snapshot
                if console:
                    poller = ConsolePoller(console[0], console[1])
                    poller.start()
                run_load(mta, sink, results, name + "_", message)
            finally:
                if poller:
                    poller.stop()
                    results[name + "_console_polls"] = poller.polls
                    results[name + "_console_poll_errors"] = poller.errors
                    if poller.error:
                        log("console poll: %s" % poller.error)
                mta.stop()
        p, s = name + "_postfix_", name + "_smarthost_"
        if console and "plain_smarthost_e2e_msgs_per_s" in results:
            results["console_vs_plain_e2e"] = ratio(results[s + "e2e_msgs_per_s"],
                                                    results["plain_smarthost_e2e_msgs_per_s"])
            results["console_vs_plain_accept"] = ratio(results[s + "accept_msgs_per_s"],
                                                       results["plain_smarthost_accept_msgs_per_s"])
            log("console vs plain (smarthost): e2e %.3f, accept %.3f"
                % (results["console_vs_plain_e2e"], results["console_vs_plain_accept"]))
        if len(mtas) < 2:
            return
        for k in ("e2e_msgs_per_s", "accept_msgs_per_s"):
            results[name + "_ratio_" + k.replace("_msgs_per_s", "")] = ratio(results[s + k], results[p + k])
        results[name + "_ratio_cpu_per_msg"] = ratio(results[s + "cpu_ms_per_msg"], results[p + "cpu_ms_per_msg"])
        results[name + "_ratio_accept_p50"] = ratio(results[s + "accept_p50_ms"], results[p + "accept_p50_ms"])
    finally:
        sink.stop()
        if dns:
            dns.stop()


def ratio(a, b):
    try:
        return round(a / b, 3) if b else float("nan")
    except TypeError:
        return float("nan")


def idle_tls(base, results, conns=None):
    """RSS growth of smarthost per idle inbound connection after EHLO, STARTTLS, EHLO (conns of them;
    default BENCH_IDLE_CONNS)."""
    conns = conns or IDLE_CONNS
    folder = tempfile.mkdtemp(prefix="idle-", dir=base)
    mta = Smarthost(folder, 9, False, conns=conns + 100)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    socks = []

    def open_one():
        s = socket.create_connection(("127.0.0.1", mta.port), timeout=30)
        c = LineSock(s)
        if c.reply() != 220:
            raise RuntimeError("no greeting")
        s.sendall(b"EHLO idle.test.example\r\n")
        c.reply()
        s.sendall(b"STARTTLS\r\n")
        if c.reply() != 220:
            raise RuntimeError("STARTTLS refused")
        t = ctx.wrap_socket(s, server_hostname="relay.test.example")
        c = LineSock(t)
        t.sendall(b"EHLO idle.test.example\r\n")
        if c.reply() != 250:
            raise RuntimeError("EHLO after STARTTLS refused")
        return t

    try:
        mta.start()
        for _ in range(20):  # warm-up: one-time TLS and allocator costs are not per connection
            open_one().close()
        time.sleep(0.5)
        before = rss_kb(mta.pid)
        t0 = time.monotonic()
        failed = 0
        for _ in range(conns):
            if time.monotonic() - t0 > remaining(300):
                break
            try:
                socks.append(open_one())
            except (OSError, RuntimeError):
                failed += 1
        time.sleep(1.0)
        after = rss_kb(mta.pid)
        n = len(socks)
        results["idle_tls_connections"] = n
        results["idle_tls_failed"] = failed
        results["idle_tls_rss_before_kb"] = before
        results["idle_tls_rss_after_kb"] = after
        results["idle_tls_rss_per_conn_kb"] = round((after - before) / max(1, n), 2)
        results["idle_tls_open_seconds"] = round(time.monotonic() - t0 - 1.0, 2)
        log("idle: %d TLS connections, RSS %d -> %d kB, %.1f kB each"
            % (n, before, after, results["idle_tls_rss_per_conn_kb"]))
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        mta.stop()


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return os.cpu_count(), cpu


def postfix_version():
    r = subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True, text=True)
    return r.stdout.strip() or "?"


def write_results(results, started, elapsed):
    if not RESULTS:
        return
    nproc, cpu = machine()
    lines = ["<!-- bench:begin (written by tests/bench/bench.py; edit outside the markers) -->",
             "## Latest run: %s" % started.strftime("%Y-%m-%d %H:%M UTC"), "",
             "- machine: %s cores (nproc), %s, kernel %s" % (nproc, cpu, platform.release()),
             "- Postfix %s; smarthost %s" % (postfix_version(), os.path.relpath(SMARTHOST, ROOT)),
             "- load: smtp-source -s %d -m %d -l %d %s+ one latency probe session; scenarios %s; %.0f s"
             % (SESSIONS, MESSAGES, SIZE, " ".join(SOURCE_ARGS) + " " if SOURCE_ARGS else "",
                ",".join(SCENARIOS), elapsed), ""]
    metrics = ["accept_msgs_per_s", "e2e_msgs_per_s", "accept_p50_ms", "accept_p99_ms", "cpu_s",
               "cpu_ms_per_msg", "peak_rss_kb", "peak_pss_kb", "source_cpu_s", "sink_cpu_s", "bench_cpu_s",
               "machine_busy_pct", "machine_iowait_pct", "foreign_cpu_s", "e2e_seconds", "delivered", "complete"]
    words = {"plain": "outbound plaintext", "tls": "outbound STARTTLS required",
             "dkim": "outbound plaintext, smarthost verifying every message's DKIM signature",
             "console": "outbound plaintext, admin console on and polled every second (smarthost only)"}
    for sc in ("plain", "tls", "dkim", "console"):
        if sc + "_postfix_e2e_msgs_per_s" not in results and sc + "_smarthost_e2e_msgs_per_s" not in results:
            continue
        lines += ["### %s (%s)" % (sc, words[sc]), "",
                  "| metric | Postfix | smarthost | smarthost / Postfix |", "| --- | ---: | ---: | ---: |"]
        for m in metrics:
            a = results.get("%s_postfix_%s" % (sc, m), "")
            b = results.get("%s_smarthost_%s" % (sc, m), "")
            rt = ratio(b, a) if isinstance(a, (int, float)) and isinstance(b, (int, float)) else ""
            lines.append("| %s | %s | %s | %s |" % (m, a, b, rt))
        lines.append("")
        if sc == "console" and "console_vs_plain_e2e" in results:
            lines += ["- console on / off (smarthost e2e rate): %s (accept rate: %s)"
                      % (results["console_vs_plain_e2e"], results["console_vs_plain_accept"]), ""]
    if "idle_tls_connections" in results:
        lines += ["### idle inbound TLS connections (smarthost)", ""]
        for k in sorted(k for k in results if k.startswith("idle_")):
            lines.append("- %s = %s" % (k, results[k]))
        lines.append("")
    lines += scale_scenarios.results_lines(results)
    lines += ["<details><summary>all name=value lines</summary>", "", "```"]
    lines += ["%s=%s" % kv for kv in results.items()]
    lines += ["```", "", "</details>", "<!-- bench:end -->"]
    block = "\n".join(lines) + "\n"
    try:
        with open(RESULTS) as f:
            old = f.read()
    except OSError:
        old = "# smarthost vs Postfix: benchmark results\n\n`make bench` rewrites the block between the markers.\n\n"
    m = re.search(r"<!-- bench:begin.*?<!-- bench:end -->\n?", old, re.S)
    new = old[:m.start()] + block + old[m.end():] if m else old.rstrip("\n") + "\n\n" + block
    with open(RESULTS, "w") as f:
        f.write(new)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, max(IDLE_CONNS, scale_scenarios.idle_conns(SCENARIOS)) * 2 + 1000))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if os.geteuid() != 0:
        sys.exit("bench: must run as root (a private Postfix instance needs it)")
    if not os.access(SMARTHOST, os.X_OK):
        sys.exit("bench: no smarthost binary at %s (make B=... first)" % SMARTHOST)
    for tool in (SMTP_SOURCE, POSTFIX, "/usr/sbin/smtp-sink"):
        if not os.access(tool, os.X_OK):
            sys.exit("bench: %s is missing (./deps.sh test installs Postfix)" % tool)
    started = datetime.datetime.now(datetime.timezone.utc)
    nproc, cpu = machine()
    results = {"date": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "machine_nproc": nproc,
               "machine_cpu": '"%s"' % cpu, "messages": MESSAGES, "sessions": SESSIONS, "size": SIZE,
               "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    base = tempfile.mkdtemp(prefix="smarthost-bench-", dir=TMP_PARENT)
    os.chmod(base, 0o755)  # the postfix user must reach its queue below it
    t0 = time.monotonic()
    status = 0
    try:
        for sc in SCENARIOS:
            if sc in ("plain", "tls", "dkim", "console"):
                scenario(sc, base, results)
            elif sc == "idle":
                idle_tls(base, results)
            elif sc in scale_scenarios.NAMES:
                scale_scenarios.run(sc, base, results, sys.modules[__name__])
            else:
                raise SystemExit("bench: unknown scenario %r" % sc)
    except Exception as e:  # noqa: BLE001
        log("failed: %s" % e)
        status = 1
    finally:
        if not KEEP:
            shutil.rmtree(base, ignore_errors=True)
        else:
            log("kept %s" % base)
    scale_scenarios.fractions_of_limit(results)
    elapsed = time.monotonic() - t0
    results["bench_seconds"] = round(elapsed, 1)
    results["bench_complete"] = 1 if status == 0 else 0
    for k, v in results.items():
        print("%s=%s" % (k, v))
    sys.stdout.flush()
    write_results(results, started, elapsed)
    return status


if __name__ == "__main__":
    sys.exit(main())
