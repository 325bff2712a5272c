"""cdp_browser.py - headless Chromium (Debian's `chromium`) driven over the DevTools protocol on
a pipe (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4), so the browser
tests need no WebDriver and no websocket library.

    with Browser() as b:
        b.goto("https://127.0.0.1:8443/")
        b.eval("document.title")
        b.screenshot("/tmp/x/overview.png")

How it fails: every call raises AssertionError with what it waited for when the browser does not
answer in time or answers with an error; stop() ends only the process it started (by PID).
"""
import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    def __init__(self, width=1280, height=800, timeout=30):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="smarthost-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds():
            # Via fds above 4 first: either end may itself be 3 or 4.
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            a, b = os.dup2(a, 100), os.dup2(b, 101)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--ignore-certificate-errors", "--no-first-run", "--disable-extensions", "--disable-sync",
             "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank"],
            # 3 and 4 are kept too: subprocess closes other fds after preexec_fn ran.
            preexec_fn=fds, pass_fds=(to_child_r, from_child_w, 3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._next = 0
        self.events = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = [t for t in targets if t["type"] == "page"][0]
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("chromium did not answer within %ss" % self.timeout)
            r, _, _ = select.select([self._from_child], [], [], left)
            if r:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise AssertionError("chromium closed its DevTools pipe (exit %s)" % self.proc.poll())
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, session=False, **params):
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self._next:
                if "error" in m:
                    raise AssertionError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method, since):
        """Waits for event `method` among those after index `since` of self.events."""
        deadline = time.monotonic() + self.timeout
        while True:
            for m in self.events[since:]:
                if m.get("method") == method:
                    return m
            self.events.append(self._read_message(deadline))

    def goto(self, url):
        since = len(self.events)
        self.call("Page.navigate", session=True, url=url)
        self.wait_event("Page.loadEventFired", since)

    def eval(self, expression):
        r = self.call("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def submit_and_wait(self, expression):
        """Runs `expression` (which submits a form or clicks a link) and waits for the next page."""
        since = len(self.events)
        self.eval(expression)
        self.wait_event("Page.loadEventFired", since)

    def wait_for(self, expression, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.eval(expression):
                return
            time.sleep(0.2)
        raise AssertionError("never true: %s\npage: %s" % (expression, self.text()))

    def text(self):
        return self.eval("document.body ? document.body.innerText : ''") or ""

    def viewport(self, width, height, mobile):
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=mobile)

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.call("Browser.close")
            except AssertionError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
