"""syslog_server.py - a real syslog daemon (Debian's rsyslogd) on a private socket, and a way to
run a program whose /dev/log is that socket.

syslog(3) always writes to /dev/log, which the machine may not have and tests must not replace.
SyslogServer starts `rsyslogd -n -f FILE` with imuxsock listening on a socket in its own temp
folder and every message written to a file as "FACILITY.SEVERITY PROGRAM[PID]: MESSAGE", so a
test sees the facility and severity the daemon understood. `wrap()` is a command prefix that runs
a program in a private mount namespace (unshare -m; tests run as root) where /dev is an overlay
of the real one with /dev/log bind-mounted from that socket: the program's syslog(3) reaches
our rsyslogd, nobody else's /dev/log changes. The prefix execs the program, so its PID stays.

How it fails: start() raises RuntimeError with rsyslogd's output when it exits or its socket does
not appear within `start_timeout` seconds. stop() ends rsyslogd by its PID (never by name) and is
idempotent; cleanup() also removes the folder.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

CONF = """global(workDirectory="%(dir)s")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="%(sock)s" CreatePath="on")
template(name="facility" type="string"
         string="%%syslogfacility-text%%.%%syslogseverity-text%% %%programname%%[%%procid%%]:%%msg%%\\n")
*.* action(type="omfile" file="%(out)s" template="facility")
"""

# Runs "$0" "$@" with /dev/log bound to SOCK, in a mount namespace of its own.
WRAP = ('mount -t overlay overlay -o lowerdir=/dev,upperdir=%(dir)s/dev-up,workdir=%(dir)s/dev-work /dev'
        ' && touch /dev/log && mount --bind %(sock)s /dev/log && exec "$0" "$@"')


class SyslogServer:
    def __init__(self, start_timeout=10.0):
        self.dir = tempfile.mkdtemp(prefix="smarthost-syslog-")
        self.sock = os.path.join(self.dir, "log.sock")
        self.out = os.path.join(self.dir, "messages")
        self.start_timeout = start_timeout
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(CONF % {"dir": self.dir, "sock": self.sock, "out": self.out})
        self.log = open(os.path.join(self.dir, "rsyslogd.out"), "wb")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", conf, "-i", os.path.join(self.dir, "rsyslogd.pid")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("rsyslogd did not start:\n" + self._read(os.path.join(self.dir, "rsyslogd.out")))
            time.sleep(0.05)
        return self

    def wrap(self):
        """The command prefix for Relay(wrap=...): the program's /dev/log is our socket."""
        for d in ("dev-up", "dev-work"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", WRAP % {"dir": self.dir, "sock": self.sock}]

    def text(self):
        return self._read(self.out)

    def wait(self, want, timeout=15):
        """Waits for `want` (a regex) in what rsyslogd wrote; returns the match."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(want, self.text())
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError("no %r from syslog within %ss:\n%s" % (want, timeout, self.text()))

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def _read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""
