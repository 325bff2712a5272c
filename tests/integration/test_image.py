"""test_image.py - the appliance image builds, boots under qemu and relays mail (R-IMAGE).

Runs `make image-test`: image/build.sh makes image/out/smarthost-VERSION.img from the release
binary (the one SMARTHOST_REL_BIN names, default build/smarthost), then image/test.sh boots it
under qemu-system-x86_64 with OVMF and user networking, sees check-config pass inside the guest,
and relays a message from swaks on the host through the guest to a sink on the host, where
its arrival is required. Never skipped: this is the one test that proves
the image. Bounded at 15 minutes; on failure the output (with the guest's console log) is shown.
"""
import os
import signal
import subprocess
import sys
import time
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIMIT = 15 * 60


class ImageTest(unittest.TestCase):
    def test_image_boots_and_relays(self):
        cmd = ["make", "-C", TOP, "image-test"]
        rel = os.environ.get("SMARTHOST_REL_BIN")
        if rel:
            cmd.append("B=" + os.path.dirname(os.path.abspath(rel)))
        t0 = time.monotonic()
        # Its own process group: at the time limit the whole build (mmdebstrap, qemu) stops,
        # not only make.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace",
                                start_new_session=True)
        try:
            stdout, _ = proc.communicate(timeout=LIMIT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                stdout, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, _ = proc.communicate()
            self.fail("make image-test took more than %ds:\n%s" % (LIMIT, (stdout or "")[-30000:]))
        p = subprocess.CompletedProcess(cmd, proc.returncode, stdout)
        took = time.monotonic() - t0
        summary = [l for l in p.stdout.splitlines() if l.startswith(("image test", "build.sh: ["))]
        if p.returncode != 0 or "image test: PASS" not in p.stdout:
            self.fail("make image-test: exit %d after %.0fs, want exit 0 and "
                      "\"image test: PASS\":\n%s" % (p.returncode, took, p.stdout[-60000:]))
        sys.stderr.write("\n    " + "\n    ".join(summary[-12:]) + "\n")


if __name__ == "__main__":
    unittest.main()
