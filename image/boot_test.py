#!/usr/bin/python3
"""boot_test.py - boot the appliance image under qemu and relay a message through it.

SUMMARY: image/boot_test.py [IMAGE]     (image/test.sh and make image-test run it)

DESCRIPTION
  1. Copies image/out/smarthost-VERSION.img (sparse) to a scratch folder and,
     without mounting anything, rewrites its data partition with debugfs: the
     seeded /etc/smarthost/smarthost.cfg gets allow = the qemu gateway and one
     route to the sink (10.0.2.2 is the host as seen from qemu's user network),
     and NTP is switched off. Everything else stays as the build seeded it.
  2. Starts the sink (image/test_sink.py, aiosmtpd on 127.0.0.1:free port).
  3. Boots the copy with qemu-system-x86_64, OVMF, user networking with
     hostfwd 127.0.0.1:free port -> guest port 25, serial console to a file.
     KVM is used when /dev/kvm is usable and works; otherwise (or when KVM
     fails to run the firmware) software emulation.
  4. Waits for the boot unit's check-config verdict on the console
     ("smarthost-check-config: end rc=0"), for the relay's 220 greeting, then
     sends a message with swaks and wants "250 ... queued as".
  5. Looks for the message at the sink: its arrival is required (up to 180 s);
     with IMAGE_TEST_EXPECT_DELIVERY=0 it is only reported (45 s).
  6. Power cut (SPEC R-QUEUE: the 250 follows a completed sync): stops the
     sink, sends a second message and kills qemu with SIGKILL the moment the
     250 arrives (the disk is attached with cache=none, so nothing the guest
     had not flushed survives), starts the sink again, boots the same disk a
     second time and requires that message at the sink (skipped with
     IMAGE_TEST_EXPECT_DELIVERY=0).
  Every wait is bounded; the whole run is capped at 14 minutes. Only the
  processes this script starts are stopped, by their PID.

ENVIRONMENT
  IMAGE_TEST_EXPECT_DELIVERY=0  do not require arrival at the sink (default 1)
  IMAGE_TEST_ACCEL=kvm|tcg      force an accelerator (default: kvm if it works)
  IMAGE_TEST_KEEP=1             keep the scratch folder after success

DIAGNOSTICS
  Exit 0 and "image test: PASS" on success. Otherwise "image test: FAIL: why",
  followed by the guest's console log, the swaks transcript and the sink's
  output, and exit 1. Exit 2 when a host tool is missing.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
START = time.monotonic()
TOTAL_LIMIT = 14 * 60          # the run never takes longer than this
BOOT_LIMIT = 9 * 60            # power on -> check-config verdict (software emulation)
BANNER_LIMIT = 150             # verdict -> 220 greeting on the forwarded port
SWAKS_LIMIT = 120
DELIVERY_LIMIT = 180
LOOK_LIMIT = 45                # arrival not required: look this long, then report
KVM_PROBE = 40                 # no console output by then: KVM cannot run OVMF here
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
SMARTHOST_GID = 990
MARK_END = re.compile(r"smarthost-check-config: end rc=(\d+)")
MARK_BEGIN = "smarthost-check-config: begin"


class Failure(Exception):
    """The image did not do what it must; the message says what."""


def log(msg):
    print("image test [%5.1fs] %s" % (time.monotonic() - START, msg), flush=True)


def remaining(limit):
    """Seconds to wait: `limit`, but never past the whole run's cap."""
    return max(0.0, min(limit, TOTAL_LIMIT - (time.monotonic() - START)))


def run(cmd, timeout=120, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       text=True, errors="replace", **kw)
    if check and p.returncode != 0:
        raise Failure("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()[-500:]))
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the data partition, edited in place with debugfs -------------------------

def data_partition_offset(img):
    table = json.loads(run(["sfdisk", "-J", img]).stdout)["partitiontable"]
    sector = table.get("sectorsize", 512)
    for p in table["partitions"]:
        if p.get("name") == "smarthost-data":
            return p["start"] * sector
    raise Failure("%s: no partition named smarthost-data" % img)


class DataFs:
    """The data partition of a disk image, read and written with debugfs (no mount)."""

    def __init__(self, img):
        self.dev = "%s?offset=%d" % (img, data_partition_offset(img))

    def cat(self, path):
        return run(["debugfs", "-R", "cat " + path, self.dev]).stdout

    def recover(self, scratch):
        """Replays the file system's own journal, as the next mount would, on a copy of the
        partition (e2fsck restarts itself after the replay and cannot reopen an ?offset= name):
        after the guest stopped without a clean shutdown, its latest metadata (new folders and
        files) may be only in the ext4 journal, which debugfs does not read."""
        img, offset = self.dev.split("?offset=")
        part = os.path.join(scratch, "data-partition.img")
        run(["dd", "if=" + img, "of=" + part, "bs=1M", "iflag=skip_bytes", "skip=%s" % offset,
             "conv=sparse", "status=none"], timeout=300)
        r = run(["e2fsck", "-fy", part], check=False, timeout=300)
        if r.returncode >= 4:
            raise Failure("e2fsck could not repair the data partition (exit %d): %s"
                          % (r.returncode, r.stdout + r.stderr))
        self.dev = part

    def ls(self, path):
        """The names in a folder (without . and ..); [] when it is missing."""
        out = run(["debugfs", "-R", "ls -p " + path, self.dev], check=False).stdout
        names = [line.split("/")[5] for line in out.splitlines() if line.count("/") >= 6]
        return [n for n in names if n not in (".", "..")]

    def put(self, path, text, uid, gid, mode, scratch):
        local = os.path.join(scratch, "debugfs-upload")
        with open(local, "w") as f:
            f.write(text)
        cmds = os.path.join(scratch, "debugfs-cmds")
        with open(cmds, "w") as f:
            f.write("rm %s\nwrite %s %s\nsif %s uid %d\nsif %s gid %d\nsif %s mode 0%o\n"
                    % (path, local, path, path, uid, path, gid, path, 0o100000 | mode))
        run(["debugfs", "-w", "-f", cmds, self.dev])
        if self.cat(path) != text:
            raise Failure("debugfs could not write %s into the data partition" % path)


def test_config(seeded, sink_port):
    """The seeded appliance config, pointed at the sink through qemu's gateway."""
    src = os.path.join(tempfile.gettempdir(), "smarthost-seeded-%d.cfg" % os.getpid())
    with open(src, "w") as f:
        f.write(seeded)
    try:
        p = run([sys.executable, os.path.join(HERE, "cfgedit.py"), src, "/dev/stdout",
                 'allow=[ "10.0.2.2" ]',
                 'routes=( { name = "image-test"; match = [ "*" ]; kind = "host"; '
                 'host = "10.0.2.2"; port = %d; tls = "opportunistic"; } )' % sink_port,
                 'queue.retry=[ "2s", "5s" ]',
                 "mta_sts.enabled=false",
                 "tlsrpt.enabled=false"])
    finally:
        os.unlink(src)
    return p.stdout


# --- qemu ------------------------------------------------------------------------

class Guest:
    """One qemu process booting the image; the console goes to a file."""

    def __init__(self, img, scratch, smtp_port, accel, tag=""):
        self.console = os.path.join(scratch, "console-%s%s.log" % (accel, tag))
        self.stderr_path = os.path.join(scratch, "qemu-%s%s.err" % (accel, tag))
        vars_fd = os.path.join(scratch, "OVMF_VARS-%s.fd" % accel)
        if not os.path.exists(vars_fd):  # a second boot keeps the firmware's variables
            shutil.copyfile(OVMF_VARS, vars_fd)
        cpu = ["-machine", "q35,accel=kvm", "-cpu", "host"] if accel == "kvm" else \
              ["-machine", "q35,accel=tcg", "-cpu", "max"]
        cmd = ["qemu-system-x86_64", *cpu, "-m", "1024", "-smp", "2",
               "-nodefaults", "-no-reboot", "-display", "none", "-vga", "none",
               "-monitor", "none", "-parallel", "none",
               "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
               "-drive", "if=pflash,format=raw,file=" + vars_fd,
               # cache=none: the guest's flushes reach the image file, and a kill loses what it
               # had not flushed, like a power cut (step 6).
               "-drive", "file=%s,format=raw,if=virtio,cache=none" % img,
               "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:%d-:25" % smtp_port,
               "-device", "virtio-net-pci,netdev=n0",
               "-device", "virtio-rng-pci",
               "-serial", "file:" + self.console]
        self.accel = accel
        self.started = time.monotonic()
        self.err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.err,
                                     stderr=subprocess.STDOUT)
        log("qemu pid %d started (%s)" % (self.proc.pid, accel))

    def text(self):
        try:
            with open(self.console, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def qemu_errors(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def power_cut(self):
        """SIGKILL: the guest gets no chance to write anything more."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.err.close()


def kvm_usable():
    want = os.environ.get("IMAGE_TEST_ACCEL", "")
    if want:
        return want == "kvm"
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def boot(img, scratch, smtp_port):
    """Start the guest; with KVM first when it can run OVMF here, else software emulation."""
    if kvm_usable():
        guest = Guest(img, scratch, smtp_port, "kvm")
        deadline = time.monotonic() + remaining(KVM_PROBE)
        while time.monotonic() < deadline and guest.alive() and not guest.text() \
                and "KVM internal error" not in guest.qemu_errors():
            time.sleep(1)
        if guest.alive() and guest.text():
            return guest
        log("KVM cannot run the firmware here (%s); using software emulation"
            % (guest.qemu_errors().strip().splitlines() or ["no console output"])[0])
        guest.stop()
    return Guest(img, scratch, smtp_port, "tcg")


def wait_verdict(guest):
    """Wait for the check-config marker; return (rc, the lines check-config printed)."""
    deadline = time.monotonic() + remaining(BOOT_LIMIT)
    while time.monotonic() < deadline:
        text = guest.text()
        m = MARK_END.search(text)
        if m:
            body = text[text.find(MARK_BEGIN):m.start()] if MARK_BEGIN in text else ""
            return int(m.group(1)), body
        if not guest.alive():
            raise Failure("qemu exited (%s) before check-config ran" % guest.proc.returncode)
        time.sleep(2)
    raise Failure("no check-config verdict on the console after %ds" % (time.monotonic() - guest.started))


def wait_banner(port, guest):
    """Wait until the forwarded port answers with a 220 greeting; return it."""
    deadline = time.monotonic() + remaining(BANNER_LIMIT)
    last = "nothing"
    while time.monotonic() < deadline:
        if not guest.alive():
            raise Failure("qemu exited while waiting for the relay")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.settimeout(10)
                line = s.recv(512).decode("ascii", "replace").strip()
                if line.startswith("220"):
                    s.sendall(b"QUIT\r\n")
                    return line
                last = repr(line) if line else "connection closed without greeting"
        except OSError as e:
            last = str(e)
        time.sleep(3)
    raise Failure("no 220 greeting from the guest's port 25 (127.0.0.1:%d): %s" % (port, last))


def wait_delivery(sink_dir, token, limit):
    deadline = time.monotonic() + remaining(limit)
    while time.monotonic() < deadline:
        for name in sorted(os.listdir(sink_dir)):
            if name.endswith(".eml"):
                with open(os.path.join(sink_dir, name), "rb") as f:
                    if token.encode() in f.read():
                        return name
        time.sleep(2)
    raise Failure("the message did not arrive at the sink within %ds" % limit)


def start_sink(scratch, sink_port, sink_dir):
    """image/test_sink.py on 127.0.0.1:sink_port, its log appended to sink.log."""
    sink_log = open(os.path.join(scratch, "sink.log"), "a")
    sink = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "test_sink.py"),
                             "127.0.0.1", str(sink_port), sink_dir],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=sink_log, text=True)
    sink_log.close()
    ready = sink.stdout.readline().strip()
    if ready != "ready":
        raise Failure("the sink did not start (see sink log)")
    log("sink pid %d on 127.0.0.1:%d" % (sink.pid, sink_port))
    return sink


def stop_sink(sink):
    if sink and sink.poll() is None:
        sink.terminate()
        try:
            sink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sink.kill()
            sink.wait(timeout=10)


def send_then_power_cut(port, guest, token):
    """One message over plain SMTP; SIGKILL the guest as soon as its 250 has arrived."""
    msg = ("From: sender@image-test.example\r\nTo: rcpt@sink.example\r\n"
           "Subject: smarthost power cut " + token + "\r\n\r\n" + token + "\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        f = s.makefile("rb")

        def reply():
            lines = []
            while True:
                line = f.readline().decode("ascii", "replace")
                if not line:
                    raise Failure("the relay closed the connection; so far: %r" % lines)
                lines.append(line.rstrip())
                if line[3:4] != "-":
                    return lines[-1]

        reply()
        for cmd, want in (("EHLO client.image-test.example", "250"),
                          ("MAIL FROM:<sender@image-test.example>", "250"),
                          ("RCPT TO:<rcpt@sink.example>", "250"), ("DATA", "354")):
            s.sendall(cmd.encode() + b"\r\n")
            got = reply()
            if not got.startswith(want):
                raise Failure("power cut test: %s got %r" % (cmd, got))
        s.sendall(msg.encode() + b".\r\n")
        got = reply()
        if not got.startswith("250"):
            raise Failure("power cut test: end of DATA got %r" % got)
        guest.power_cut()
    return got


def need(tool):
    if not shutil.which(tool):
        print("image test: %s not found (./deps.sh image test installs it)" % tool)
        sys.exit(2)


def main():
    for tool in ("qemu-system-x86_64", "swaks", "debugfs", "e2fsck", "sfdisk"):
        need(tool)
    for path in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(path):
            print("image test: %s missing (Debian package ovmf)" % path)
            return 2
    version = open(os.path.join(TOP, "VERSION")).read().strip()
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "out", "smarthost-%s.img" % version)
    if not os.path.exists(src):
        print("image test: %s missing (make image builds it)" % src)
        return 2
    expect_delivery = os.environ.get("IMAGE_TEST_EXPECT_DELIVERY", "1") == "1"
    os.makedirs(os.path.join(HERE, "work"), exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="test-", dir=os.path.join(HERE, "work"))
    img = os.path.join(scratch, "disk.img")
    sink_dir = os.path.join(scratch, "sink")
    smtp_port, sink_port = free_port(), free_port()
    token = "image-test-%d-%d" % (os.getpid(), int(time.time()))
    guest = sink = None
    swaks_out = ""
    timings = {}
    passed = False
    try:
        log("copying %s" % src)
        run(["cp", "--sparse=always", src, img])
        data = DataFs(img)
        cfg = test_config(data.cat("/etc/smarthost.cfg"), sink_port)
        data.put("/etc/smarthost.cfg", cfg, 0, SMARTHOST_GID, 0o640, scratch)
        data.put("/etc/timesyncd.conf.d/90-image-test.conf",
                 "# image test: no NTP traffic from the guest\n[Time]\nNTP=\nFallbackNTP=\n",
                 0, 0, 0o644, scratch)
        log("data partition: test config written (sink 10.0.2.2:%d)" % sink_port)

        sink = start_sink(scratch, sink_port, sink_dir)

        guest = boot(img, scratch, smtp_port)
        rc, output = wait_verdict(guest)
        timings["boot to check-config"] = time.monotonic() - guest.started
        log("check-config in the guest: rc=%d\n%s" % (rc, output.strip()))
        if rc != 0:
            raise Failure("check-config in the guest exited %d" % rc)
        if "made a self-signed STARTTLS certificate" not in guest.text():
            raise Failure("the first boot did not make the self-signed certificate")

        banner = wait_banner(smtp_port, guest)
        timings["boot to 220"] = time.monotonic() - guest.started
        log("relay greets: %s" % banner)

        cmd = ["swaks", "--server", "127.0.0.1", "--port", str(smtp_port),
               "--from", "sender@image-test.example", "--to", "rcpt@sink.example",
               "--helo", "client.image-test.example", "-tlso", "--timeout", "60",
               "--header", "Subject: smarthost image test " + token,
               "--body", "Relayed through the appliance image.\n" + token + "\n"]
        p = run(cmd, timeout=remaining(SWAKS_LIMIT), check=False)
        swaks_out = p.stdout + p.stderr
        m = re.search(r"^\s*<[-~]{1,2}\s+(250[ -].*queued as.*)$", swaks_out, re.M)
        if p.returncode != 0 or not m:
            raise Failure("swaks did not get \"250 ... queued as\" (exit %d)" % p.returncode)
        timings["boot to queued"] = time.monotonic() - guest.started
        tls = "with STARTTLS" if "TLS started" in swaks_out else "without TLS"
        log("relay accepted the message %s: %s" % (tls, m.group(1).strip()))

        try:
            name = wait_delivery(sink_dir, token, DELIVERY_LIMIT if expect_delivery else LOOK_LIMIT)
            timings["boot to delivered"] = time.monotonic() - guest.started
            log("delivered to the sink: %s" % name)
        except Failure as e:
            if expect_delivery:
                raise
            log("%s; not required (IMAGE_TEST_EXPECT_DELIVERY=0)" % e)

        failed = re.findall(r"FAILED.*smarthost.*|smarthost\S*\.service: Failed.*", guest.text())
        if failed:
            raise Failure("a smarthost unit failed in the guest: %s" % failed[0])

        if expect_delivery:
            # Step 6: nothing acknowledged is lost when the power goes right after the 250.
            stop_sink(sink)
            cut_token = token + "-power-cut"
            got = send_then_power_cut(smtp_port, guest, cut_token)
            log("power cut right after: %s" % got)
            guest.stop()
            sink = start_sink(scratch, sink_port, sink_dir)
            guest = Guest(img, scratch, smtp_port, guest.accel, tag="-after-power-cut")
            rc, _ = wait_verdict(guest)
            if rc != 0:
                raise Failure("check-config after the power cut exited %d" % rc)
            name = wait_delivery(sink_dir, cut_token, DELIVERY_LIMIT)
            timings["reboot to delivered"] = time.monotonic() - guest.started
            log("the message acknowledged before the power cut was delivered after it: %s" % name)
            # The journal lives on the data partition (/data/journal on /var/log/journal), so
            # the mail log of earlier boots is still there: one folder per machine id.
            guest.stop()
            data.recover(scratch)
            journals = ["/journal/%s/%s" % (d, f) for d in data.ls("/journal") for f in data.ls("/journal/" + d)
                        if f.startswith("system")]
            if not journals:
                raise Failure("no system journal on the data partition under /journal: %s"
                              % data.ls("/journal"))
            log("journal on the data partition: %s" % ", ".join(journals))
        log("PASS in %.0fs (%s; %s)" % (time.monotonic() - START, guest.accel, ", ".join(
            "%s %.0fs" % kv for kv in timings.items())))
        print("image test: PASS")
        passed = True
        return 0
    except (Failure, subprocess.TimeoutExpired, OSError) as e:
        print("image test: FAIL: %s" % e, flush=True)
        if guest:
            print("===== guest console (%s) =====" % guest.console)
            print(guest.text())
            print("===== qemu output =====")
            print(guest.qemu_errors())
        if swaks_out:
            print("===== swaks =====")
            print(swaks_out)
        if sink:
            print("===== sink (%s) =====" % sink_dir)
            print(open(os.path.join(scratch, "sink.log"), errors="replace").read())
            print("messages: %s" % (sorted(os.listdir(sink_dir)) if os.path.isdir(sink_dir) else []))
        print("image test: FAIL (scratch files kept in %s)" % scratch, flush=True)
        return 1
    finally:
        if guest:
            guest.stop()
        stop_sink(sink)
        keep = os.environ.get("IMAGE_TEST_KEEP") == "1"
        if passed and not keep:
            shutil.rmtree(scratch, ignore_errors=True)
        elif os.path.exists(img) and not keep:
            os.unlink(img)  # the disk copy is big; the logs stay for a look


if __name__ == "__main__":
    sys.exit(main())
