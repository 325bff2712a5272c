"""scale_scenarios.py - bench.py's scale scenarios (issue 20, SPEC R-SCALE and R-PERF).

bench.py runs these by name (BENCH_SCENARIOS); each is side by side with the same private Postfix
as bench.py's own scenarios (one MTA after the other, same next hop, same load), except idle_tls
and limit. They use bench.py's accounting (run_load, tree_cpu, Sampler), handed in as `b`.

  limit     no MTA: the plain load (smtp-source, as `plain`) straight into smtp-sink, the same
            with load_gen.py, and load_gen.py --starttls into tls_sink.py; every scenario's e2e
            rate (and backlog's drain rate) is then also reported as a fraction of the first
            (NAME_MTA_of_limit), and for the load_gen.py scenarios of load_gen.py's own
            (NAME_MTA_of_loadgen_limit; tls_both: of the STARTTLS one).
  domains   recipients spread over BENCH_DOMAINS (2000) domains dN.bench.example, each with its
            own MX host mxN.bench.example, the MX hosts on BENCH_DOMAIN_ADDRS (50) loopback
            addresses 127.0.1.1... (one smtp-sink on port 25 of each). A local unbound serves
            them on 127.0.2.53 port 53. smarthost: a kind = "mx" route, dns.servers naming that
            unbound (mta_sts left at its default, on). Postfix: no relayhost, MX lookups through
            the system resolver, which reads /etc/resolv.conf and only ever asks port 53: Postfix
            is started inside `unshare -m` with a resolv.conf naming 127.0.2.53 bind-mounted over
            /etc/resolv.conf, in that private mount namespace only (its daemons inherit it; the
            machine's /etc/resolv.conf is never touched). Load: load_gen.py (smtp-source sends to
            one domain only), message i to domain i % BENCH_DOMAINS.
  backlog   the next hop down (nothing listens on its port) while BENCH_BACKLOG (100000) messages
            are accepted (smtp-source -N -c: numbered recipients, a running count). Reported:
            accept rate over the first and the last 10 % of the backlog and their ratio, CPU per
            accepted message, the MTA's CPU while the backlog sits with the hop down (after it
            settled: under 5 % of a core over 2 s, at most BENCH_BACKLOG_SETTLE (120) s) over
            BENCH_BACKLOG_IDLE_SECONDS (20) s, then the next hop comes back (smtp-sink -v, whose
            log gives the delivery order), the flush command (`smarthost queue flush`,
            `postqueue -f`) and the time it took, the drain rate from the flush to the last
            message, CPU per drained message, and the drain order against the arrival order
            (the recipient's number): order_mean_displacement (mean |delivery position - arrival
            position| / N: 0 in order, about 0.33 random), order_out_of_place (the fraction
            more than 1 % of N out of place) and order_first_decile (the fraction of the first
            10 % delivered that were among the first 10 % accepted: 1 in order, 0.1 random).
  tls_both  STARTTLS on the inbound leg too (load_gen.py --starttls, the same for both; both MTAs
            present the test PKI's valid.pem, Postfix with smtpd_tls_security_level = may) and
            required outbound into tls_sink.py, as `tls`. The latency probe stays plaintext.
  idle_tls  bench.py's idle measurement at BENCH_IDLE_TLS_CONNS (5000) connections: RSS per idle
            inbound TLS connection. smarthost only: Postfix forks one smtpd per connection, so
            its cost per connection is a process, not comparable bytes in one.

Only one bench runs at a time: domains needs port 25 of 127.0.1.1..N and port 53 of 127.0.2.53.
backlog keeps BENCH_BACKLOG x BENCH_SIZE bytes (and more) queued in BENCH_TMP per MTA.

load_gen.py sends BENCH_LOADGEN_PER_CONN (10) messages per connection from BENCH_LOADGEN_PROCS (2)
processes: a Python client pays about 1.6 ms of CPU per message at one message per connection
here and about 1 ms at ten (smtp-source: 0.26 ms), so it, not the MTA, could be the limit;
limit_loadgen_msgs_per_s (the same load_gen.py load straight into smtp-sink) shows where it
stands, and NAME_MTA_of_loadgen_limit is each load_gen.py rate as a fraction of it.
"""
import os
import re
import signal
import subprocess
import tempfile
import threading
import time

from relay_fixture import testpki  # tests/integration, on bench.py's sys.path

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ("limit", "domains", "backlog", "tls_both", "idle_tls")
# BENCH_SCENARIOS=all: limit first, so every rate after it is also a fraction of it.
ALL = ["limit", "plain", "tls", "tls_both", "domains", "backlog", "idle_tls", "dkim", "console"]
DNS_HOST = "127.0.2.53"  # port 53: the only port glibc's resolver asks
SINK_NET = "127.0.1."


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


DOMAINS = env_int("BENCH_DOMAINS", 2000)
DOMAIN_ADDRS = max(1, min(250, env_int("BENCH_DOMAIN_ADDRS", 50)))
BACKLOG = env_int("BENCH_BACKLOG", 100000)
BACKLOG_IDLE_SECONDS = env_int("BENCH_BACKLOG_IDLE_SECONDS", 20)
BACKLOG_SETTLE = env_int("BENCH_BACKLOG_SETTLE", 120)
IDLE_TLS_CONNS = env_int("BENCH_IDLE_TLS_CONNS", 5000)
LOADGEN_PER_CONN = env_int("BENCH_LOADGEN_PER_CONN", 10)
LOADGEN_PROCS = env_int("BENCH_LOADGEN_PROCS", 2)


def expand(scenarios):
    """BENCH_SCENARIOS with "all" replaced by every scenario."""
    out = []
    for s in scenarios:
        out += [x for x in (ALL if s == "all" else [s]) if x not in out]
    return out


def extra_seconds(scenarios):
    """What these scenarios add to the whole run's default bound (BENCH_MAX_SECONDS unset): the
    backlog's accept and drain by both MTAs at Postfix's pace (about 150 msg/s on a busy machine)
    plus its settle and idle waits; a Postfix run of the others at about 100 msg/s."""
    extra = 0
    if "backlog" in scenarios:
        extra += 2 * BACKLOG // 150 + 2 * (BACKLOG_SETTLE + BACKLOG_IDLE_SECONDS)
    extra += 300 * len([s for s in scenarios if s in ("domains", "tls_both", "idle_tls", "limit")])
    return extra


def idle_conns(scenarios):
    """Connections the run holds open at once (bench.py raises RLIMIT_NOFILE for them)."""
    return IDLE_TLS_CONNS if "idle_tls" in scenarios else 0


def run(name, base, results, b):
    {"limit": limit, "domains": domains, "backlog": backlog, "tls_both": tls_both,
     "idle_tls": lambda base, results, b: b.idle_tls(base, results, conns=IDLE_TLS_CONNS)}[name](base, results, b)


def load_gen(b, port, starttls=False, domains=1, messages=None):
    """The load_gen.py command for MESSAGES (or messages) into 127.0.0.1:port."""
    return ["/usr/bin/python3", os.path.join(HERE, "load_gen.py"), "--port", str(port),
            "--sessions", str(b.SESSIONS), "--messages", str(messages or b.MESSAGES), "--size", str(b.SIZE),
            "--domains", str(domains), "--per-conn", str(LOADGEN_PER_CONN), "--procs", str(LOADGEN_PROCS),
            "--max-seconds", str(int(b.remaining(b.MAX_SECONDS)))] + (["--starttls"] if starttls else [])


def ratios(name, results, b):
    p, s = name + "_postfix_", name + "_smarthost_"
    for k in ("e2e_msgs_per_s", "accept_msgs_per_s"):
        if p + k in results and s + k in results:
            results[name + "_ratio_" + k.replace("_msgs_per_s", "")] = b.ratio(results[s + k], results[p + k])
    if p + "cpu_ms_per_msg" in results and s + "cpu_ms_per_msg" in results:
        results[name + "_ratio_cpu_per_msg"] = b.ratio(results[s + "cpu_ms_per_msg"], results[p + "cpu_ms_per_msg"])


def side_by_side(name, base, results, b, sink, make, source):
    """Runs the load through a Postfix and then a smarthost that make(cls, folder) builds."""
    folder = tempfile.mkdtemp(prefix=name + "-", dir=base)
    os.chmod(folder, 0o755)
    for cls in [c for c in (b.Postfix, b.Smarthost) if c.name in b.MTAS]:
        mta = make(cls, folder)
        try:
            mta.start()
            time.sleep(0.5)
            b.run_load(mta, sink, results, name + "_", source=source)
        finally:
            mta.stop()
    ratios(name, results, b)


# --- limit ---------------------------------------------------------------------------------------

def limit(base, results, b):
    """The loads straight into the next hops: what the machine carries with no MTA at all.
    limit: smtp-source as `plain` into smtp-sink; limit_loadgen: load_gen.py as `domains` into
    smtp-sink; limit_loadgen_tls: load_gen.py --starttls as `tls_both` into tls_sink.py."""
    folder = tempfile.mkdtemp(prefix="limit-", dir=base)
    smtp_source = (lambda port: [b.SMTP_SOURCE, "-s", str(b.SESSIONS), "-m", str(b.MESSAGES), "-l", str(b.SIZE),
                                 "-f", b.SENDER, "-t", b.RCPT, "-M", "source.bench.example"] + b.SOURCE_ARGS
                   + ["127.0.0.1:%d" % port])
    for label, cmd, make_sink in (("limit", smtp_source, b.PlainSink),
                                  ("limit_loadgen", lambda port: load_gen(b, port), b.PlainSink),
                                  ("limit_loadgen_tls", lambda port: load_gen(b, port, starttls=True),
                                   lambda: b.TlsSink(folder))):
        sink = make_sink()
        try:
            t0 = time.monotonic()
            cpu0 = b.tree_cpu(sink.pid)
            src = subprocess.run(cmd(sink.port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 timeout=b.remaining(max(120, b.MESSAGES / 20.0)))
            deadline = time.monotonic() + b.remaining(60)
            while sink.count() < b.MESSAGES and time.monotonic() < deadline:
                time.sleep(0.01)
            dt = time.monotonic() - t0
            got = sink.count()
            results[label + "_msgs_per_s"] = round(got / max(1e-9, dt), 1)
            results[label + "_sink_cpu_ms_per_msg"] = round((b.tree_cpu(sink.pid) - cpu0) * 1000 / max(1, got), 3)
            results[label + "_complete"] = 1 if got >= b.MESSAGES and src.returncode == 0 else 0
            b.log("%s: %d msgs straight into the next hop, %.0f/s" % (label, got, results[label + "_msgs_per_s"]))
        finally:
            sink.stop()


def fractions_of_limit(results):
    """Every e2e (and backlog drain) rate as a fraction of limit's, and of load_gen.py's own limit
    (with STARTTLS for tls_both) where load_gen.py was the load."""
    lim = results.get("limit_msgs_per_s")
    for k in [k for k in results if k.endswith(("_e2e_msgs_per_s", "_drain_msgs_per_s"))]:
        head = k[:-len("_msgs_per_s")].replace("_e2e", "")
        if lim:
            results[head + "_of_limit"] = round(results[k] / lim, 3)
        gen = results.get("limit_loadgen_tls_msgs_per_s" if head.startswith("tls_both_") else
                          "limit_loadgen_msgs_per_s" if head.startswith("domains_") else "")
        if gen:
            results[head + "_of_loadgen_limit"] = round(results[k] / gen, 3)


# --- domains ------------------------------------------------------------------------------------

class MultiSink:
    """One smtp-sink on port 25 of each of DOMAIN_ADDRS loopback addresses, all children of one
    /bin/sh (so tree_cpu(pid) counts them all); count() sums their -c counters."""

    def __init__(self, folder, b):
        self.b = b
        self.dir = os.path.join(folder, "sinks")
        os.makedirs(self.dir)
        script = ('i=1; while [ $i -le %d ]; do smtp-sink -c -u nobody %s$i:25 1024 > "%s/c$i" 2>&1 & '
                  'i=$((i+1)); done; wait' % (DOMAIN_ADDRS, SINK_NET, self.dir))
        self.proc = subprocess.Popen(["/bin/sh", "-c", script], stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 20
        while self.listening() < DOMAIN_ADDRS:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("smtp-sinks on %sN:25 did not start (port 25 taken?)" % SINK_NET)
            time.sleep(0.05)

    @staticmethod
    def listening():
        """Sockets in LISTEN on port 25 of 127.0.1.x (/proc/net/tcp: little-endian hex address)."""
        n = 0
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                local, state = line.split()[1], line.split()[3]
                n += local.endswith(":0019") and local[2:8] == "01007F" and state == "0A"
        return n

    def count(self):
        total = 0
        for name in os.listdir(self.dir):
            with open(os.path.join(self.dir, name), errors="replace") as f:
                recs = re.findall(r"mesg=(\d+)", f.read())
            total += int(recs[-1]) if recs else 0
        return total

    def stop(self):
        # the sinks (children of our shell), each by its PID; the shell's wait then returns
        for pid in self.b.process_tree(self.pid)[1:]:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def dns_for_domains(b):
    """unbound on DNS_HOST:53 with DOMAINS MX domains; the probe's recipient domain goes to mx0."""
    from dns_server import DnsServer
    records = []
    for d in range(DOMAINS):
        records.append("d%d.bench.example. MX 10 mx%d.bench.example." % (d, d))
        records.append("mx%d.bench.example. A %s%d" % (d, SINK_NET, d % DOMAIN_ADDRS + 1))
    probe_domain = b.RCPT.split("@")[1] + "."
    records.append("%s MX 10 mx0.bench.example." % probe_domain)
    dns = DnsServer(zones=[("bench.example.", "static"), (probe_domain, "static")], records=records,
                    host=DNS_HOST, extra=["num-threads: 1", "msg-cache-size: 16m", "rrset-cache-size: 32m"])
    dns.start(port=53)
    return dns


def domains(base, results, b):
    folder = tempfile.mkdtemp(prefix="domains-", dir=base)
    os.chmod(folder, 0o755)
    resolv = os.path.join(folder, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\noptions attempts:2 timeout:2\n" % DNS_HOST)
    os.chmod(resolv, 0o644)
    dns = dns_for_domains(b)
    sink = None
    try:
        sink = MultiSink(folder, b)

        def make(cls, where):
            if cls is b.Postfix:
                return domains_postfix(b, where, resolv)
            return domains_smarthost(b, where)
        side_by_side("domains", base, results, b, sink, make,
                     lambda port: load_gen(b, port, domains=DOMAINS))
        results["domains_count"] = DOMAINS
        results["domains_sink_addresses"] = DOMAIN_ADDRS
    finally:
        if sink:
            sink.stop()
        dns.stop()


def domains_postfix(b, folder, resolv):
    pf = b.Postfix(folder, 25, False)
    rewrite(os.path.join(pf.conf, "main.cf"), r"(?m)^relayhost = .*$",
            "relayhost =\nsmtp_host_lookup = dns\ndefault_destination_concurrency_limit = 20")
    # The system resolver asks port 53 of the servers in /etc/resolv.conf: give this Postfix (and
    # every daemon its master forks) a private mount namespace where that file names our unbound.
    pf.start_prefix = ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                       'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
    return pf


def domains_smarthost(b, folder):
    sh = b.Smarthost(folder, 25, False, extra='dns = { servers = [ "%s@53" ]; };\n' % DNS_HOST)
    rewrite(sh.cfg, r"(?s)routes = \(.*?\);\n",
            'routes = ( { name = "bench"; match = [ "*" ]; kind = "mx"; port = 25; tls = "none"; } );\n')
    return sh


def rewrite(path, pattern, repl):
    with open(path) as f:
        text = f.read()
    new, n = re.subn(pattern, lambda m: repl, text, count=1)
    if n != 1:
        raise RuntimeError("%s: %r not found" % (path, pattern))
    with open(path, "w") as f:
        f.write(new)


# --- tls_both -----------------------------------------------------------------------------------

def tls_both(base, results, b):
    folder = tempfile.mkdtemp(prefix="tls_both-", dir=base)
    os.chmod(folder, 0o755)
    sink = b.TlsSink(folder)
    pki = testpki()

    def make(cls, where):
        if cls is b.Smarthost:
            return b.Smarthost(where, sink.port, True)  # its tls.cert is offered inbound already
        pf = b.Postfix(where, sink.port, True)
        with open(os.path.join(pf.conf, "main.cf"), "a") as f:
            f.write("smtpd_tls_cert_file = %s/valid.pem\nsmtpd_tls_key_file = %s/valid.key\n"
                    "smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 0\n" % (pki, pki))
        return pf
    try:
        side_by_side("tls_both", base, results, b, sink, make, lambda port: load_gen(b, port, starttls=True))
    finally:
        sink.stop()


# --- backlog ------------------------------------------------------------------------------------

class Counter(threading.Thread):
    """Reads smtp-source -c's running count ("N\\r" after each message) and notes when each
    count was reached."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.times = []  # times[n - 1]: when count n was printed

    def run(self):
        buf = b""
        while True:
            chunk = os.read(self.stream.fileno(), 65536)
            if not chunk:
                return
            now = time.monotonic()
            buf += chunk
            *done, buf = re.split(rb"[\r\n]", buf)
            for tok in done:
                if tok.strip().isdigit():
                    n = int(tok)
                    while len(self.times) < n:
                        self.times.append(now)


def window_rate(times, t0, lo, hi):
    """Messages per second between the lo-th and hi-th accepted message (fractions of the list)."""
    n = len(times)
    a, z = int(n * lo), max(int(n * hi) - 1, 0)
    start = t0 if a == 0 else times[a - 1]
    return round((z + 1 - a) / max(1e-9, times[z] - start), 1) if n else 0.0


def order_metrics(seqs, n):
    """How far delivery order (the sink's) is from arrival order (smtp-source's numbers 1..n)."""
    if not seqs:
        return {}
    arrival = {s: i for i, s in enumerate(sorted(seqs))}  # numbers lost to errors leave no gaps
    disp = [abs(pos - arrival[s]) for pos, s in enumerate(seqs)]
    tol, dec = max(1, n // 100), max(1, len(seqs) // 10)
    return {"order_mean_displacement": round(sum(disp) / len(disp) / n, 4),
            "order_out_of_place": round(sum(1 for d in disp if d > tol) / len(disp), 4),
            "order_first_decile": round(sum(1 for s in seqs[:dec] if arrival[s] < dec) / dec, 4)}


def settle(b, pid):
    """Waits (at most BACKLOG_SETTLE s) until the MTA uses under 5 % of a core over 2 s."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < b.remaining(BACKLOG_SETTLE):
        c0 = b.tree_cpu(pid)
        time.sleep(2)
        if b.tree_cpu(pid) - c0 < 0.1:
            break
    return round(time.monotonic() - t0, 1)


def flush_cmd(mta, b):
    if isinstance(mta, b.Smarthost):
        return [b.SMARTHOST, "queue", "-c", mta.cfg, "flush"]
    return ["postqueue", "-c", mta.conf, "-f"]


def backlog_one(mta, sink_port, results, b, folder):
    p = "backlog_%s_" % mta.name
    r = results
    cpu0 = b.tree_cpu(mta.pid)
    sampler = b.Sampler(mta.pid)
    sampler.start()
    cmd = [b.SMTP_SOURCE, "-c", "-N", "-s", str(b.SESSIONS), "-m", str(BACKLOG), "-l", str(b.SIZE),
           "-f", b.SENDER, "-t", b.RCPT, "-M", "source.bench.example"] + b.SOURCE_ARGS + ["127.0.0.1:%d" % mta.port]
    t0 = time.monotonic()
    src = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    counter = Counter(src.stdout)
    counter.start()
    try:
        src_err = src.communicate(timeout=b.remaining(max(300, BACKLOG / 20.0)))[1]
    except subprocess.TimeoutExpired:
        src.kill()
        src_err = src.communicate()[1]
        b.log("%s smtp-source did not finish in time" % p[:-1])
    counter.join(timeout=5)
    t_acc = time.monotonic()
    # smtp-source's last count can be missing from -c's output: its exit status is the authority
    accepted = BACKLOG if src.returncode == 0 else len(counter.times)
    cpu_acc = b.tree_cpu(mta.pid) - cpu0
    r[p + "accepted"] = accepted
    r[p + "accept_msgs_per_s"] = round(accepted / max(1e-9, t_acc - t0), 1)
    r[p + "accept_start_msgs_per_s"] = window_rate(counter.times, t0, 0.0, 0.1)
    r[p + "accept_end_msgs_per_s"] = window_rate(counter.times, t0, 0.9, 1.0)
    r[p + "accept_end_vs_start"] = b.ratio(r[p + "accept_end_msgs_per_s"], r[p + "accept_start_msgs_per_s"])
    r[p + "accept_cpu_ms_per_msg"] = round(cpu_acc * 1000 / max(1, accepted), 3)
    r[p + "source_errors"] = len([l for l in src_err.splitlines() if l.strip()])
    r[p + "settle_seconds"] = settle(b, mta.pid)
    c0 = b.tree_cpu(mta.pid)
    t_i = time.monotonic()
    time.sleep(min(BACKLOG_IDLE_SECONDS, b.remaining(BACKLOG_IDLE_SECONDS)))
    r[p + "idle_cpu_pct_of_core"] = round(100 * (b.tree_cpu(mta.pid) - c0) / (time.monotonic() - t_i), 2)
    r[p + "rss_with_backlog_kb"] = sum(b.rss_kb(x) for x in b.process_tree(mta.pid))
    b.log("%s: %d accepted (%.0f/s; start %.0f/s, end %.0f/s), idle CPU %.2f %% of a core"
          % (p[:-1], accepted, r[p + "accept_msgs_per_s"], r[p + "accept_start_msgs_per_s"],
             r[p + "accept_end_msgs_per_s"], r[p + "idle_cpu_pct_of_core"]))
    # The hop comes back: smtp-sink -v logs every command, so its RCPT lines give delivery order.
    sink = b.SinkPeer(port=sink_port, backlog=1024, args=["-v"]).start()
    try:
        c0 = b.tree_cpu(mta.pid)
        t_f = time.monotonic()
        fl = subprocess.run(flush_cmd(mta, b), capture_output=True, text=True, timeout=b.remaining(600))
        r[p + "flush_command_seconds"] = round(time.monotonic() - t_f, 3)
        if fl.returncode != 0:
            b.log("%s flush failed: %s %s" % (p[:-1], fl.stdout, fl.stderr))
        deadline = time.monotonic() + b.remaining(max(300, accepted / 50.0))
        got = 0
        while got < accepted and time.monotonic() < deadline:
            time.sleep(0.05)
            got = sink.counts()["mesg"]
        t_d = time.monotonic()
        r[p + "delivered"] = got
        r[p + "drain_msgs_per_s"] = round(got / max(1e-9, t_d - t_f), 1)
        r[p + "drain_seconds"] = round(t_d - t_f, 2)
        r[p + "drain_cpu_ms_per_msg"] = round((b.tree_cpu(mta.pid) - c0) * 1000 / max(1, got), 3)
        r[p + "peak_rss_kb"] = sampler.stop()
        r[p + "complete"] = 1 if got >= accepted == BACKLOG and fl.returncode == 0 else 0
        seqs = [int(m) for m in re.findall(r"RCPT TO:<(\d+)", sink._file("stderr.txt"))]
        for k, v in order_metrics(seqs, max(1, accepted)).items():
            r[p + k] = v
        if not r[p + "complete"]:
            b.log("%s incomplete: %d of %d delivered\n%s" % (p[:-1], got, accepted, mta.log_tail()[-2000:]))
        b.log("%s: flush command %.2fs, drain %.0f/s, %s" % (p[:-1], r[p + "flush_command_seconds"],
                                                           r[p + "drain_msgs_per_s"], order_metrics(seqs, max(1, accepted))))
    finally:
        sink.cleanup()


def backlog(base, results, b):
    folder = tempfile.mkdtemp(prefix="backlog-", dir=base)
    os.chmod(folder, 0o755)
    sink_port = b.free_port()  # nothing listens there until the hop "returns"
    for cls in [c for c in (b.Postfix, b.Smarthost) if c.name in b.MTAS]:
        mta = cls(folder, sink_port, False)
        try:
            mta.start()
            time.sleep(0.5)
            backlog_one(mta, sink_port, results, b, folder)
        finally:
            mta.stop()
    p, s = "backlog_postfix_", "backlog_smarthost_"
    for k in ("drain_msgs_per_s", "accept_msgs_per_s", "drain_cpu_ms_per_msg", "accept_cpu_ms_per_msg",
              "flush_command_seconds"):
        if p + k in results and s + k in results:
            results["backlog_ratio_" + k.replace("_msgs_per_s", "")] = b.ratio(results[s + k], results[p + k])
    results["backlog_messages"] = BACKLOG


# --- RESULTS.md ---------------------------------------------------------------------------------

WORDS = {"domains": "recipients over many MX domains through a local unbound",
         "tls_both": "STARTTLS inbound (load_gen.py) and required outbound",
         "backlog": "the next hop down while the backlog is accepted, then back and flushed"}


def results_lines(results):
    """The scale scenarios' part of the RESULTS.md block (markdown lines)."""
    lines = []
    for sc in ("domains", "tls_both", "backlog"):
        keys = sorted({k.split("_", 2)[2] if sc != "tls_both" else k.split("_", 3)[3]
                       for k in results if k.startswith(sc + "_postfix_") or k.startswith(sc + "_smarthost_")})
        if not keys:
            continue
        lines += ["### %s (%s)" % (sc, WORDS[sc]), "",
                  "| metric | Postfix | smarthost | smarthost / Postfix |", "| --- | ---: | ---: | ---: |"]
        for m in keys:
            a = results.get("%s_postfix_%s" % (sc, m), "")
            z = results.get("%s_smarthost_%s" % (sc, m), "")
            rt = round(z / a, 3) if isinstance(a, (int, float)) and isinstance(z, (int, float)) and a else ""
            lines.append("| %s | %s | %s | %s |" % (m, a, z, rt))
        lines.append("")
    lim = [k for k in results if k.startswith("limit") or k.endswith("_of_limit") or k.endswith("_loadgen_limit")]
    if lim:
        lines += ["### limit (no MTA: each load straight into its next hop) and each rate as a fraction of it", ""]
        lines += ["- %s = %s" % (k, results[k]) for k in lim]
        lines.append("")
    return lines
