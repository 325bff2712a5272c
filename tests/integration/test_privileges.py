"""test_privileges.py - started as root the relay binds, then runs as `user`; private keys stay
private; the queue folder is 0700 (R-IMAGE, R-SEC).

The drop tests need root (they are skipped otherwise) and the system's "nobody" user."""
import os
import pwd
import shutil
import stat
import subprocess
import unittest

from relay_fixture import BASE_CONFIG, BIN, Relay, testpki, stop_and_check


def proc_ids(pid):
    """{"Uid": [real, effective, saved, fs], "Gid": [...], "Groups": [...]} from /proc."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                out[key] = [int(v) for v in value.split()]
    return out


def run_refused(relay, timeout=30):
    """Runs the relay on relay's config expecting it to refuse to start: (exit code, output)."""
    r = subprocess.run([BIN, "run", "-c", relay.config_path], capture_output=True, text=True,
                       timeout=timeout)
    return r.returncode, r.stdout + r.stderr


@unittest.skipUnless(os.geteuid() == 0, "needs root: the relay only changes user when started as root")
class DropTest(unittest.TestCase):
    def setUp(self):
        self.nobody = pwd.getpwnam("nobody")
        self.relay = None

    def tearDown(self):
        if self.relay:
            stop_and_check(self, self.relay)

    def start(self, extra='user = "nobody";'):
        self.relay = Relay(BASE_CONFIG + extra + "\n")
        os.chmod(self.relay.dir, 0o755)  # the run user must reach its queue (pid file) later
        return self.relay.start()

    def test_binds_then_runs_as_nobody(self):
        relay = self.start()
        c = relay.client()
        self.assertEqual(c.reply()[0], 220)  # greeted: start-up, and so the drop, is over
        ids = proc_ids(relay.proc.pid)
        uid, gid = self.nobody.pw_uid, self.nobody.pw_gid
        self.assertEqual(ids["Uid"], [uid] * 4, "got %s, want uid %d everywhere" % (ids, uid))
        self.assertEqual(ids["Gid"], [gid] * 4, "got %s, want gid %d everywhere" % (ids, gid))
        self.assertNotIn(0, ids["Groups"], "root's groups kept: %s" % ids)
        st = os.stat(relay.queue_dir)
        self.assertEqual((st.st_uid, st.st_gid), (uid, gid))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        for name in os.listdir(relay.queue_dir):
            fst = os.lstat(os.path.join(relay.queue_dir, name))
            self.assertEqual(fst.st_uid, uid, "%s still owned by %d" % (name, fst.st_uid))
        c.close()
        # Still works as nobody: a message is committed to the queue it was handed.
        r = relay.swaks("--from", "a@example.com", "--to", "b@example.org")
        self.assertIn("250 2.0.0 Ok: queued as", r.stdout, r.stdout + relay.log_text())
        self.assertEqual(len(relay.queue_list()), 1)
        self.assertRegex(relay.log_text(), r"event=privileges user=nobody uid=%d" % uid)

    def test_unknown_user_is_refused_with_a_clear_error(self):
        self.relay = None
        relay = Relay(BASE_CONFIG + 'user = "no-such-user-smarthost";\n')
        try:
            rc, out = run_refused(relay)
        finally:
            relay.cleanup()
        self.assertEqual(rc, 1, out)
        self.assertIn("user 'no-such-user-smarthost' does not exist", out)
        self.assertIn("adduser", out)

    def test_group_readable_key_of_the_run_group_is_accepted(self):
        self.relay = Relay(BASE_CONFIG)
        key = os.path.join(self.relay.dir, "relay.key")
        shutil.copy(os.path.join(testpki(), "valid.key"), key)
        os.chown(key, 0, self.nobody.pw_gid)
        os.chmod(key, 0o640)
        self.relay.write_config(BASE_CONFIG.replace("TESTPKI/valid.key", key) + 'user = "nobody";\n')
        os.chmod(self.relay.dir, 0o755)
        self.relay.start()
        self.assertEqual(self.relay.client().reply()[0], 220)


class KeyModeTest(unittest.TestCase):
    def check_key_mode(self, mode, group=None):
        relay = Relay(BASE_CONFIG)
        try:
            key = os.path.join(relay.dir, "relay.key")
            shutil.copy(os.path.join(testpki(), "valid.key"), key)
            if group is not None:
                os.chown(key, -1, group)
            os.chmod(key, mode)
            relay.write_config(BASE_CONFIG.replace("TESTPKI/valid.key", key))
            return run_refused(relay)
        finally:
            relay.cleanup()

    def test_world_readable_key_is_refused(self):
        rc, out = self.check_key_mode(0o644)
        self.assertEqual(rc, 1, out)
        self.assertIn("has mode 0644: a private key must not be readable by other users", out)
        self.assertIn("chmod 0600", out)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give the key to another group")
    def test_key_readable_by_a_foreign_group_is_refused(self):
        rc, out = self.check_key_mode(0o640, group=pwd.getpwnam("nobody").pw_gid)
        # user = "root" (fixture): group nogroup is not ours.
        self.assertEqual(rc, 1, out)
        self.assertIn("has mode 0640: a private key must not be readable by group", out)


class QueueModeTest(unittest.TestCase):
    def test_new_queue_folder_is_0700(self):
        relay = Relay(BASE_CONFIG).start()
        try:
            self.assertEqual(stat.S_IMODE(os.stat(relay.queue_dir).st_mode), 0o700)
        finally:
            rc = relay.stop()
            relay.cleanup()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
