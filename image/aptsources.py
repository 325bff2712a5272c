#!/usr/bin/python3
"""aptsources.py - print the host's Debian 12 (bookworm) apt sources as deb822.

SUMMARY: image/aptsources.py [SUITE]   (default SUITE: bookworm)

DESCRIPTION
  The image is bootstrapped from the same Debian mirror the build machine's
  apt already uses, so no mirror host name is written into the tree. This
  reads /etc/apt/sources.list and /etc/apt/sources.list.d/*.list|*.sources,
  keeps the entries whose suite is SUITE, SUITE-updates or SUITE-security
  (component main), and prints them as deb822 stanzas for mmdebstrap.

DIAGNOSTICS
  Exit 1 with one line on stderr when no entry for SUITE is configured.
"""
import glob
import sys


def one_line_entries(path):
    """Yield (uris, suites, components, signed_by) from a one-line .list file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            words = line.split()[1:]
            signed = ""
            if words and words[0].startswith("["):
                opts = []
                while words:
                    w = words.pop(0)
                    opts.append(w.strip("[]"))
                    if w.endswith("]"):
                        break
                for o in opts:
                    if o.startswith("signed-by="):
                        signed = o.split("=", 1)[1]
            if len(words) >= 3:
                yield [words[0]], [words[1]], words[2:], signed


def deb822_entries(path):
    """Yield (uris, suites, components, signed_by) from a deb822 .sources file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        yield (fields.get("uris", "").split(), fields.get("suites", "").split(),
               fields.get("components", "").split(), fields.get("signed-by", ""))


def main():
    suite = sys.argv[1] if len(sys.argv) > 1 else "bookworm"
    wanted = {suite, suite + "-updates", suite + "-security"}
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    out, seen = [], set()
    for path in files:
        try:
            if path.endswith(".sources"):
                entries = list(deb822_entries(path))
            elif path.endswith(".list"):
                entries = list(one_line_entries(path))
            else:
                continue
        except OSError:
            continue
        for uris, suites, comps, _signed in entries:
            keep = [s for s in suites if s in wanted]
            if not keep or "main" not in comps:
                continue
            for uri in uris:
                for s in keep:
                    if (uri, s) in seen:
                        continue
                    seen.add((uri, s))
                    out.append("Types: deb\nURIs: %s\nSuites: %s\nComponents: main\n"
                               "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
                               % (uri, s))
    if not any(s == suite for _u, s in seen):
        sys.stderr.write("aptsources.py: no apt source for suite %s in /etc/apt\n" % suite)
        return 1
    sys.stdout.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
