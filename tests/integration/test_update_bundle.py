"""test_update_bundle.py - appliance update bundles are checked before a byte is written (R-UPDATE).

image/make-update.sh signs bundles with a key made for the test (SMARTHOST_UPDATE_KEY); the
appliance's own check, image/rootfs/usr/lib/smarthost/update-bundle (what smarthost-update apply
runs first), is sourced by bash on the host with the sanitised binary's verify-signature and the
test's public key. A good bundle passes; one flipped bit anywhere in the compressed root, a bundle
cut short, another key's signature, an older version (unless --allow-downgrade) and a manifest
changed after signing are refused with exit 1 and their own message. The same refusals on a real
appliance, and what happens after the check, are in the image test (test_image.py).
"""
import os
import shutil
import subprocess
import tarfile
import tempfile
import unittest

from relay_fixture import BIN

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAKE_UPDATE = os.path.join(TOP, "image", "make-update.sh")
LIB = os.path.join(TOP, "image", "rootfs", "usr", "lib", "smarthost", "update-bundle")

# What smarthost-update sets before it sources the library, then one check.
DRIVER = r'''
set -uo pipefail
say() { echo "smarthost-update: $*"; }
die() { echo "smarthost-update: $*" >&2; exit 1; }
SMARTHOST=$1 PUBKEY=$2 VERSION_FILE=$3 MAX_MANIFEST=65536 work=$4
. "$5"
verify_bundle "$6" "$7"
'''


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120, **kw)


class UpdateBundleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="smarthost-bundle-")
        d = cls.dir
        cls.key = os.path.join(d, "signing.key")
        cls.other_key = os.path.join(d, "other.key")
        for k in (cls.key, cls.other_key):
            run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", k], check=True)
        cls.pub = os.path.join(d, "signing.pub")
        run(["openssl", "pkey", "-in", cls.key, "-pubout", "-out", cls.pub], check=True)
        cls.version_file = os.path.join(d, "image-version")
        with open(cls.version_file, "w") as f:
            f.write("1.2.0\n")
        # Stand-ins for the kernel, initramfs and a root file system: contents do not matter to the
        # check, sizes and hashes do; the root compresses like a real one (zeros between files).
        cls.parts = {}
        for name, size in (("vmlinuz", 70000), ("initrd.img", 90000), ("root.img", 3 << 20)):
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(os.urandom(size // 3) + bytes(size - size // 3))
            cls.parts[name] = p

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def bundle(self, version, key=None, name=None):
        out = os.path.join(self.dir, name or "smarthost-%s.update" % version)
        env = dict(os.environ, SMARTHOST_UPDATE_KEY=key or self.key)
        p = run([MAKE_UPDATE, self.parts["root.img"], self.parts["vmlinuz"], self.parts["initrd.img"],
                 version, out], env=env)
        self.assertEqual(p.returncode, 0, "make-update.sh: %s" % p.stderr)
        return out

    def check(self, bundle, allow_downgrade=False):
        work = tempfile.mkdtemp(dir=self.dir)
        return run(["bash", "-c", DRIVER, "driver", BIN, self.pub, self.version_file, work, LIB, bundle,
                    "1" if allow_downgrade else "0"])

    def assert_refused(self, p, why):
        self.assertEqual(p.returncode, 1, "got exit %d, want 1 (%s): %s%s" % (p.returncode, why, p.stdout, p.stderr))
        self.assertIn(why, p.stderr)

    def test_good_bundle_passes(self):
        b = self.bundle("1.3.0")
        p = self.check(b)
        self.assertEqual(p.returncode, 0, "a good bundle: got exit %d: %s" % (p.returncode, p.stderr))
        self.assertIn("signature good, version 1.3.0", p.stdout)
        with tarfile.open(b) as t:
            self.assertEqual(t.getnames(), ["manifest", "manifest.sig", "vmlinuz", "initrd.img", "root.img.zst"])
            manifest = t.extractfile("manifest").read().decode()
            zst = t.getmember("root.img.zst").size
        self.assertIn("format=2\n", manifest)
        self.assertIn("root.img.size=%d\n" % (3 << 20), manifest)
        self.assertLess(zst, (3 << 20) // 2, "the root is carried compressed")

    def test_flipped_bit_in_root_refused(self):
        b = self.bundle("1.3.0", name="flipped.update")
        with tarfile.open(b) as t:
            m = t.getmember("root.img.zst")
        at = m.offset_data + m.size * 3 // 4
        with open(b, "r+b") as f:
            f.seek(at)
            byte = f.read(1)
            f.seek(at)
            f.write(bytes([byte[0] ^ 0x01]))
        self.assert_refused(self.check(b), "root.img.zst does not match its SHA-256")

    def test_cut_short_refused(self):
        b = self.bundle("1.3.0", name="short.update")
        with tarfile.open(b) as t:
            m = t.getmember("root.img.zst")
        os.truncate(b, m.offset_data + m.size // 2)
        self.assert_refused(self.check(b), "root.img.zst cannot be read in full")

    def test_other_key_refused(self):
        self.assert_refused(self.check(self.bundle("1.3.0", key=self.other_key, name="other.update")),
                            "bad signature")

    def test_manifest_changed_after_signing_refused(self):
        b = self.bundle("1.3.0", name="edited.update")
        with tarfile.open(b) as t:
            m = t.getmember("manifest")
        with open(b, "r+b") as f:
            f.seek(m.offset_data)
            head = f.read(m.size)
            f.seek(m.offset_data)
            f.write(head.replace(b"version=1.3.0", b"version=1.4.0"))
        self.assert_refused(self.check(b), "bad signature")

    def test_older_version_refused_unless_allowed(self):
        b = self.bundle("1.1.9")
        self.assert_refused(self.check(b), "version 1.1.9 is older than the running 1.2.0")
        p = self.check(b, allow_downgrade=True)
        self.assertEqual(p.returncode, 0, "--allow-downgrade: got exit %d: %s" % (p.returncode, p.stderr))


if __name__ == "__main__":
    unittest.main()
