"""test_crash_consistency.py - nothing acknowledged is ever lost (R-QUEUE, R-SEC).

KillTest: a client thread sends numbered messages (at most 600) while the relay is killed with
SIGKILL at random moments 20 times and restarted; at the end every message that got a 250 has
reached the sink, and the queue is empty. Deliveries are at least once: duplicates are counted
and reported, never failed.

Full-queue tests: with the queue's disk full (a small tmpfs, root only) or its LMDB map full
(map_size_mb = 1, anywhere), clients get 452 4.3.1, every message acknowledged before stays, and
the relay recovers when space returns: the queue drains and new mail is accepted.
Every loop is bounded in count and time; the module takes well under three minutes.
"""
import os
import random
import re
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from relay_fixture import BASE_CONFIG, BIN, Relay
from smtp_peer import DownPeer, SmtpPeer

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; } );
queue = { path = "%(queue)s"; retry = [ "1s" ]; %(queue_extra)s };
limits = { connect_timeout = "2s"; reply_timeout = "10s"; };
"""

SUBJECT = re.compile(rb"^Subject: (cc-\d+)\r?$", re.M)


def report(text):
    sys.stderr.write("    [crash-consistency] %s\n" % text)


def send_one(port, n, size=0, timeout=10):
    """Sends message cc-N; returns (code, text) of the final reply, or (0, error) on a broken
    connection (not acknowledged)."""
    body = ("Subject: cc-%d\r\nMessage-ID: <cc-%d@client.example>\r\n\r\n" % (n, n)
            + ("x" * 76 + "\r\n") * (size // 78) + "end\r\n")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
            s.ehlo("client.example")
            s.mail("sender@client.example")
            code, text = s.rcpt("rcpt%d@dest.example" % n)
            if code != 250:
                return code, text.decode(errors="replace")
            code, text = s.data(body.encode())
            return code, text.decode(errors="replace")
    except (OSError, smtplib.SMTPException) as e:
        return 0, repr(e)


def subjects(sink):
    out = []
    for m in sink.messages():
        found = SUBJECT.search(m["data"] or b"")
        if found:
            out.append(found.group(1).decode())
    return out


class Base(unittest.TestCase):
    def tearDown(self):
        relay = getattr(self, "relay", None)
        if relay:
            rc = relay.stop()
            log = relay.log_text()
            relay.cleanup()
            self.assertEqual(rc, 0, "relay exited %s" % rc)
            self.assertNotIn("AddressSanitizer", log)
            self.assertNotIn("runtime error", log)

    def wait_delivered(self, sink, acked, timeout):
        """Every acknowledged subject at the sink and the queue empty; returns the sink's list."""
        deadline = time.monotonic() + timeout
        while True:
            got = subjects(sink)
            missing = set(acked) - set(got)
            queue = self.relay.queue_list()
            if not missing and not queue:
                return got
            if time.monotonic() >= deadline:
                self.fail("after %ds: %d acknowledged messages missing (%s...), queue holds %d\n%s"
                          % (timeout, len(missing), sorted(missing)[:10], len(queue),
                             self.relay.log_text()[-4000:]))
            time.sleep(0.25)


class QueueLockTest(Base):
    """One relay per queue: a second `run` on the same queue.path exits 1 naming the holder's PID,
    leaves its PID file alone, and the queue tools work beside the running relay."""

    def test_second_relay_on_the_same_queue_exits_1_and_queue_tools_still_work(self):
        self.relay = Relay(BASE_CONFIG).start()
        pid_path = os.path.join(self.relay.queue_dir, "smarthost.pid")
        deadline = time.monotonic() + 10
        while not os.path.exists(pid_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(pid_path) as f:
            self.assertEqual(f.read().strip(), str(self.relay.proc.pid))
        # Same queue, another port: only the queue is shared.
        second = Relay(BASE_CONFIG.replace("QUEUE_DIR", self.relay.queue_dir))
        try:
            r = subprocess.run([BIN, "run", "-c", second.config_path], capture_output=True,
                               text=True, timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("a second relay on the same queue kept running")
        finally:
            second.cleanup()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("queue %s is in use by pid %d" % (self.relay.queue_dir, self.relay.proc.pid), r.stderr)
        with open(pid_path) as f:
            self.assertEqual(f.read().strip(), str(self.relay.proc.pid), "the running relay's PID file changed")
        self.assertEqual(self.relay.queue_list(), [])
        self.assertEqual(send_one(self.relay.port, 1)[0], 250)
        self.assertEqual(len(self.relay.queue_list()), 1)
        relay, self.relay = self.relay, None
        rc = relay.stop()
        log = relay.log_text()
        pid_left = os.path.exists(pid_path)
        relay.cleanup()
        self.assertEqual(rc, 0, log[-3000:])
        self.assertFalse(pid_left, "the PID file outlived the relay")
        self.assertNotIn("AddressSanitizer", log)


class KillTest(Base):
    KILLS = 20
    MAX_MESSAGES = 600

    def test_kill_9_twenty_times_under_load_loses_nothing(self):
        sink = SmtpPeer("plain")
        sink.start()
        self.addCleanup(sink.cleanup)
        qdir = tempfile.mkdtemp(prefix="smarthost-cc-")
        self.addCleanup(subprocess.run, ["rm", "-rf", qdir])
        self.relay = Relay(CONFIG % {"sink": sink.port, "queue": os.path.join(qdir, "queue"),
                                     "queue_extra": ""}).start()
        acked, failed = [], []
        stop = threading.Event()

        def client():
            for n in range(self.MAX_MESSAGES):
                if stop.is_set():
                    return
                code, text = send_one(self.relay.port, n, timeout=5)
                if code == 250:
                    acked.append("cc-%d" % n)
                else:
                    failed.append((n, code, text))
                    time.sleep(0.05)  # the relay is restarting

        t = threading.Thread(target=client, daemon=True)
        t.start()
        rnd = random.Random(int(os.environ.get("SMARTHOST_CC_SEED", time.time())))
        kills = 0
        t_end = time.monotonic() + 90
        for _ in range(self.KILLS):
            if time.monotonic() > t_end:
                break
            time.sleep(rnd.uniform(0.1, 1.2))
            self.relay.kill9()
            kills += 1
            self.relay.start()
        stop.set()
        t.join(timeout=30)
        self.assertFalse(t.is_alive(), "client thread did not stop")
        got = self.wait_delivered(sink, acked, timeout=60)
        dups = len(got) - len(set(got))
        unacked_arrived = len(set(got) - set(acked))
        report("%d kills, %d messages acknowledged, %d not (connection lost or refused), "
               "%d arrived, %d duplicates, %d arrived without an acknowledgement"
               % (kills, len(acked), len(failed), len(set(got)), dups, unacked_arrived))
        self.assertEqual(kills, self.KILLS)
        self.assertGreater(len(acked), 20, "too little load: %s" % failed[:5])


class FullQueueBase(Base):
    """Fill the queue until 452 4.3.1, then give space back and see it drain."""
    BIG = 100 * 1024

    def fill(self, start, limit=120):
        """Sends big messages until a 452; returns (acknowledged subjects, the 452 text)."""
        acked = []
        for n in range(start, start + limit):
            code, text = send_one(self.relay.port, n, size=self.BIG)
            if code == 250:
                acked.append("cc-%d" % n)
            elif code == 452:
                return acked, text
            else:
                self.fail("message cc-%d: got %d %s, want 250 or 452" % (n, code, text))
        self.fail("no 452 after %d messages of %d bytes" % (limit, self.BIG))

    def drain_and_recover(self, down, acked, make_room):
        """Makes room, starts the sink on the route's port and waits for the queue to drain."""
        port = down.port
        make_room()
        down.close()
        sink = SmtpPeer("plain", port=port)
        sink.start()
        self.addCleanup(sink.cleanup)
        got = self.wait_delivered(sink, acked, timeout=60)
        report("%d acknowledged before the queue was full, %d arrived, %d duplicates"
               % (len(acked), len(set(got)), len(got) - len(set(got))))
        code, text = send_one(self.relay.port, 9999)
        self.assertEqual(code, 250, "no recovery after space returned: %s\n%s" % (text, self.relay.log_text()[-3000:]))
        self.wait_delivered(sink, acked + ["cc-9999"], timeout=30)


class MapFullTest(FullQueueBase):
    def test_full_lmdb_map_gives_452_keeps_acked_and_recovers(self):
        down = DownPeer()
        self.addCleanup(down.close)
        qdir = tempfile.mkdtemp(prefix="smarthost-cc-")
        self.addCleanup(subprocess.run, ["rm", "-rf", qdir])
        self.relay = Relay(CONFIG % {"sink": down.port, "queue": os.path.join(qdir, "queue"),
                                     "queue_extra": "map_size_mb = 1;"}).start()
        acked, text = self.fill(0)
        self.assertRegex(text, r"^4\.3\.1 ")
        self.assertGreater(len(acked), 0)
        self.assertEqual(len(self.relay.queue_list()), len(acked))
        self.drain_and_recover(down, acked, lambda: None)


@unittest.skipUnless(os.geteuid() == 0, "mounting a small tmpfs for the queue needs root")
class DiskFullTest(FullQueueBase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="smarthost-tmpfs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.strip())

    def tearDown(self):
        try:
            super().tearDown()
        finally:
            subprocess.run(["umount", self.mnt])
            os.rmdir(self.mnt)

    def test_full_disk_gives_452_keeps_acked_and_recovers_when_space_returns(self):
        down = DownPeer()
        self.addCleanup(down.close)
        self.relay = Relay(CONFIG % {"sink": down.port, "queue": os.path.join(self.mnt, "queue"),
                                     "queue_extra": ""}).start()
        acked = []
        for n in range(5):
            code, text = send_one(self.relay.port, n, size=self.BIG)
            self.assertEqual(code, 250, text)
            acked.append("cc-%d" % n)
        filler = os.path.join(self.mnt, "filler")
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=64k"], capture_output=True)
        more, text = self.fill(100, limit=60)
        self.assertRegex(text, r"^4\.3\.1 ")
        acked += more
        self.assertEqual(len(self.relay.queue_list()), len(acked))
        self.drain_and_recover(down, acked, lambda: os.unlink(filler))


if __name__ == "__main__":
    unittest.main()
