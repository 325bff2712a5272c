"""test_console_browser.py - the admin console in a real browser (headless Chromium, issue 17):
log in by the form, open every page at 1280x800 and at a phone's size, search a message on the
tracking page, press "Test TLS connection" on the routes page, preview a policy's impact; each
step saves a screenshot under the test's temp folder (kept when $SMARTHOST_KEEP_SCREENSHOTS is
set) and asserts on the page's text."""
import os
import shutil
import tempfile
import unittest

from cdp_browser import Browser
from console_fixture import PASSWORD, ConsoleWorld


class ConsoleBrowserTest(ConsoleWorld):
    def setUp(self):
        self.shots = tempfile.mkdtemp(prefix="smarthost-console-shots-")
        self.browser = Browser()
        self.url = "https://127.0.0.1:%d" % self.admin_port

    def tearDown(self):
        self.browser.stop()
        if os.environ.get("SMARTHOST_KEEP_SCREENSHOTS"):
            print("screenshots in", self.shots)
        else:
            shutil.rmtree(self.shots, ignore_errors=True)

    def shot(self, name):
        path = self.browser.screenshot(os.path.join(self.shots, name + ".png"))
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        return path

    def log_in(self):
        b = self.browser
        b.goto(self.url + "/")
        self.assertIn("smarthost console", b.text())
        self.shot("login")
        b.submit_and_wait("document.getElementById('user').value = 'admin';"
                          "document.getElementById('password').value = %r;"
                          "document.getElementById('login').click()" % PASSWORD)
        self.assertIn("Overview", b.text())

    def test_log_in_and_open_every_page_on_a_desktop_and_a_phone(self):
        self.send("grace@good.test.example", "<browser.sent@client.example>")
        self.send("perm@good.test.example", "<browser.bounce@client.example>")
        self.wait_tracking("browser.sent@client.example", "sent")
        self.wait_tracking("browser.bounce@client.example", "bounced")
        self.log_in()
        b = self.browser
        pages = {"/": ["Remote certificate expiry", "Queue", "Deliveries in the last 24 hours", "partners",
                       "No such user here"],
                 "/tracking": ["Queue ID, Message-ID, sender or recipient"],
                 "/routes": ["partners", "Test TLS connection", "Preview impact", "TLS required"],
                 "/tls": ["good.test.example", "no-policy-found", "Successful sessions"],
                 "/certificates": ["relay.test.example", "Remote certificates seen", "mail.test.example",
                                   "mx1.test.example"]}
        for size, (w, h, mobile) in {"desktop": (1280, 800, False), "phone": (390, 844, True)}.items():
            b.viewport(w, h, mobile)
            for path, words in pages.items():
                with self.subTest(size=size, page=path):
                    b.goto(self.url + path)
                    text = b.text()
                    for word in words:
                        self.assertIn(word, text)
                    self.shot("%s-%s" % (size, path.strip("/") or "overview"))
                    # Usable: nothing wider than the screen but the tables' own scroll boxes.
                    self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), w + 1)
        b.goto(self.url + "/")
        self.assertTrue(b.eval("document.querySelector('svg[aria-label]') !== null"), "the per-route chart")
        self.assertIn("bounced (5.1.1)", b.text())

    def test_search_a_message_and_see_its_timeline(self):
        self.send("heidi@good.test.example", "<browser.track@client.example>")
        self.wait_tracking("browser.track@client.example", "sent")
        self.log_in()
        b = self.browser
        b.goto(self.url + "/tracking")
        b.submit_and_wait("document.getElementById('q').value = '<browser.track@client.example>';"
                          "document.getElementById('search').click()")
        text = b.text()
        self.shot("tracking")
        self.assertIn("heidi@good.test.example", text)
        self.assertIn("TLS1_3", text)
        self.assertIn("Verified", text)
        self.assertIn("accepted", text)
        self.assertIn("mail.test.example", text)

    def test_press_test_tls_connection(self):
        self.log_in()
        b = self.browser
        b.goto(self.url + "/routes")
        b.eval("const f = document.querySelector('section[data-route=\"partners\"] form');"
               "f.domain.value = 'good.test.example'; f.querySelector('button').click(); true")
        b.wait_for("document.querySelector('section[data-route=\"partners\"] .result').textContent.includes('mail.test.example')")
        text = b.eval("document.querySelector('section[data-route=\"partners\"] .result').textContent")
        self.shot("route-test")
        self.assertIn("would", text)
        self.assertIn("TLS1_3", text)
        self.assertIn("Verified", text)
        self.assertNotIn("Error", text)

    def test_policy_impact_preview_on_the_routes_page(self):
        self.send("ivan@bad.test.example", "<browser.preview@client.example>")
        self.wait_tracking("browser.preview@client.example", "sent")
        self.log_in()
        b = self.browser
        b.goto(self.url + "/routes")
        b.eval("const f = document.querySelector('form.preview[data-route=\"partners\"]');"
               "f.setting.value = 'verify_hostname'; f.querySelector('button').click(); true")
        b.wait_for("document.querySelector('section[data-route=\"partners\"] .impact').textContent.length > 0")
        text = b.eval("document.querySelector('section[data-route=\"partners\"] .impact').textContent")
        self.shot("preview")
        self.assertIn("mx1.test.example", text)
        self.assertNotIn("mail.test.example", text.split(":")[-1])


if __name__ == "__main__":
    unittest.main()
