"""update_test.py - the update half of the image test (R-UPDATE): bundles, SSH, A/B slots.

SUMMARY: imported by image/boot_test.py (see its header for the whole run)

DESCRIPTION
  make_bundles() derives the test's update bundles from the one `make image` wrote, without
  booting or mounting anything: the root image is taken out of the bundle (zstd -d), changed with debugfs
  (/usr/lib/smarthost/image-version says the new version; the broken build's
  /usr/sbin/smarthost is a script that exits 1, so neither check-config nor the relay can
  start) and signed again by image/make-update.sh with the build's key. The damaged bundle is
  the good one with one bit flipped inside the compressed root image.

  Admin steps inside the guest go over SSH (the appliance's own opt-in root login with a key
  this test makes; port 22 forwarded to a loopback port): smarthost-update, queue list, the
  version file. Bundles reach the guest as read-only virtio disks (/dev/vdb ...), which
  smarthost-update reads like files.

DIAGNOSTICS
  Failures raise boot_test.Failure with what was expected and what came.
"""
import json
import os
import subprocess
import tarfile
import time

bt = None  # the boot_test module (it runs as __main__ and sets this before calling in here)

HERE = os.path.dirname(os.path.abspath(__file__))
SSH_LIMIT = 240        # sshd up after the relay (host keys are made at the first start)
BLESS_LIMIT = 240      # the health check passes and systemd-bless-boot renames the entry
APPLY_LIMIT = 600      # verify 125 MB, write and read back 525 MB under software emulation

BROKEN_SMARTHOST = "#!/bin/sh\necho 'smarthost: deliberately broken build (image test)' >&2\nexit 1\n"


def debugfs_put(img, path, text, mode, scratch):
    local = os.path.join(scratch, "debugfs-file")
    with open(local, "w") as f:
        f.write(text)
    cmds = os.path.join(scratch, "debugfs-root-cmds")
    with open(cmds, "w") as f:
        f.write("rm %s\nwrite %s %s\nsif %s uid 0\nsif %s gid 0\nsif %s mode 0%o\n"
                % (path, local, path, path, path, path, 0o100000 | mode))
    bt.run(["debugfs", "-w", "-f", cmds, img])
    got = bt.run(["debugfs", "-R", "cat " + path, img]).stdout
    if got != text:
        raise bt.Failure("debugfs could not write %s into %s" % (path, img))


def make_bundles(src, scratch, version):
    """{"v1": src, "v2": ..., "flipped": ..., "broken": ...} and the versions of v2 and broken."""
    t0 = time.monotonic()
    parts = os.path.join(scratch, "bundle-parts")
    os.makedirs(parts)
    bt.run(["tar", "-xf", src, "-C", parts], timeout=600)
    versions = {"v2": version + "+imagetest2", "broken": version + "+imagetest3"}
    out = {"v1": src}
    for name, ver in versions.items():
        root = os.path.join(scratch, "root-%s.img" % name)
        bt.run(["zstd", "-q", "-d", "-f", os.path.join(parts, "root.img.zst"), "-o", root], timeout=600)
        debugfs_put(root, "/usr/lib/smarthost/image-version", ver + "\n", 0o644, scratch)
        if name == "broken":
            debugfs_put(root, "/usr/sbin/smarthost", BROKEN_SMARTHOST, 0o755, scratch)
        out[name] = os.path.join(scratch, "smarthost-%s.update" % ver)
        bt.run([os.path.join(HERE, "make-update.sh"), root, os.path.join(parts, "vmlinuz"),
                os.path.join(parts, "initrd.img"), ver, out[name]], timeout=900)
        os.unlink(root)
    out["flipped"] = os.path.join(scratch, "flipped.update")
    bt.run(["cp", out["v2"], out["flipped"]], timeout=600)
    with tarfile.open(out["flipped"]) as t:
        member = t.getmember("root.img.zst")
    at = member.offset_data + member.size * 3 // 4
    with open(out["flipped"], "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0x01]))
    bt.run(["rm", "-rf", parts])
    bt.log("bundles made in %.0fs: v2 %s, broken %s, one bit flipped at octet %d of %s"
           % (time.monotonic() - t0, versions["v2"], versions["broken"], at, os.path.basename(out["flipped"])))
    return out, versions


class Ssh:
    """root@guest over the forwarded port, with the test's own key."""

    def __init__(self, scratch, port):
        self.port = port
        self.key = os.path.join(scratch, "ssh-key")
        bt.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "image-test", "-f", self.key])
        with open(self.key + ".pub") as f:
            self.public = f.read()

    def __call__(self, command, timeout=120, check=True):
        p = bt.run(["ssh", "-i", self.key, "-p", str(self.port), "-o", "BatchMode=yes",
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", "root@127.0.0.1", command],
                   timeout=timeout, check=False)
        if check and p.returncode != 0:
            raise bt.Failure("in the guest: %s: exit %d: %s%s" % (command, p.returncode, p.stdout, p.stderr))
        return p

    def wait(self, guest):
        deadline = time.monotonic() + bt.remaining(SSH_LIMIT)
        last = ""
        while time.monotonic() < deadline:
            if not guest.alive():
                raise bt.Failure("qemu exited while waiting for sshd")
            p = self(": ready", timeout=60, check=False)
            if p.returncode == 0:
                return
            last = p.stderr.strip()
            time.sleep(3)
        raise bt.Failure("no SSH login to the guest: %s" % last)


def status(ssh):
    out = ssh("smarthost-update status").stdout
    bt.log("smarthost-update status:\n" + out.rstrip())
    return out


def slot_line(out, slot):
    for line in out.splitlines():
        if line.startswith("slot %s:" % slot):
            return line
    raise bt.Failure("no line for slot %s in smarthost-update status:\n%s" % (slot, out))


def running_version(ssh):
    return ssh("cat /usr/lib/smarthost/image-version").stdout.strip()


def queued(ssh):
    out = ssh("runuser -u smarthost -- smarthost queue list --json").stdout
    return json.loads(out)["messages"]


def apply(ssh, device, want_rc, want_text):
    t0 = time.monotonic()
    p = ssh("smarthost-update apply %s" % device, timeout=bt.remaining(APPLY_LIMIT), check=False)
    said = (p.stdout + p.stderr).strip()
    bt.log("smarthost-update apply %s: exit %d in %.0fs:\n%s" % (device, p.returncode, time.monotonic() - t0, said))
    if p.returncode != want_rc or want_text not in said:
        raise bt.Failure("smarthost-update apply %s: got exit %d and %r, want exit %d and %r"
                         % (device, p.returncode, said, want_rc, want_text))
    return said


def data_grew(ssh, min_bytes):
    size = int(ssh("findmnt -bno SIZE /data").stdout.strip())
    bt.log("/data is %d MiB" % (size >> 20))
    if size < min_bytes:
        raise bt.Failure("/data has %d octets, want at least %d: the data partition did not grow to the disk"
                         % (size, min_bytes))


def wait_blessed(ssh, slot):
    deadline = time.monotonic() + bt.remaining(BLESS_LIMIT)
    while time.monotonic() < deadline:
        out = ssh("smarthost-update status").stdout
        line = slot_line(out, slot)
        if "blessed" in line and "running" in line:
            bt.log("smarthost-update status:\n" + out.rstrip())
            return out
        time.sleep(5)
    raise bt.Failure("slot %s was not blessed (health check, systemd-bless-boot) within %ds:\n%s"
                     % (slot, BLESS_LIMIT, out))
