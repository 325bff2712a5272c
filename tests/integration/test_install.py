"""test_install.py - `make install DESTDIR=...` gives a normal host what it needs (issue 14 item 15):
the binary, man pages that `man -l` renders (one per sub-command, written by the binary from its
help text), a systemd unit with the appliance's hardening that `systemd-analyze verify` accepts, and a
sample config with absolute paths that passes `smarthost check-config` once its paths point at files
that exist here. An admin's existing config is never replaced.

It runs the real `make install` (with the build folder of the binary under test)."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

from relay_fixture import BIN, ROOT, Relay, testpki

REL_BIN = os.environ.get("SMARTHOST_REL_BIN", os.path.join(ROOT, "build", "smarthost"))
BUILD = os.path.dirname(os.path.abspath(REL_BIN))
APPLIANCE_UNIT = os.path.join(ROOT, "image", "rootfs", "etc", "systemd", "system", "smarthost.service")


def unit_lines(path, keys):
    with open(path) as f:
        return [l.strip() for l in f if l.split("=", 1)[0].strip() in keys]


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix="smarthost-install-")
        cls.result = subprocess.run(["make", "-s", "B=" + os.path.relpath(BUILD, ROOT), "install",
                                     "DESTDIR=" + cls.dest, "PREFIX=/usr/local"],
                                    cwd=ROOT, capture_output=True, text=True, timeout=900)
        cls.prefix = os.path.join(cls.dest, "usr", "local")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def setUp(self):
        self.assertEqual(self.result.returncode, 0, self.result.stdout + self.result.stderr)

    def test_binary(self):
        path = os.path.join(self.prefix, "sbin", "smarthost")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755)
        r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
        self.assertTrue(r.stdout.startswith("smarthost "), r.stdout + r.stderr)

    def test_a_man_page_for_every_command_and_man_renders_each(self):
        r = subprocess.run([BIN, "help"], capture_output=True, text=True, timeout=30)
        commands = re.findall(r"^  ([a-z-]+) ", r.stdout.split("commands:\n", 1)[1], re.M)
        self.assertIn("test-route", commands)
        man8 = os.path.join(self.prefix, "share", "man", "man8")
        want = {"smarthost.8"} | {"smarthost-%s.8" % c for c in commands}
        self.assertEqual(set(os.listdir(man8)), want)
        for page in sorted(want):
            m = subprocess.run(["man", "-l", os.path.join(man8, page)], capture_output=True, text=True,
                               timeout=30, env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
            self.assertEqual(m.returncode, 0, "%s: %s" % (page, m.stderr))
            self.assertEqual(m.stderr, "", page)
            shown = re.sub(".\x08", "", m.stdout)
            self.assertIn("NAME", shown, page)
            name = page[:-2]
            self.assertIn(name, shown, page)

    def test_unit_keeps_the_appliance_hardening_and_verifies(self):
        unit = os.path.join(self.prefix, "lib", "systemd", "system", "smarthost.service")
        hardening = ("User", "Group", "NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "ProtectHome",
                     "CapabilityBoundingSet", "AmbientCapabilities", "SystemCallFilter", "RestrictAddressFamilies",
                     "MemoryDenyWriteExecute", "PrivateDevices", "StateDirectory", "UMask")
        self.assertEqual(unit_lines(unit, hardening), unit_lines(APPLIANCE_UNIT, hardening))
        self.assertEqual(unit_lines(unit, ("ExecStart",)),
                         ["ExecStart=/usr/local/sbin/smarthost run -c /etc/smarthost/smarthost.cfg"])
        with open(unit) as f:
            text = f.read()
        self.assertNotIn("firstboot", text)           # appliance-only units are not required
        # systemd-analyze checks that ExecStart's binary exists: point it into DESTDIR for the check.
        check_dir = tempfile.mkdtemp(prefix="smarthost-unit-")
        try:
            check = os.path.join(check_dir, "smarthost.service")
            with open(check, "w") as f:
                f.write(text.replace("/usr/local/sbin/", os.path.join(self.prefix, "sbin") + "/"))
            r = subprocess.run(["systemd-analyze", "verify", check], capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, MANPATH=os.path.join(self.prefix, "share", "man")))
        finally:
            shutil.rmtree(check_dir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "", r.stderr)

    def test_sample_config_has_absolute_paths_and_passes_check_config(self):
        sample = os.path.join(self.prefix, "share", "smarthost", "smarthost.cfg.sample")
        with open(sample) as f:
            text = f.read()
        with open(os.path.join(self.dest, "etc", "smarthost", "smarthost.cfg")) as f:
            self.assertEqual(f.read(), text)          # the installed config is the sample
        paths = re.findall(r'(?:cert|key|ca_file|path) = "([^"]*)"', text)
        self.assertGreaterEqual(len(paths), 4, paths)
        for p in paths:
            self.assertTrue(p.startswith("/"), "relative path %r in the installed sample" % p)
        self.assertIn('user = "smarthost";', text)
        # Point the files at ones that exist here, and the user at us; nothing else changes.
        text = (text.replace("/etc/smarthost/certs/relay", testpki() + "/valid")
                .replace("/var/lib/smarthost/queue", "QUEUE_DIR")
                .replace('user = "smarthost";', ""))
        relay = Relay(text)
        try:
            r = relay.cli("check-config", check=False)
        finally:
            relay.cleanup()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("listen 0.0.0.0 port 25", r.stdout)

    def test_an_existing_config_is_kept(self):
        dest = tempfile.mkdtemp(prefix="smarthost-install-")
        try:
            cfg = os.path.join(dest, "etc", "smarthost", "smarthost.cfg")
            os.makedirs(os.path.dirname(cfg))
            with open(cfg, "w") as f:
                f.write("# the admin's own\n")
            r = subprocess.run(["make", "-s", "B=" + os.path.relpath(BUILD, ROOT), "install", "DESTDIR=" + dest],
                               cwd=ROOT, capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(cfg) as f:
                self.assertEqual(f.read(), "# the admin's own\n")
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def test_user_certificate_maker_and_docs(self):
        self.assertTrue(os.path.exists(os.path.join(self.prefix, "lib", "sysusers.d", "smarthost.conf")))
        self.assertTrue(os.access(os.path.join(self.prefix, "lib", "smarthost", "make-cert"), os.X_OK))
        self.assertTrue(os.path.exists(os.path.join(self.prefix, "share", "doc", "smarthost", "config.md")))


if __name__ == "__main__":
    unittest.main()
