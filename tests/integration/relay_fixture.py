"""relay_fixture.py - start the real smarthost binary on loopback for tests.

Relay(config_text) writes the config into a fresh temp folder (the string
QUEUE_DIR, RELAY_DIR (that folder), TESTPKI and PORT placeholders are filled in), starts
`smarthost run -c FILE` on a free 127.0.0.1 port, waits until it greets, and
stops it by PID. Also: the test PKI, free ports, swaks, and a raw SMTP client
for byte-exact conversations.
"""
import os
import pwd
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SMARTHOST_BIN", os.path.join(ROOT, "build", "san", "smarthost"))
PKI_DIR = os.path.join(ROOT, "build", "testpki")


def testpki():
    """Makes (once) and returns the folder of the test PKI."""
    subprocess.run([os.path.join(ROOT, "certs", "testpki", "make-pki.sh"), PKI_DIR], check=True)
    return PKI_DIR


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=20.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


BASE_CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = 9; } );
queue = { path = "QUEUE_DIR"; };
"""


class Relay:
    """`wrap`: a command line the relay's own is appended to (it must exec it, so that the PID
    stays the relay's), e.g. to run it in a private mount namespace."""

    def __init__(self, config_text=BASE_CONFIG, port=None, wrap=None):
        self.wrap = list(wrap or [])
        self.dir = tempfile.mkdtemp(prefix="smarthost-it-")
        self.port = port or free_port()
        self.queue_dir = os.path.join(self.dir, "queue")
        self.config_path = os.path.join(self.dir, "smarthost.cfg")
        self.log_path = os.path.join(self.dir, "relay.log")
        self.proc = None
        self.write_config(config_text)

    def write_config(self, text):
        text = (text.replace("QUEUE_DIR", self.queue_dir)
                .replace("RELAY_DIR", self.dir)
                .replace("TESTPKI", testpki())
                .replace("PORT", str(self.port)))
        if not re.search(r"^\s*user\s*=", text, re.M):
            # `user` must exist (default "smarthost", absent on test machines). As root the relay
            # drops to it: tests that are not about privileges keep root (test_privileges.py drops
            # to nobody); otherwise it is who we are.
            text += '\nuser = "%s";\n' % pwd.getpwuid(os.geteuid()).pw_name
        with open(self.config_path, "w") as f:
            f.write(text)

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.wrap + [BIN, "run", "-c", self.config_path],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_port(self.port, proc=self.proc):
            self.stop()
            raise RuntimeError("relay did not start:\n" + self.log_text())
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_log(self, want, timeout=15, since=0, text=None):
        """Waits for `want` (a regex) in text() (default: log_text) after offset `since`;
        returns the match."""
        text = text or self.log_text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(want, text()[since:])
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError("no %r in the log within %ss:\n%s" % (want, timeout, text()[since:]))

    def reload(self, config_text, want, text=None):
        """Writes the new config (None: keeps it), sends SIGHUP, waits for `want` (a regex) in
        what text() (default: log_text) adds; returns the added text."""
        text = text or self.log_text
        before = len(text())
        if config_text is not None:
            self.write_config(config_text)
        self.proc.send_signal(signal.SIGHUP)
        self.wait_log(want, since=before, text=text)
        return text()[before:]

    def cli(self, *args, check=True):
        r = subprocess.run([BIN] + list(args[:1]) + ["-c", self.config_path] + list(args[1:]),
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("smarthost %s failed (%d): %s" % (args, r.returncode, r.stderr))
        return r

    def queue_list(self):
        import json
        return json.loads(self.cli("queue", "list", "--json").stdout)["messages"]

    def swaks(self, *args, timeout=60):
        cmd = ["swaks", "--server", "127.0.0.1:%d" % self.port, "--timeout", "20"] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def client(self, source=None):
        return SmtpClient(self.port, source=source)

    def cleanup(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir])


def stop_and_check(tc, relay, stopped_ok=False):
    """tearDown's end for a test that ran `relay`: stop it, remove its folder, and fail `tc` unless it
    exited 0 (or, with stopped_ok, a test had stopped it already) with no sanitizer report in its log."""
    rc = relay.stop()
    log = relay.log_text()
    relay.cleanup()
    if stopped_ok:
        tc.assertIn(rc, (0, None), log)
    else:
        tc.assertEqual(rc, 0, log)
    tc.assertNotIn("AddressSanitizer", log)
    tc.assertNotIn("runtime error", log)


class SmtpClient:
    """A byte-exact SMTP client: what you send is what goes on the wire."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=20):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """One whole (possibly multi-line) reply as (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed; got %r" % (lines,))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode(errors="replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self, ca_file, server_hostname="relay.test.example", **ctx_args):
        ctx = ssl.create_default_context(cafile=ca_file)
        ctx.check_hostname = False
        for k, v in ctx_args.items():
            setattr(ctx, k, v)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        return self.sock

    def closed(self, timeout=5):
        """True when the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (socket.timeout, TimeoutError):
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
