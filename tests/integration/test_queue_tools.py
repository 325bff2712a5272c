"""test_queue_tools.py - the admin's queue tools against a running (and a stopped) relay.

`queue delete|bounce|hold|release ID… | ALL | -`, `queue list` marking messages being delivered
(`*`, "active") and held ones (`!`, "held"), `queue flush` and `tlsrpt send` waking the relay, and
`smarthost status`. The next hops are aiosmtpd peers we did not write (smtp_peer.py); a slow one
(`stall=["data"]`, `resume_after_stall`) keeps a delivery in progress for seconds, so that an
action taken meanwhile can be seen to stop it: the message must never arrive afterwards. Clients
are swaks.
"""
import json
import os
import subprocess
import time
import unittest

from relay_fixture import Relay, BIN, free_port, stop_and_check
from smtp_peer import SmtpPeer, down_port

SENDER = "alice@sender.example"

CONFIG = """
hostname = "relay.example";
listen = ( { address = "127.0.0.1"; port = PORT; } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; };
allow = [ "127.0.0.0/8" ];
address_lists = { senders = [ "sender.example" ]; };
routes = (
  { name = "bounces"; match = [ "senders" ]; kind = "host"; host = "127.0.0.1"; port = %(sink)d; tls = "none"; },
  { name = "dest"; match = [ "*" ]; kind = "host"; host = "127.0.0.1"; port = %(port)d; tls = "opportunistic"; }
);
queue = { path = "QUEUE_DIR"; retry = [ "%(retry)s" ]; };
limits = { connect_timeout = "3s"; reply_timeout = "30s"; };
log = { file = "%(log)s"; };
"""

STALL = 8  # seconds the slow peer keeps a delivery waiting for its reply to DATA


class QueueToolsTest(unittest.TestCase):
    def setUp(self):
        self.peers = []
        self.relay = None
        self.sink = self.peer("plain")

    def tearDown(self):
        for p in self.peers:
            p.cleanup()
        if self.relay:
            stop_and_check(self, self.relay, stopped_ok=True)  # None: a test stopped it already (and checked its status)

    def peer(self, mode, **kw):
        p = SmtpPeer(mode, **kw)
        p.start()
        self.peers.append(p)
        return p

    def slow_peer(self):
        return self.peer("plain", stall=["data"], stall_seconds=STALL, resume_after_stall=True)

    def start_relay(self, port, retry="1h"):
        relay = Relay("")
        relay.write_config(CONFIG % {"sink": self.sink.port, "port": port, "retry": retry,
                                     "log": relay.log_path})
        self.relay = relay.start()
        return relay

    def send(self, to="bob@dest.example", body="hello"):
        r = self.relay.swaks("--from", SENDER, "--to", to, "--body", body)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.split("queued as ")[1].split()[0]

    def listing(self):
        return {m["id"]: m for m in self.relay.queue_list()}

    def wait_for(self, what, cond, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = cond()
            if got:
                return got
            time.sleep(0.1)
        self.fail("%s: not within %ss\n%s" % (what, timeout, self.relay.log_text()))

    def wait_deferred(self, qid):
        self.wait_for("deferred", lambda: qid in self.listing() and
                      self.listing()[qid]["recipients"][0]["state"] == "deferred")

    def in_progress(self, slow):
        """Waits until the slow peer sits on our DATA command: the delivery is under way."""
        slow.wait_events("stall", 1, timeout=20)

    def log_lines(self, event):
        return [l for l in self.relay.log_text().splitlines() if "event=%s " % event in l]

    # -- item 8: an action on a message being delivered stops that delivery ----------------

    def test_delete_stops_a_delivery_in_progress(self):
        slow = self.slow_peer()
        self.start_relay(slow.port)
        qid = self.send()
        self.in_progress(slow)
        r = self.relay.cli("queue", "delete", qid)
        self.assertIn("deleted %s" % qid, r.stdout)
        self.assertEqual(self.listing(), {})
        time.sleep(STALL + 3)  # the peer would have taken it by now
        self.assertEqual(slow.messages(), [])
        self.assertIn("was stopped", r.stdout)  # it says the delivery under way was stopped
        admin = self.log_lines("admin")
        self.assertTrue(any("action=delete" in l and "id=%s" % qid in l and "by=cli" in l for l in admin),
                        self.relay.log_text())
        self.assertTrue(self.log_lines("delivery-stopped"), self.relay.log_text())

    def test_delete_after_the_end_of_data_says_the_next_hop_has_it(self):
        """Too late to stop: the final dot is out and the peer is thinking about it. The tool says
        so; the message leaves the queue and the delivery's outcome is still logged."""
        slow = self.peer("plain", stall=["eod"], stall_seconds=STALL, resume_after_stall=True)
        self.start_relay(slow.port)
        qid = self.send()
        self.in_progress(slow)
        r = self.relay.cli("queue", "delete", qid)
        self.assertIn("deleted %s" % qid, r.stdout)
        self.assertIn("already had the whole message", r.stdout)
        self.assertEqual(self.listing(), {})
        slow.wait_messages(1, timeout=STALL + 10)
        self.wait_for("delivery logged", lambda: any("id=%s" % qid in l and "status=sent" in l
                                                     for l in self.log_lines("delivery")))
        time.sleep(1)
        self.assertEqual(self.listing(), {})  # not written back by the late outcome

    def test_bounce_stops_a_delivery_in_progress_and_returns_it(self):
        slow = self.slow_peer()
        self.start_relay(slow.port)
        qid = self.send()
        self.in_progress(slow)
        r = self.relay.cli("queue", "bounce", qid)
        self.assertIn("bounced 1 recipient(s) of %s" % qid, r.stdout)
        dsn = self.sink.wait_messages(1, timeout=20)[0]
        self.assertEqual(dsn["rcpt_tos"], [SENDER])
        self.assertIn(b"administrator", dsn["data"])
        time.sleep(STALL + 3)
        self.assertEqual(slow.messages(), [])
        self.wait_for("queue empty", lambda: self.listing() == {})
        self.assertTrue(any("action=bounce" in l and "id=%s" % qid in l for l in self.log_lines("admin")))

    def test_bounce_too_late_to_stop_applies_when_the_next_hop_answers(self):
        """The final dot is out; the peer then defers the message (451): the bounce asked for
        meanwhile takes effect on that answer, with a DSN, and nothing is retried."""
        slow = self.peer("plain", stall=["eod"], stall_seconds=STALL, resume_after_stall=True,
                         replies={"eod": "451 4.3.0 Try again later"})
        self.start_relay(slow.port, retry="1s")
        qid = self.send()
        self.in_progress(slow)
        r = self.relay.cli("queue", "bounce", qid)
        self.assertIn("bounced 0 recipient(s) of %s" % qid, r.stdout)
        self.assertIn("already had the whole message", r.stdout)
        dsn = self.sink.wait_messages(1, timeout=STALL + 15)[0]
        self.assertIn(b"administrator", dsn["data"])
        self.wait_for("queue empty", lambda: self.listing() == {})
        time.sleep(2)  # retry is 1s: a deferred recipient would be tried again
        self.assertEqual(len(slow.connections()), 1)

    def test_list_marks_the_message_being_delivered(self):
        slow = self.slow_peer()
        self.start_relay(slow.port)
        qid = self.send()
        self.in_progress(slow)
        m = self.listing()[qid]
        self.assertIs(m["active"], True, m)
        self.assertIs(m["held"], False, m)
        text = self.relay.cli("queue", "list").stdout
        self.assertIn("%s*" % qid, text)
        slow.wait_messages(1, timeout=20)
        self.wait_for("queue empty", lambda: self.listing() == {})

    # -- item 7: hold and release ------------------------------------------------------------

    def test_hold_stops_a_delivery_in_progress_and_release_sends_it(self):
        slow = self.slow_peer()
        self.start_relay(slow.port)
        qid = self.send()
        self.in_progress(slow)
        r = self.relay.cli("queue", "hold", qid)
        self.assertIn("held %s" % qid, r.stdout)
        m = self.listing()[qid]
        self.assertIs(m["held"], True, m)
        self.assertIs(m["active"], False, m)
        self.assertIn("%s!" % qid, self.relay.cli("queue", "list").stdout)
        self.relay.cli("queue", "flush")  # a flush does not deliver a held message
        time.sleep(STALL + 3)
        self.assertEqual(slow.messages(), [])
        r = self.relay.cli("queue", "release", qid)
        self.assertIn("released %s" % qid, r.stdout)
        slow.wait_messages(1, timeout=STALL + 15)
        self.wait_for("queue empty", lambda: self.listing() == {})
        actions = " ".join(self.log_lines("admin"))
        self.assertIn("action=hold", actions)
        self.assertIn("action=release", actions)

    def test_hold_survives_a_restart(self):
        port = down_port()
        self.start_relay(port, retry="1s")
        held, other = self.send(), self.send(to="carol@dest.example")
        self.wait_deferred(held)
        self.relay.cli("queue", "hold", held)
        self.assertEqual(self.relay.stop(), 0)
        # Stopped: the record in LMDB says held.
        self.assertIs(self.listing()[held]["held"], True)
        self.assertIs(self.listing()[other]["held"], False)
        dest = self.peer("plain", port=free_port())
        self.relay.write_config(CONFIG % {"sink": self.sink.port, "port": dest.port, "retry": "1s",
                                          "log": self.relay.log_path})
        self.relay.start()
        msgs = dest.wait_messages(1, timeout=20)
        self.assertEqual(msgs[0]["rcpt_tos"], ["carol@dest.example"])
        time.sleep(3)  # retry is 1s: a held message would have gone by now
        self.assertEqual(len(dest.messages()), 1)
        self.assertEqual(list(self.listing()), [held])
        self.relay.cli("queue", "release", held)
        dest.wait_messages(2, timeout=20)
        self.wait_for("queue empty", lambda: self.listing() == {})

    def test_all_and_ids_on_standard_input(self):
        port = down_port()
        self.start_relay(port)
        ids = [self.send(to="r%d@dest.example" % i) for i in range(3)]
        for i in ids:
            self.wait_deferred(i)
        r = self.relay.cli("queue", "hold", "ALL")
        self.assertEqual(sorted(l.split()[1] for l in r.stdout.splitlines() if l.startswith("held ")), sorted(ids))
        self.assertTrue(all(m["held"] for m in self.listing().values()))
        r = subprocess.run([BIN, "queue", "-c", self.relay.config_path, "release", "-"],
                           input="%s\n%s\n" % (ids[0], ids[1]), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.listing()
        self.assertEqual([got[i]["held"] for i in ids], [False, False, True])
        r = self.relay.cli("queue", "delete", ids[0], "NOSUCHID", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("NOSUCHID", r.stderr)
        self.assertIn("deleted %s" % ids[0], r.stdout)
        self.relay.cli("queue", "delete", "ALL")
        self.assertEqual(self.listing(), {})

    def test_actions_on_a_stopped_relay_work_and_are_logged(self):
        port = down_port()
        self.start_relay(port)
        a, b = self.send(), self.send(to="carol@dest.example")
        self.wait_deferred(a)
        self.relay.stop()
        self.relay.cli("queue", "hold", a)
        self.assertIs(self.listing()[a]["held"], True)
        self.relay.cli("queue", "delete", b)
        self.assertEqual(list(self.listing()), [a])
        lines = self.log_lines("admin")
        self.assertTrue(any("action=hold" in l and "id=%s" % a in l and "by=cli" in l for l in lines),
                        self.relay.log_text())
        self.assertTrue(any("action=delete" in l and "id=%s" % b in l for l in lines))

    # -- item 9: flush and tlsrpt send wake the relay, or say that none runs -----------------

    def test_flush_says_when_no_relay_runs(self):
        port = down_port()
        self.start_relay(port)
        self.wait_deferred(self.send())
        self.relay.stop()
        r = self.relay.cli("queue", "flush", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("no relay is running", r.stderr)
        self.assertNotIn("flushed", r.stdout)

    def test_flush_delivers_at_once_with_an_hour_of_retry(self):
        port = free_port()
        self.start_relay(port)  # retry is an hour
        qid = self.send()
        self.wait_deferred(qid)
        dest = self.peer("plain", port=port)
        t0 = time.monotonic()
        r = self.relay.cli("queue", "flush")
        self.assertIn("relay", r.stdout)
        dest.wait_messages(1, timeout=10)
        self.assertLess(time.monotonic() - t0, 10)

    def test_a_down_destination_is_tried_once_not_by_every_message(self):
        # Issue 20: after an outage of the next hop, every queued (and newly accepted) message
        # made its own connection attempt. The first refused connection suspends the destination;
        # the messages meanwhile are deferred with its reason, and `queue flush` ends it.
        port = free_port()  # nothing listens: connections are refused
        self.start_relay(port)
        first = self.send(body="m0")
        self.wait_deferred(first)
        later = [self.send(body="m%d" % i) for i in range(1, 6)]
        for qid in later:
            self.wait_deferred(qid)
        deferred = [l for l in self.log_lines("delivery") if "status=deferred" in l]
        suspended = [l for l in deferred if "delivery temporarily suspended: connect to 127.0.0.1" in l]
        self.assertEqual(len(deferred), 6, self.relay.log_text())
        self.assertEqual(len(suspended), 5, self.relay.log_text())
        self.assertEqual(len(self.log_lines("destination-suspended")), 1, self.relay.log_text())
        dest = self.peer("plain", port=port)
        r = self.relay.cli("queue", "flush")
        self.assertIn("6", r.stdout)
        dest.wait_messages(6, timeout=20)
        self.wait_for("all delivered", lambda: self.listing() == {})

    # -- item 10: smarthost status -------------------------------------------------------------

    def test_status_of_a_running_relay(self):
        dest = self.peer("tls", cert="valid")
        down = down_port()
        self.start_relay(dest.port)
        self.send()
        dest.wait_messages(1, timeout=20)
        self.wait_for("delivered", lambda: self.listing() == {})
        # A deferred message on a second relay config would need a route: reconfigure by reload.
        cfg = open(self.relay.config_path).read().replace("port = %d; tls" % dest.port, "port = %d; tls" % down)
        with open(self.relay.config_path, "w") as f:
            f.write(cfg)
        self.relay.proc.send_signal(1)
        self.wait_for("reloaded", lambda: "event=reloaded" in self.relay.log_text())
        late = self.send(to="late@dest.example")
        self.wait_deferred(late)
        r = self.relay.cli("status", "--json")
        st = json.loads(r.stdout)
        relay = st["relay"]
        self.assertIs(relay["running"], True)
        self.assertEqual(relay["pid"], self.relay.proc.pid)
        self.assertEqual(relay["config"], self.relay.config_path)
        self.assertGreaterEqual(relay["uptime_seconds"], 0)
        self.assertTrue(relay["version"])
        self.assertTrue(relay["config_loaded"] >= relay["started"], relay)
        self.assertEqual(relay["listeners"], ["127.0.0.1:%d" % self.relay.port])
        self.assertEqual(relay["sessions"], {"inbound": 0, "outbound": 0})
        self.assertEqual(st["queue"]["messages"], 1)
        self.assertEqual(st["queue"]["recipients"]["deferred"], 1)
        self.assertEqual(st["queue"]["oldest_deferred"]["id"], late)
        last = st["routes"]["dest"]["last_delivery"]
        self.assertEqual(last["status"], "deferred")  # the last attempt on the route
        last_sent = st["routes"]["dest"]["last_sent"]
        self.assertEqual(last_sent["tls_version"], "TLS1_3", st)
        self.assertEqual(last_sent["relay"], "127.0.0.1[127.0.0.1]:%d" % dest.port)
        text = self.relay.cli("status").stdout
        for want in ("running", "pid %d" % self.relay.proc.pid, self.relay.config_path,
                     "127.0.0.1:%d" % self.relay.port, "TLS1_3", late, "deferred"):
            self.assertIn(want, text)

    def test_status_without_a_relay(self):
        self.start_relay(down_port())
        self.wait_deferred(self.send())
        self.relay.stop()
        r = self.relay.cli("status", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no relay is running", r.stdout + r.stderr)
        self.assertIn("deferred", r.stdout)  # the queue is still described


if __name__ == "__main__":
    unittest.main()
