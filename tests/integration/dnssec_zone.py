"""dnssec_zone.py - a DNSSEC-signed zone made in the test, for DANE and other validation tests.

SignedZone(origin, records) writes the zone (SOA and NS added), makes a KSK and a ZSK with
ldns-keygen (ECDSA P-256), signs it with ldns-signzone (NSEC) and writes the KSK's DS record as
the trust anchor file smarthost's libunbound loads (dns.trust_anchor). Serve `zonefile` with
DnsServer(auth_zones=[(origin, zone.zonefile)]).

Bogus answers: every owner name in `tamper` gets its TLSA/A/MX data changed *after* signing, so
its signature no longer verifies and a validating resolver calls the answer bogus while the rest
of the zone stays secure.

Helpers: spki_sha256(pem) is the "x 1 1" association data of a certificate (SHA-256 of its
SubjectPublicKeyInfo), computed with openssl, independent of smarthost's code.

How it fails: RuntimeError with the tool's stderr when ldns-keygen or ldns-signzone fails.
"""
import os
import re
import shutil
import subprocess
import tempfile


def _run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (args[0], r.stderr.strip()))
    return r.stdout.strip()


def spki_sha256(pem_path, index=0):
    """SHA-256 (hex) of the SubjectPublicKeyInfo of the index-th certificate in a PEM file."""
    with open(pem_path) as f:
        certs = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", f.read(), re.S)
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=certs[index].encode(),
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=der, capture_output=True,
                          check=True).stdout.decode().split()[0]


class SignedZone:
    def __init__(self, origin, records, tamper=()):
        self.origin = origin if origin.endswith(".") else origin + "."
        self.dir = tempfile.mkdtemp(prefix="smarthost-dnssec-")
        zone = os.path.join(self.dir, "zone")
        with open(zone, "w") as f:
            f.write("$ORIGIN %s\n$TTL 300\n" % self.origin)
            f.write("@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 300\n" % (self.origin, self.origin))
            f.write("@ IN NS ns.%s\nns IN A 127.0.0.1\n" % self.origin)
            for rr in records:
                f.write(rr + "\n")
        name = self.origin.rstrip(".")
        ksk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], self.dir)
        zsk = _run(["ldns-keygen", "-a", "ECDSAP256SHA256", name], self.dir)
        _run(["ldns-signzone", "-f", zone + ".signed", zone, ksk, zsk], self.dir)
        self.zonefile = zone + ".signed"
        self.trust_anchor = os.path.join(self.dir, ksk + ".ds")
        self._tamper([t if t.endswith(".") else t + "." for t in tamper])

    def _tamper(self, owners):
        """Changes the data of the owners' TLSA/A records: their RRSIGs stop verifying."""
        if not owners:
            return
        with open(self.zonefile) as f:
            lines = f.read().split("\n")
        for i, line in enumerate(lines):
            f = line.split("\t")
            if len(f) >= 5 and f[0].lower() in owners and f[3] in ("TLSA", "A"):
                if f[3] == "A":
                    f[4] = "127.0.0.2" if f[4] != "127.0.0.2" else "127.0.0.3"
                else:  # flip the last hex digit of the association data
                    d = f[4]
                    f[4] = d[:-1] + ("0" if d[-1] != "0" else "1")
                lines[i] = "\t".join(f)
        with open(self.zonefile, "w") as f:
            f.write("\n".join(lines))

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
