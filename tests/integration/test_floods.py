"""test_floods.py - floods and slow clients (R-SMTP-IN limits, R-SEC).

Connection limits per client IP and in total answer 421 4.7.0; the command and DATA timeouts
end stalled sessions with 421 4.4.2; a slowloris client (many connections dripping a byte at a
time) holds at most its connections_per_ip slots and cannot keep one alive by dripping; and a
flood of 5000 loopback connections from many source addresses leaves the relay serving an
allowlisted client. Every loop is bounded in count and time.
"""
import os
import resource
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest

from relay_fixture import BASE_CONFIG, Relay


def limits_config(text):
    return BASE_CONFIG.replace('queue = { path = "QUEUE_DIR"; };',
                               'queue = { path = "QUEUE_DIR"; };\nlimits = { %s };' % text)


def connect(port, source, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_reply(s):
    """The first reply line, b"" when the server closed first."""
    buf = b""
    while b"\r\n" not in buf:
        try:
            chunk = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\r\n", 1)[0]


def drip(s, data, interval):
    """Sends data one byte every `interval` seconds until the server says 421 or closes; returns
    what the server said."""
    got = b""
    for ch in data:
        try:
            s.sendall(bytes([ch]))
        except OSError:
            break
        time.sleep(interval)
        s.setblocking(False)
        try:
            got += s.recv(4096)
        except (BlockingIOError, OSError):
            pass
        s.setblocking(True)
        if b"421" in got:
            break
    return got


def reset_close(s):
    """Closes with RST (no TIME_WAIT on our side)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


class FloodBase(unittest.TestCase):
    config = limits_config('connections = 6; connections_per_ip = 3; command_timeout = "2s"; data_timeout = "2s";')

    def setUp(self):
        self.relay = Relay(self.config).start()
        self.socks = []
        self.wait_sessions_gone()  # the fixture's readiness probe session ends

    def tearDown(self):
        for s in self.socks:
            s.close()
        rc = self.relay.stop()
        log = self.relay.log_text()
        self.relay.cleanup()
        self.assertEqual(rc, 0, "relay exited %s; log:\n%s" % (rc, log[-3000:]))
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)

    def wait_sessions_gone(self, timeout=20):
        """Waits until every inbound session the relay accepted has ended (as many
        event=disconnect lines as event=connect), so a test can count slots exactly."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.relay.log_text()
            opened, closed = log.count("event=connect "), log.count("event=disconnect ")
            if opened == closed:
                return
            time.sleep(0.05)
        self.fail("%d of %d sessions still open after %ss" % (opened - closed, opened, timeout))

    def held(self, source, n):
        out = []
        for _ in range(n):
            s = connect(self.relay.port, source)
            self.socks.append(s)
            out.append((s, read_reply(s)))
        return out

    def swaks_ok(self, source="127.0.0.1"):
        r = self.relay.swaks("--from", "a@example.com", "--to", "b@example.org", "--local-interface", source,
                             timeout=40)
        return "250 2.0.0 Ok: queued as" in r.stdout, r.stdout[-500:]


class LimitTest(FloodBase):
    def test_per_ip_and_total_limits_answer_421_4_7_0(self):
        for s, greeting in self.held("127.0.0.2", 3):
            self.assertTrue(greeting.startswith(b"220 "), greeting)
        _, extra = self.held("127.0.0.2", 1)[0]
        self.assertTrue(extra.startswith(b"421 4.7.0 "), "per-IP: got %r, want 421 4.7.0" % extra)
        for s, greeting in self.held("127.0.0.3", 3):
            self.assertTrue(greeting.startswith(b"220 "), greeting)
        _, other = self.held("127.0.0.4", 1)[0]
        self.assertTrue(other.startswith(b"421 4.7.0 "), "total: got %r, want 421 4.7.0" % other)
        # Slots come back when sessions end.
        for s in self.socks:
            reset_close(s)
        self.socks = []
        self.wait_sessions_gone()
        ok, out = self.swaks_ok("127.0.0.2")
        self.assertTrue(ok, out)


class TimeoutTest(FloodBase):
    def test_stalled_command_gets_421_4_4_2(self):
        (s, greeting), = self.held("127.0.0.2", 1)
        s.sendall(b"EHLO x\r\n")
        read_reply(s)
        s.sendall(b"MAIL FROM:<a@exa")  # never finished
        t0 = time.monotonic()
        buf = b""
        while time.monotonic() - t0 < 10 and b"421" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        self.assertIn(b"421 4.4.2 ", buf)
        self.assertLess(time.monotonic() - t0, 6)

    def test_client_stopping_mid_data_gets_421_4_4_2_and_nothing_is_queued(self):
        (s, greeting), = self.held("127.0.0.2", 1)
        for line in (b"EHLO x", b"MAIL FROM:<a@example.com>", b"RCPT TO:<b@example.org>", b"DATA"):
            s.sendall(line + b"\r\n")
            read_reply(s)
        s.sendall(b"Subject: half\r\n\r\nsome text, then nothing")
        t0 = time.monotonic()
        reply = read_reply(s)
        self.assertTrue(reply.startswith(b"421 4.4.2 "), reply)
        self.assertLess(time.monotonic() - t0, 6)
        self.assertEqual(self.relay.queue_list(), [])

    def test_dripping_a_byte_at_a_time_does_not_keep_a_command_alive(self):
        (s, greeting), = self.held("127.0.0.2", 1)
        t0 = time.monotonic()
        got = drip(s, b"MAIL FROM:<" + b"a" * 40, 0.25)  # 41 bytes at 0.25 s: 10 s if never stopped
        self.assertIn(b"421 4.4.2 ", got)
        self.assertLess(time.monotonic() - t0, 7, "a dripping client held its slot %.1fs" % (time.monotonic() - t0))


class DataDeadlineTest(FloodBase):
    """data_timeout bounds the whole DATA phase, not only the gap between two bytes; each octet
    buys 2 ms more (500 octets/s, Postfix's smtpd_min_data_rate), so a steady sender is never cut."""

    def open_data(self):
        (s, greeting), = self.held("127.0.0.2", 1)
        for line in (b"EHLO x", b"MAIL FROM:<a@example.com>", b"RCPT TO:<b@example.org>", b"DATA"):
            s.sendall(line + b"\r\n")
            read_reply(s)
        return s

    def test_dripping_data_gets_421_4_4_2_and_nothing_is_queued(self):
        s = self.open_data()
        t0 = time.monotonic()
        got = drip(s, b"Subject: drip\r\n\r\n" + b"a" * 20, 0.5)  # 19 s if never stopped
        elapsed = time.monotonic() - t0
        self.assertIn(b"421 4.4.2 ", got, "a client dripping DATA was never cut off (%.1fs)" % elapsed)
        self.assertLess(elapsed, 4, "a dripping client held DATA open %.1fs (data_timeout 2s)" % elapsed)
        self.assertEqual(self.relay.queue_list(), [])

    def test_steady_message_longer_than_data_timeout_is_queued(self):
        s = self.open_data()
        t0 = time.monotonic()
        s.sendall(b"Subject: steady\r\n\r\n")
        line = b"x" * 98 + b"\r\n"
        while time.monotonic() - t0 < 3:  # 4 KB every 0.25 s: 16 KB/s, well over 500 octets/s
            s.sendall(line * 40)
            time.sleep(0.25)
        s.sendall(b".\r\n")
        reply = read_reply(s)
        self.assertTrue(reply.startswith(b"250 2.0.0 "), reply)
        self.assertEqual(len(self.relay.queue_list()), 1)


class SlowlorisTest(FloodBase):
    config = limits_config('connections = 100; connections_per_ip = 3; command_timeout = "30s";')

    def test_slowloris_holds_at_most_its_share(self):
        socks, greetings = [], []
        for _ in range(20):
            s = connect(self.relay.port, "127.0.0.5")
            socks.append(s)
        self.socks += socks
        for s in socks:
            greetings.append(read_reply(s))
        served = [s for s, g in zip(socks, greetings) if g.startswith(b"220 ")]
        refused = [g for g in greetings if g.startswith(b"421 4.7.0 ")]
        self.assertEqual(len(served), 3, greetings)
        self.assertEqual(len(refused), 17, greetings)
        stop = time.monotonic() + 4
        while time.monotonic() < stop:  # drip: one byte a second on every slot held
            for s in served:
                s.sendall(b"N")
            time.sleep(1)
            # ... while an allowlisted client from elsewhere is served.
        ok, out = self.swaks_ok("127.0.0.1")
        self.assertTrue(ok, out)
        again = connect(self.relay.port, "127.0.0.5")
        self.socks.append(again)
        self.assertTrue(read_reply(again).startswith(b"421 4.7.0 "))


class ConnectionFloodTest(FloodBase):
    TOTAL = 5000
    BATCH = 250
    # 127.0.0.0/25 may relay; the flood also comes from 127.0.1.x, which may not (554 at once).
    config = BASE_CONFIG.replace('allow = [ "127.0.0.0/8" ];', 'allow = [ "127.0.0.0/25" ];').replace(
        'queue = { path = "QUEUE_DIR"; };',
        'queue = { path = "QUEUE_DIR"; };\nlimits = { connections = 150; connections_per_ip = 40; command_timeout = "5s"; };')

    def test_flood_of_5000_connections_leaves_allowlisted_clients_served(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2 * self.BATCH + 100
        if soft < need <= hard or (soft < need and hard == resource.RLIM_INFINITY):
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))  # raise it rather than skip
            soft = need
        if soft < need:
            self.skipTest("ulimit -n %d (hard %d) is too small for batches of %d" % (soft, hard, self.BATCH))
        sources = ["127.0.0.%d" % i for i in range(10, 20)] + ["127.0.1.%d" % i for i in range(10, 15)]
        results = {"during": [], "stop": False}

        def client():
            deadline = time.monotonic() + 60
            while not results["stop"] and time.monotonic() < deadline:
                results["during"].append(self.swaks_ok("127.0.0.1")[0])
                time.sleep(0.2)

        t = threading.Thread(target=client, daemon=True)
        t.start()
        seen = {"220": 0, "421": 0, "554": 0, "other": 0}
        made = 0
        t0 = time.monotonic()
        while made < self.TOTAL and time.monotonic() - t0 < 90:
            batch = []
            for i in range(self.BATCH):
                try:
                    batch.append(connect(self.relay.port, sources[(made + i) % len(sources)], timeout=5))
                except OSError:
                    seen["other"] += 1
            made += self.BATCH
            for i, s in enumerate(batch):
                if i % 2:
                    g = read_reply(s)
                    key = g[:3].decode(errors="replace")
                    seen[key if key in seen else "other"] += 1
                    s.close()
                else:
                    reset_close(s)  # gone before the server even greets
        flood_seconds = time.monotonic() - t0
        results["stop"] = True
        t.join(timeout=60)
        ok, out = self.swaks_ok("127.0.0.1")
        self.assertTrue(ok, "after the flood: " + out)
        self.assertGreaterEqual(made, self.TOTAL, "only %d connections in %.0fs" % (made, flood_seconds))
        self.assertTrue(any(results["during"]), "no message got through during the flood: %s" % results["during"])
        self.assertGreater(seen["554"], 0, seen)
        self.assertGreater(seen["220"], 0, seen)
        # Every slot came back: a full per-IP share is served again.
        self.wait_sessions_gone()
        for s, g in self.held("127.0.0.10", 40):
            self.assertTrue(g.startswith(b"220 "), "slot leak: %r" % g)
        import sys
        sys.stderr.write("    [flood] %d connections in %.1fs, replies %s, %d/%d sends during the flood ok\n"
                         % (made, flood_seconds, seen, sum(results["during"]), len(results["during"])))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DescriptorExhaustionTest(FloodBase):
    """Out of descriptors, accept() fails: the relay must pause accepting, not spin, and serve
    again once descriptors are free."""
    NOFILE = 96
    config = limits_config("connections = 1000; connections_per_ip = 1000;")

    def setUp(self):
        super().setUp()
        self.addCleanup(self.relay.cleanup)  # also when prlimit fails: never leave the relay running
        resource.prlimit(self.relay.proc.pid, resource.RLIMIT_NOFILE, (self.NOFILE, self.NOFILE))

    def test_out_of_descriptors_pauses_accepting_and_recovers(self):
        for _ in range(self.NOFILE + 20):
            try:
                self.socks.append(connect(self.relay.port, "127.0.0.2", timeout=2))
            except OSError:
                break
        time.sleep(0.5)
        before = cpu_seconds(self.relay.proc.pid)
        time.sleep(2)
        used = cpu_seconds(self.relay.proc.pid) - before
        self.assertLess(used, 1.0, "relay spun %.2f s of CPU in 2 s while out of descriptors" % used)
        self.assertIn("event=accept-failed", self.relay.log_text())
        for s in self.socks:
            reset_close(s)
        self.socks = []
        self.wait_sessions_gone()
        ok, out = self.swaks_ok("127.0.0.1")
        self.assertTrue(ok, out)


class ShutdownTest(unittest.TestCase):
    """SIGTERM waits limits.shutdown_timeout for live sessions, then cuts them off and names each
    one in the log (session, client, state)."""
    config = limits_config('command_timeout = "30s"; shutdown_timeout = "1s";')

    def setUp(self):
        self.relay = Relay(self.config).start()
        time.sleep(0.3)  # the fixture's readiness probe session ends

    def tearDown(self):
        self.relay.cleanup()

    def test_sigterm_cuts_off_an_idle_session_after_shutdown_timeout(self):
        s = connect(self.relay.port, "127.0.0.2")
        self.assertTrue(read_reply(s).startswith(b"220 "))
        s.sendall(b"EHLO x\r\n")
        read_reply(s)
        t0 = time.monotonic()
        self.relay.proc.send_signal(signal.SIGTERM)
        try:
            self.relay.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - t0
        rc = self.relay.stop()
        s.close()
        log = self.relay.log_text()
        self.assertEqual(rc, 0, "relay exited %s; log:\n%s" % (rc, log[-3000:]))
        self.assertLess(elapsed, 2.5, "SIGTERM took %.1fs with shutdown_timeout 1s" % elapsed)
        self.assertGreater(elapsed, 0.8, "the live session was not given shutdown_timeout")
        self.assertRegex(log, r"event=cut-off session=s\d+-[0-9a-z]{6} client=127\.0\.0\.2 state=command")
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)


if __name__ == "__main__":
    unittest.main()
