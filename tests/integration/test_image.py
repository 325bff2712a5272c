"""test_image.py - the appliance image builds, boots, relays mail and updates itself (R-IMAGE, R-UPDATE).

Runs `make image-test`: image/build.sh makes image/out/smarthost-VERSION.img and its signed update
bundle from the release binary (the one SMARTHOST_REL_BIN names, default build/smarthost), then
image/test.sh boots it under qemu-system-x86_64 with OVMF and user networking: check-config passes
inside the guest, a message from swaks on the host reaches a sink on the host through the guest,
the admin console answers on guest port 443 with the password the first boot printed on the serial
console, a damaged bundle is refused, a signed update to version 2 survives a power cut and is kept, a
broken update falls back to version 2 by itself after 3 failed boots, and the messages queued for
a dead sink all arrive once it is back (image/boot_test.py says how). Never skipped: this is the
one test that proves the image. Bounded at 45 minutes; on failure the output (with the guest's
console logs) is shown.
"""
import os
import signal
import subprocess
import sys
import time
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIMIT = 45 * 60


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
