#!/usr/bin/python3
"""cfgedit.py - set settings in a libconfig file, keeping everything else as written.

SUMMARY: image/cfgedit.py IN OUT PATH=VALUE...

DESCRIPTION
  Used to turn the tree's sample config into the appliance's config, and by the
  image test to point the appliance's routes at the test sink. PATH is a
  dotted setting path through groups ("queue.path", "tls.cert"); VALUE is
  libconfig text put in verbatim ("\"/var/lib/smarthost/queue\"", "[ ]").
  A setting that exists has its value replaced in place (comments and layout
  around it stay); a missing one is added at the end of its group, and a
  missing group is created. PATH=- deletes the setting.

  The scanner knows libconfig's lexical rules that matter here: strings with
  escapes, adjacent string concatenation, # // and /* */ comments, and the
  nesting of ( ), [ ] and { }.

DIAGNOSTICS
  Exit 1 with "cfgedit.py: IN: what" on stderr when the file cannot be read or
  a path crosses a setting that is not a group.
"""
import re
import sys

NAME = re.compile(r"[A-Za-z*][-A-Za-z0-9_*]*")


def skip_blank(text, i, end):
    """Index of the next character that is not white space or comment."""
    while i < end:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#" or text.startswith("//", i):
            nl = text.find("\n", i)
            i = end if nl < 0 or nl > end else nl + 1
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            i = end if close < 0 else close + 2
        else:
            break
    return i


def value_end(text, i, end):
    """Index just past a value starting at i: stops at ; or , at depth 0."""
    depth = 0
    while i < end:
        j = skip_blank(text, i, end)
        if j != i:
            i = j
            continue
        c = text[i]
        if c == '"':
            i += 1
            while i < end and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif c in "([{":
            depth += 1
            i += 1
        elif c in ")]}":
            if depth == 0:
                return i
            depth -= 1
            i += 1
        elif c in ";," and depth == 0:
            return i
        else:
            i += 1
    return i


def settings(text, start, end):
    """List of (name, name_start, value_start, value_end, stmt_end) in text[start:end]."""
    out = []
    i = start
    while True:
        i = skip_blank(text, i, end)
        if i >= end:
            return out
        m = NAME.match(text, i, end)
        if not m:
            raise ValueError("unexpected %r at offset %d" % (text[i:i + 20], i))
        i = skip_blank(text, m.end(), end)
        if i >= end or text[i] not in "=:":
            raise ValueError("setting %s has no = or :" % m.group(0))
        vs = skip_blank(text, i + 1, end)
        ve = value_end(text, vs, end)
        se = ve + 1 if ve < end and text[ve] in ";," else ve
        while ve > vs and text[ve - 1].isspace():
            ve -= 1
        out.append((m.group(0), m.start(), vs, ve, se))
        i = se


def group_body(text, vs, ve):
    """(start, end) inside the braces of a group value, or None when not a group."""
    if ve - vs >= 2 and text[vs] == "{" and text[ve - 1] == "}":
        return vs + 1, ve - 1
    return None


def set_path(text, path, value):
    """Return text with setting `path` (list of names) set to `value` (None: delete)."""
    start, end = 0, len(text)
    for depth, name in enumerate(path):
        found = [s for s in settings(text, start, end) if s[0] == name]
        last = depth == len(path) - 1
        if not found:
            if value is None:
                return text
            rest = path[depth:]
            new = rest[-1] + " = " + value + ";"
            for outer in reversed(rest[:-1]):
                new = outer + " = { " + new + " };"
            pad = "\n" if end == len(text) else " "
            if end == len(text) and text and not text.endswith("\n"):
                new = "\n" + new
            return text[:end] + new + pad + text[end:]
        _n, ns, vs, ve, se = found[0]
        if last:
            if value is None:
                return text[:ns] + text[se:]
            return text[:vs] + value + text[ve:]
        body = group_body(text, vs, ve)
        if body is None:
            raise ValueError("%s is not a group" % ".".join(path[:depth + 1]))
        start, end = body
    return text


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: cfgedit.py IN OUT PATH=VALUE...\n")
        return 2
    src, dst, edits = argv[1], argv[2], argv[3:]
    try:
        with open(src, encoding="utf-8") as f:
            text = f.read()
        for edit in edits:
            path, _eq, value = edit.partition("=")
            text = set_path(text, path.strip().split("."), None if value == "-" else value)
    except (OSError, ValueError) as e:
        sys.stderr.write("cfgedit.py: %s: %s\n" % (src, e))
        return 1
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
