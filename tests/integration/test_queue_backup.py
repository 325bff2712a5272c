"""test_queue_backup.py - `smarthost queue backup FILE` while the relay runs, `restore FILE` (R-UPDATE).

A relay holds messages for a next hop that is down (down_port: connections refused); the backup
is taken while it runs and keeps retrying. A restore is refused while that relay holds the queue
lock, for a file that is not a queue or is cut short, and into a queue that still holds mail. Into
an empty queue folder it succeeds, and a relay started on it delivers every message to a real peer
(aiosmtpd, smtp_peer.py).
"""
import os
import shutil
import subprocess
import tempfile
import unittest

from relay_fixture import Relay, BIN, stop_and_check
from smtp_peer import SmtpPeer, down_port

CONFIG = """
hostname = "relay.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
allow = [ "127.0.0.0/8" ];
routes = ( { name = "dest"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = %(port)d; tls = "none"; } );
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; };
limits = { connect_timeout = "3s"; };
log = { file = "%(log)s"; };
"""

N = 5


class QueueBackupTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="smarthost-backup-")
        self.backup = os.path.join(self.dir, "queue.mdb")
        self.relays = []
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.cleanup()
        for r in self.relays:
            stop_and_check(self, r, stopped_ok=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def relay(self, port, start=True):
        r = Relay("")
        r.write_config(CONFIG % {"port": port, "log": r.log_path})
        self.relays.append(r)
        return r.start() if start else r

    def queue_messages(self, relay):
        ids = []
        for i in range(N):
            r = relay.swaks("--from", "a@sender.example", "--to", "b%d@dest.example" % i,
                            "--body", "backup test %d" % i)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            ids.append(r.stdout.split("queued as ")[1].split()[0])
        return ids

    def test_backup_while_running_then_restore_and_deliver(self):
        old = self.relay(down_port())
        ids = self.queue_messages(old)
        r = old.cli("queue", "backup", self.backup)
        self.assertIn("backed up %d message(s)" % N, r.stdout)
        self.assertEqual(os.stat(self.backup).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(self.backup + ".tmp"))
        old.wait_log("event=delivery .*status=deferred", timeout=20)  # it was running, and kept retrying, all along

        # The running relay holds the queue lock: no restore under it.
        r = old.cli("queue", "restore", self.backup, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"in use by pid %d.*stop the relay" % old.proc.pid)
        # A stopped relay's queue that still holds mail: restore replaces, it never merges.
        self.assertEqual(old.stop(), 0)
        r = old.cli("queue", "restore", self.backup, check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("holds %d message(s)" % N, r.stderr)

        peer = SmtpPeer("plain")
        peer.start()
        self.peers.append(peer)
        new = self.relay(peer.port, start=False)
        r = new.cli("queue", "restore", self.backup)
        self.assertIn("restored %d message(s)" % N, r.stdout)
        self.assertEqual(sorted(m["id"] for m in new.queue_list()), sorted(ids))
        new.start()
        got = peer.wait_messages(N, timeout=30)
        self.assertEqual(sorted(b"backup test %d" % i in m["data"] for m in got for i in range(N)).count(True), N)
        self.assertEqual(sorted(r for m in got for r in m["rcpt_tos"]),
                         ["b%d@dest.example" % i for i in range(N)])

    def test_backup_to_standard_output_restores_from_standard_input(self):
        old = self.relay(down_port())
        self.queue_messages(old)
        with open(self.backup, "wb") as f:
            r = subprocess.run([BIN, "queue", "-c", old.config_path, "backup", "-"], stdout=f,
                               stderr=subprocess.PIPE, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        new = self.relay(down_port(), start=False)
        with open(self.backup, "rb") as f:
            r = subprocess.run([BIN, "queue", "-c", new.config_path, "restore", "-"], stdin=f,
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("restored %d message(s) from standard input" % N, r.stdout)

    def test_restore_refuses_what_is_not_a_complete_queue(self):
        old = self.relay(down_port())
        self.queue_messages(old)
        old.cli("queue", "backup", self.backup)
        new = self.relay(down_port(), start=False)
        data = open(self.backup, "rb").read()
        cases = {
            "not-lmdb": (b"From: someone\r\n\r\nnot a queue\r\n" * 200, "not an LMDB queue file"),
            "truncated": (data[:len(data) - 4096], "truncated"),
            "missing": (None, "cannot open"),
        }
        for name, (content, want) in cases.items():
            path = os.path.join(self.dir, name)
            if content is not None:
                with open(path, "wb") as f:
                    f.write(content)
            r = new.cli("queue", "restore", path, check=False)
            self.assertEqual(r.returncode, 1, "%s: got exit %d, want 1: %s" % (name, r.returncode, r.stderr))
            self.assertIn(want, r.stderr, name)
            left = sorted(os.listdir(new.queue_dir)) if os.path.isdir(new.queue_dir) else []
            self.assertEqual([n for n in left if n != "smarthost.lock"], [], name)  # nothing written


if __name__ == "__main__":
    unittest.main()
