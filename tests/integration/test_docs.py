"""test_docs.py - the documentation cannot drift from the program (issue 14 item 14).

- docs/config.md lists every key the config loader accepts, and no other: the loader itself is asked
  (a config with an unknown key in every group; its "unknown key (allowed here: ...)" errors list what
  each group takes), so a key added to config/config_loader.cc without a row in the doc fails here.
- `smarthost help` lists every sub-command, and `smarthost help COMMAND` has a manual page for each
  (NAME, SYNOPSIS, DESCRIPTION, EXIT STATUS); a command the binary dispatches is refused unless it has
  one (relay/cli/cmd_help.cc), so a new sub-command cannot ship without help.
- README.md refers to nothing outside the repository, and every repository path it names exists."""
import os
import re
import subprocess
import unittest

from relay_fixture import BIN, ROOT, Relay

BOGUS = "zz_unknown = 1;"

# One config that holds every group the loader knows, each with BOGUS inside (@ marks where).
ALL_GROUPS = """
@
hostname = "relay.test.example";
listen = ( { address = "127.0.0.1"; port = PORT; @ } );
tls = { cert = "TESTPKI/valid.pem"; key = "TESTPKI/valid.key"; ca_file = "TESTPKI/ca-bundle.pem"; @ };
allow = [ "127.0.0.0/8" ];
inbound_tls = { default = "opportunistic"; peers = ( { match = [ "127.0.0.1" ]; level = "required"; @ } ); @ };
address_lists = { partners = [ "partner.example" ]; };
routes = ( { name = "default"; match = [ "*" ]; kind = "mx"; @ } );
queue = { path = "QUEUE_DIR"; @ };
dns = { timeout = "2s"; @ };
mta_sts = { enabled = true; @ };
tlsrpt = { enabled = false; dkim = { domain = "example.com"; @ }; @ };
relay_policy = { check_from = false; @ };
dkim_sign = ( { domain = "example.com"; @ } );
limits = { connections = 10; @ };
log = { level = "info"; @ };
admin = { listen = ( { address = "127.0.0.1"; port = 8443; @ } ); users = ( { name = "a"; password_hash = "$y$j9T$x$y"; @ } ); @ };
"""


def doc_keys():
    """{key path: type} from docs/config.md's table ("routes[].tls": "string")."""
    keys = {}
    with open(os.path.join(ROOT, "docs", "config.md")) as f:
        for line in f:
            m = re.match(r"^\| `([a-z_.\[\]]+)` \| ([^|]+) \|", line)
            if m:
                keys[m.group(1)] = m.group(2).strip()
    return keys


def loader_groups():
    """{group path: set of keys} as the loader states them ("" is the top level)."""
    relay = Relay(ALL_GROUPS.replace("@", BOGUS))
    try:
        r = relay.cli("check-config", check=False)
    finally:
        relay.cleanup()
    groups = {}
    for m in re.finditer(r": (\S*?)\.?zz_unknown: unknown key \(allowed here: ([^)]*)\)", r.stderr):
        path = re.sub(r"\[\d+\]", "[]", m.group(1))
        groups[path] = set(k.strip() for k in m.group(2).split(","))
    return groups, r.stderr


class ConfigReferenceTest(unittest.TestCase):
    def test_every_key_the_loader_accepts_is_documented_and_no_other(self):
        doc = doc_keys()
        self.assertGreater(len(doc), 50, "the key table of docs/config.md was not found")
        groups, stderr = loader_groups()
        self.assertIn("", groups, stderr)
        # address_lists is a "group of lists": its keys are list names you choose.
        doc_groups = {k for k, t in doc.items() if t == "group"} | \
                     {k + "[]" for k, t in doc.items() if t == "list of groups"}
        self.assertEqual(set(groups) - {""}, doc_groups,
                         "got groups the loader checks, want those docs/config.md calls groups "
                         "(a new group needs a row, and a place in ALL_GROUPS here)")
        for group, allowed in groups.items():
            prefix = group + "." if group else ""
            documented = {k[len(prefix):] for k in doc if k.startswith(prefix) and
                          "." not in k[len(prefix):].replace("[]", "") and "[]." not in k[len(prefix):]}
            documented = {k.replace("[]", "") for k in documented}
            self.assertEqual(documented, allowed,
                             "group %r: got documented keys %s, want the loader's %s" %
                             (group or "(top level)", sorted(documented), sorted(allowed)))

    def test_the_documented_minimal_file_is_valid(self):
        with open(os.path.join(ROOT, "docs", "config.md")) as f:
            text = f.read()
        m = re.search(r"## A minimal file\n\n```\n(.*?)```", text, re.S)
        self.assertIsNotNone(m)
        cfg = (m.group(1).replace("/etc/smarthost/tls/relay", "TESTPKI/valid")
               .replace("/var/lib/smarthost/queue", "QUEUE_DIR"))
        relay = Relay(cfg)
        try:
            r = relay.cli("check-config", check=False)
        finally:
            relay.cleanup()
        self.assertEqual(r.returncode, 0, r.stderr)


def smarthost(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=30)


def listed_commands():
    """The sub-commands `smarthost help` lists."""
    r = smarthost("help")
    assert r.returncode == 0, r.stderr
    block = r.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


# Every sub-command main.cc dispatches (README.md "Command line"): each must be listed and have a page.
DISPATCHED = ["run", "check-config", "route-for", "test-route", "queue", "tlsrpt", "mta-sts", "help", "version",
              "admin-passwd"]


class HelpTest(unittest.TestCase):
    def test_help_lists_every_command_and_each_has_a_manual_page(self):
        listed = listed_commands()
        self.assertEqual(sorted(listed), sorted(set(listed)), "a command is listed twice")
        for cmd in DISPATCHED:
            self.assertIn(cmd, listed)
        for cmd in listed:
            r = smarthost("help", cmd)
            self.assertEqual(r.returncode, 0, "help %s: %s" % (cmd, r.stderr))
            for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS"):
                self.assertIn("\n" + section + "\n", "\n" + r.stdout, "help %s has no %s" % (cmd, section))
            self.assertIn("smarthost " + cmd, r.stdout)

    def test_a_command_without_a_page_does_not_exist(self):
        # main.cc refuses a command before dispatching it unless help_pages.cc has its page; so a
        # command added to main.cc alone fails its own tests with this message.
        r = smarthost("no-such-command")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'no-such-command'", r.stderr)
        self.assertIn("test-route", r.stderr)         # the list follows
        r = smarthost("help", "no-such-command")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no command 'no-such-command'", r.stderr)

    def test_every_page_renders_as_roff(self):
        pages = [[]] + [[c] for c in listed_commands()]
        for page in pages:
            r = smarthost("help", "--roff", *page)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith('.\\"'), r.stdout[:80])
            self.assertIn(".TH ", r.stdout)
            man = subprocess.run(["man", "-l", "-"], input=r.stdout, capture_output=True, text=True,
                                 timeout=30, env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
            self.assertEqual(man.returncode, 0, man.stderr)
            self.assertNotIn("warning", man.stderr.lower(), "%s: %s" % (page, man.stderr))
            shown = re.sub(".\x08", "", man.stdout)     # no overstrike (bold, underline)
            self.assertIn("NAME", shown)
            self.assertIn("smarthost", shown)


class ReadmeTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            self.text = f.read()

    def test_refers_to_nothing_outside_the_repository(self):
        for outside in ("../", "shared/SPEC", "SPEC.md", "not implemented yet"):
            self.assertNotIn(outside, self.text, "README.md still says %r" % outside)
        # Every repository path the README names in backquotes exists.
        for m in re.finditer(r"`((?:config|certs|router|relay|tests|image|docs)/[A-Za-z0-9_./-]*)`", self.text):
            path = m.group(1).rstrip("/")
            if path.endswith(("*", ".")):
                continue
            candidates = [path, path + ".cc", path + ".h", path + ".py"]
            self.assertTrue(any(os.path.exists(os.path.join(ROOT, c)) for c in candidates),
                            "README.md names %s, which is not in the repository" % path)

    def test_names_the_config_reference(self):
        self.assertIn("docs/config.md", self.text, "README.md does not name docs/config.md")


if __name__ == "__main__":
    unittest.main()
