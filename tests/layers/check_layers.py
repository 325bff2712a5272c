#!/usr/bin/env python3
"""check_layers.py - the dependency rule of README.md ("Layout"), checked.

Every #include "FOLDER/file.h" in config/, certs/, router/ and relay/ must name a
folder its own folder may use (the table below: each room may use itself and the
rooms listed). A room is the folder that holds the file. An include that goes up
(router/ using relay/, the ground floor using the router, the queue using the
delivery, ...) is reported as FILE:LINE: message, and the run ends with
"P passed, F failed" (one check per source file) and exit 1 when any failed.
"""
import os
import re
import sys

BASE = ["config", "certs"]
ROUTER_LOW = BASE + ["router/base"]
ROUTER_ALL = ROUTER_LOW + ["router/dns", "router/https", "router/mta_sts", "router"]
RELAY_LOW = ROUTER_ALL + ["relay/message", "relay/core"]
# room -> rooms it may include (besides itself)
ALLOWED = {
    "config": [],
    "certs": ["config"],
    "router/base": BASE,
    "router/dns": ROUTER_LOW,
    "router/https": ROUTER_LOW + ["router/dns"],
    "router/mta_sts": ROUTER_LOW + ["router/dns", "router/https"],
    "router": ROUTER_ALL,
    "relay/message": ROUTER_ALL,
    "relay/core": ROUTER_ALL + ["relay/message"],
    "relay/tenant": RELAY_LOW + ["relay/queue"],
    "relay/queue": RELAY_LOW,
    "relay/notify": RELAY_LOW + ["relay/queue"],
    "relay/smtpd": RELAY_LOW + ["relay/queue", "relay/notify", "relay/tenant"],
    "relay/delivery": RELAY_LOW + ["relay/queue", "relay/notify"],
    "relay/tester": RELAY_LOW + ["relay/queue", "relay/notify", "relay/delivery"],
    "relay/cli": RELAY_LOW + ["relay/queue", "relay/notify", "relay/delivery", "relay/tester", "relay/tenant"],
    "relay/console": RELAY_LOW + ["relay/queue", "relay/notify", "relay/delivery", "relay/tester"],
    "relay": RELAY_LOW + ["relay/queue", "relay/notify", "relay/tenant", "relay/smtpd", "relay/delivery",
                          "relay/tester", "relay/cli", "relay/console"],
}
# Single files with a wider reach than their room, and why.
FILE_EXTRA = {
    # The loader checks route cipher names with the TLS library that will use them.
    "config/config_loader.cc": ["certs"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def room_of(path):
    return os.path.dirname(path)


def check_file(path, root):
    room = room_of(os.path.relpath(path, root))
    if room not in ALLOWED:
        return ["%s:1: folder %s is not in the dependency table of tests/layers/check_layers.py "
                "(add it there and to README.md)" % (path, room)]
    ok = set(ALLOWED[room]) | {room} | set(FILE_EXTRA.get(os.path.relpath(path, root), []))
    problems = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if not m or "/" not in m.group(1):
                continue
            target = room_of(m.group(1))
            if target not in ok:
                problems.append("%s:%d: %s may not include %s (allowed: %s)" %
                                (path, n, room + "/", m.group(1), ", ".join(sorted(ok))))
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    root = os.path.normpath(root)
    passed = failed = 0
    for top in ("config", "certs", "router", "relay"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".cc", ".h")):
                    continue
                problems = check_file(os.path.join(dirpath, name), root)
                for p in problems:
                    print(p)
                if problems:
                    failed += 1
                else:
                    passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
