"""test_log.py - the mail tracking log (SPEC R-LOG, issue 14 items 1, 3, 5, 6) with real tools.

What a message's lines carry (size, Message-ID, its queue id on every line about it), session ids
that differ across restarts, JSON lines with JSON numbers, rotation by a real `logrotate` run
(mv + SIGHUP, with a private state file), a log section changed by a reload, and
log.file = "syslog" through a real syslog daemon (rsyslogd on a private socket, syslog_server.py)
with facility mail.
"""
import json
import os
import pwd
import re
import subprocess
import time
import unittest

from relay_fixture import Relay, stop_and_check
from smtp_peer import SmtpPeer, down_port
from syslog_server import SyslogServer

CONFIG = """
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
routes = ( { name = "default"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = %(port)d; tls = "none"; } );
queue = { path = "QUEUE_DIR"; retry = [ "1s" ]; };
limits = { connect_timeout = "2s"; reply_timeout = "5s"; };
"""

# Any line that names one of these events is about one message and must say which.
MESSAGE_EVENTS = ("accepted", "delivery", "delivery-problem", "tls-fallback", "mta-sts", "removed", "dsn")


class LogBase(unittest.TestCase):
    def setUp(self):
        self.relay = None
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            c()
        if self.relay:
            stop_and_check(self, self.relay)

    def start(self, port=None, extra="", wrap=None):
        self.relay = Relay(CONFIG % {"port": port or down_port()} + extra, wrap=wrap).start()
        return self.relay

    def submit(self, message_id="<track-1@sender.example>", rcpt="bob@dest.example"):
        """One message through a raw session; returns its queue id."""
        c = self.relay.client()
        self.addCleanup(c.close)
        c.reply()
        c.cmd("EHLO client.example")
        self.assertEqual(c.cmd("MAIL FROM:<alice@sender.example>")[0], 250)
        self.assertEqual(c.cmd("RCPT TO:<%s>" % rcpt)[0], 250)
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send("Subject: tracking\r\nMessage-ID:\r\n %s\r\n\r\nhello\r\n.\r\n" % message_id)
        code, text = c.reply()
        self.assertEqual(code, 250, text)
        c.cmd("QUIT")
        return text.split("queued as ")[1].split()[0]


class TrackingTest(LogBase):
    def test_accepted_names_size_and_message_id_and_every_line_names_the_message(self):
        self.start()  # the next hop refuses connections: the message stays, tried every second
        qid = self.submit()
        m = self.relay.wait_log(r"event=accepted session=s\d+-[0-9a-z]{6} id=%s from=<alice@sender.example> "
                                r"size=(\d+) nrcpt=1 msgid=<track-1@sender.example> client=127.0.0.1 tls=none" % qid)
        self.assertEqual(int(m.group(1)), self.relay.queue_list()[0]["size"])
        self.relay.wait_log(r"event=delivery-problem session=c\d+-[0-9a-z]{6} id=%s relay=" % qid)
        self.relay.wait_log(r"event=delivery session=\S+ id=%s .*status=deferred" % qid)
        for line in self.relay.log_text().splitlines():
            event = re.search(r" event=(\S+)", line)
            if event and event.group(1) in MESSAGE_EVENTS:
                self.assertRegex(line, r" id=[0-9A-F]{16}\b", line)

    def test_session_ids_differ_across_restarts(self):
        self.start()
        ids = []
        for run in range(2):
            since = len(self.relay.log_text())
            c = self.relay.client()
            c.reply()
            c.cmd("QUIT")
            c.close()
            ids.append(self.relay.wait_log(r"event=connect session=(\S+)", since=since).group(1))
            if run == 0:
                self.relay.stop()
                self.relay.start()
        self.assertRegex(ids[0], r"^s\d+-[0-9a-z]{6}$")
        self.assertRegex(ids[1], r"^s\d+-[0-9a-z]{6}$")
        self.assertNotEqual(ids[0], ids[1])


class JsonLogTest(LogBase):
    def test_numbers_are_json_numbers(self):
        sink = SmtpPeer("plain")
        sink.start()
        self.cleanups.append(sink.cleanup)
        self.start(sink.port, 'log = { format = "json"; };\n')
        qid = self.submit()
        sink.wait_messages(1, timeout=20)
        self.relay.wait_log(r'"event":"removed","id":"%s"' % qid)
        lines = [json.loads(l) for l in self.relay.log_text().splitlines() if l.startswith("{")]
        by_event = {}
        for l in lines:
            by_event.setdefault(l["event"], l)
        self.assertIsInstance(by_event["listen"]["port"], int)
        self.assertIsInstance(by_event["started"]["messages"], int)
        accepted = by_event["accepted"]
        self.assertIsInstance(accepted["size"], int)
        self.assertIsInstance(accepted["nrcpt"], int)
        self.assertEqual(accepted["msgid"], "<track-1@sender.example>")
        self.assertIsInstance(by_event["delivery"]["dsn"], str)  # "2.0.0" is a code, not a number


def read(path):
    """The file's text; "" while it does not exist (just rotated away)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class RotationTest(LogBase):
    """logrotate moves the file away and sends SIGHUP (its postrotate script): the relay writes
    the next lines to a new file under the configured name; what came before stays in the old."""

    def logrotate(self, log_file, extra):
        conf = os.path.join(self.relay.dir, "logrotate.conf")
        with open(conf, "w") as f:
            f.write("%s {\n  rotate 3\n  missingok\n  nocompress\n%s  postrotate\n    kill -HUP %d\n  endscript\n}\n"
                    % (log_file, extra, self.relay.proc.pid))
        r = subprocess.run(["logrotate", "-f", "-s", os.path.join(self.relay.dir, "logrotate.state"), conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def check_rotation(self, extra):
        self.start(extra='log = { file = "RELAY_DIR/mail.log"; };\n')
        log_file = os.path.join(self.relay.dir, "mail.log")
        first = self.submit("<before@sender.example>")
        self.relay.wait_log(r"event=accepted .*id=%s" % first, text=lambda: read(log_file))
        self.logrotate(log_file, extra)
        self.relay.wait_log(r"event=reloaded", text=lambda: read(log_file))
        second = self.submit("<after@sender.example>")
        self.relay.wait_log(r"event=accepted .*id=%s" % second, text=lambda: read(log_file))
        old = read(log_file + ".1")
        self.assertIn("id=%s" % first, old)
        self.assertNotIn("id=%s" % second, old)
        self.assertNotIn("id=%s" % first, read(log_file))
        self.assertNotIn("event=warning", read(log_file))

    def test_logrotate_moves_the_file_and_the_relay_makes_a_new_one(self):
        self.check_rotation("")

    def test_logrotate_creates_the_new_file(self):
        self.check_rotation("  create 0640 root root\n")

    @unittest.skipUnless(os.geteuid() == 0, "needs root: the relay only changes user when started as root")
    def test_run_user_reopens_the_file_it_was_given(self):
        """Started as root with user = "nobody": the file opened as root goes to nobody, so a
        SIGHUP (as nobody) opens it again, and after rotation nobody makes the new one."""
        nobody = pwd.getpwnam("nobody")
        self.relay = Relay(CONFIG % {"port": down_port()} + 'user = "nobody";\n'
                           'log = { file = "RELAY_DIR/logs/mail.log"; };\n')
        os.chmod(self.relay.dir, 0o755)
        logs = os.path.join(self.relay.dir, "logs")
        os.mkdir(logs, 0o755)
        os.chown(logs, nobody.pw_uid, nobody.pw_gid)
        self.relay.start()
        log_file = os.path.join(logs, "mail.log")
        self.relay.wait_log(r"event=privileges user=nobody", text=lambda: read(log_file))
        self.assertEqual(os.stat(log_file).st_uid, nobody.pw_uid)
        # As nobody the reload itself fails (the test key is root's): its lines are what we read.
        self.relay.reload(None, r"event=reload-failed", text=lambda: read(log_file))
        self.logrotate(log_file, "")
        self.relay.wait_log(r"event=reload-failed", text=lambda: read(log_file))
        qid = self.submit()
        self.relay.wait_log(r"event=accepted .*id=%s" % qid, text=lambda: read(log_file))
        self.assertNotIn("event=warning what=\"the log stays", read(log_file) + read(log_file + ".1"))


class LogReloadTest(LogBase):
    def test_changed_log_section_applies_on_reload(self):
        self.start()
        log_file = os.path.join(self.relay.dir, "mail.log")
        before = len(self.relay.log_text())
        text = open(self.relay.config_path).read() + 'log = { file = "%s"; format = "json"; };\n' % log_file
        self.relay.reload(text, r'"event":"reloaded"', text=lambda: read(log_file))
        qid = self.submit()
        m = self.relay.wait_log(r'\{[^\n]*"event":"accepted"[^\n]*\}', text=lambda: read(log_file))
        self.assertEqual(json.loads(m.group(0))["id"], qid)
        time.sleep(0.3)  # a restart warning would follow the reloaded line at once
        self.assertNotIn("restart", read(log_file))
        self.assertNotIn("restart", self.relay.log_text()[before:])


@unittest.skipUnless(os.geteuid() == 0, "a private /dev/log needs a mount namespace: root")
class SyslogTest(LogBase):
    def test_log_file_syslog_writes_with_facility_mail(self):
        syslog = SyslogServer().start()
        self.cleanups.append(syslog.cleanup)
        self.start(extra='log = { file = "syslog"; };\n', wrap=syslog.wrap())
        pid = self.relay.proc.pid
        syslog.wait(r"mail\.info smarthost\[%d\]: event=started " % pid)
        qid = self.submit()
        syslog.wait(r"mail\.info smarthost\[%d\]: event=accepted session=\S+ id=%s " % (pid, qid))
        # A warning keeps its severity (journalctl -p warning, rsyslog's mail.warn files).
        one = 'listen = ( { address = "127.0.0.1"; port = %d; } );' % self.relay.port
        two = 'listen = ( { address = "127.0.0.1"; port = %d; }, { address = "127.0.0.2"; port = %d; } );' % (
            self.relay.port, self.relay.port)
        text = open(self.relay.config_path).read()
        self.assertIn(one, text)
        self.relay.reload(text.replace(one, two), r"event=warning .*settings=listen", text=syslog.text)
        syslog.wait(r"mail\.warning smarthost\[%d\]: event=warning .*settings=listen" % pid)
        self.assertNotIn("event=", self.relay.log_text())  # nothing on standard error


if __name__ == "__main__":
    unittest.main()
