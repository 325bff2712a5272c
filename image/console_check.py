"""console_check.py - the appliance's admin console, seen from the host (issue 17 item 6).

SUMMARY: imported by image/boot_test.py after the first boot

DESCRIPTION
  first_password() reads the password the first boot printed on the serial console
  (/usr/lib/smarthost/console-first-password). check() talks HTTPS to the console through
  qemu's port forward (guest port 443): the certificate served is the appliance's own
  (/etc/smarthost/certs/relay.pem, read over SSH), /api/tracking answers 401 without a login
  and with a wrong password, and with HTTP Basic as admin it finds the message the test sent,
  by its queue ID.

DIAGNOSTICS
  Failures raise boot_test.Failure with what was expected and what came.
"""
import base64
import http.client
import json
import re
import ssl
import time
import urllib.parse

bt = None  # the boot_test module (it sets this before calling in here)

PASSWORD_LINE = re.compile(r"smarthost-console: https://\S+ \(port 443\) user admin password (\S+)")
REQUEST_LIMIT = 120  # a TLS handshake and a yescrypt check under software emulation


def first_password(console_text):
    m = PASSWORD_LINE.search(console_text)
    if not m:
        raise bt.Failure("no first-boot console password on the serial console (want a line like "
                         "\"smarthost-console: https://... user admin password ...\")")
    return m.group(1)


def request(port, path, auth=None):
    """(status, body, the server's certificate in DER) of one GET over a fresh connection."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed: compared with the appliance's file instead
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=REQUEST_LIMIT)
    try:
        headers = {}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
        conn.request("GET", path, headers=headers)
        der = conn.sock.getpeercert(binary_form=True)
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace"), der
    finally:
        conn.close()


def check(port, password, cert_pem, queue_id):
    t0 = time.monotonic()
    path = "/api/tracking?q=" + urllib.parse.quote(queue_id)
    status, _, der = request(port, path)
    if der != ssl.PEM_cert_to_DER_cert(cert_pem):
        raise bt.Failure("the console on port 443 serves a certificate other than /etc/smarthost/certs/relay.pem")
    if status != 401:
        raise bt.Failure("GET %s without a login: got %d, want 401" % (path, status))
    status, _, _ = request(port, path, ("admin", password + "-wrong"))
    if status != 401:
        raise bt.Failure("GET %s with a wrong password: got %d, want 401" % (path, status))
    status, body, _ = request(port, path, ("admin", password))
    if status != 200:
        raise bt.Failure("GET %s as admin with the first-boot password: got %d, want 200: %s" % (path, status, body[:500]))
    ids = [m.get("id") for m in json.loads(body).get("messages", [])]
    if queue_id not in ids:
        raise bt.Failure("GET %s: the console's tracking does not find message %s (got %s)" % (path, queue_id, ids))
    bt.log("console on guest port 443: the appliance's certificate, 401 without a login and with a wrong "
           "password, /api/tracking finds %s as admin (%.0fs)" % (queue_id, time.monotonic() - t0))
