// dkim_signer_test.cc - DKIM signatures checked by an independent verifier: Debian's python3-dkim
// (dkim.verify with the public key handed in through its dnsfunc argument). Keys are made by
// openssl, and the TXT record the verifier sees is built from openssl's public key, not ours.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "relay/message/dkim_signer.h"
#include "relay/notify/tlsrpt_report.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/smarthost-dkim-XXXXXX";
  return mkdtemp(tmpl);
}

std::string run(const std::string& cmd, int* status) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = p ? pclose(p) : -1;
  return out;
}

// The verifier: reads the message, answers the one DNS query from a file holding the TXT record
// made by openssl (RSA: SPKI DER; Ed25519: the raw 32 key bytes), prints the verdict.
const char* kVerifier =
    "import base64, subprocess, sys, dkim\n"
    "msg = open(sys.argv[1], 'rb').read()\n"
    "pub = sys.argv[2]\n"
    "alg = sys.argv[3]\n"
    "der = subprocess.run(['openssl', 'pkey', '-pubin', '-in', pub, '-outform', 'DER'], capture_output=True, check=True).stdout\n"
    "if alg == 'ed25519':\n"
    "    rec = b'v=DKIM1; k=ed25519; p=' + base64.b64encode(der[-32:])\n"
    "else:\n"
    "    rec = b'v=DKIM1; k=rsa; p=' + base64.b64encode(der)\n"
    "def dns(name, timeout=5):\n"
    "    assert name == b'sel._domainkey.example.com.', name\n"
    "    return rec\n"
    "d = dkim.DKIM(msg)\n"
    "try:\n"
    "    ok = d.verify(dnsfunc=dns)\n"
    "except dkim.DKIMException as e:\n"
    "    print('FAILED', e)\n"
    "    sys.exit(0)\n"
    "print('verified' if ok else 'FAILED')\n";

struct Fixture {
  std::string dir;
  Fixture() : dir(temp_dir()) {}
  ~Fixture() {
    std::string cmd = "rm -rf '" + dir + "'";
    if (system(cmd.c_str()) != 0) {
    }
  }
  // Makes a key with openssl; returns the private key path (public key beside it).
  std::string make_key(const std::string& alg) {
    std::string key = dir + "/" + alg + ".key";
    int st = 0;
    std::string gen = alg == "ed25519" ? "openssl genpkey -algorithm ed25519 -out '" + key + "'"
                                       : "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '" + key + "'";
    std::string out = run(gen, &st);
    CHECK_TEXT(st == 0, out.c_str());
    out = run("openssl pkey -in '" + key + "' -pubout -out '" + key + ".pub'", &st);
    CHECK_TEXT(st == 0, out.c_str());
    return key;
  }
  std::string verify(const std::string& message, const std::string& key, const std::string& alg) {
    std::string msg = dir + "/msg.eml", script = dir + "/verify.py";
    std::ofstream(msg, std::ios::binary) << message;
    std::ofstream(script) << kVerifier;
    int st = 0;
    return run("/usr/bin/python3 '" + script + "' '" + msg + "' '" + key + ".pub' " + alg, &st);
  }
};

std::string sample_message() {
  ReportMail m;
  m.from = "postmaster@example.com";
  m.to = "tlsrpt@test.example";
  m.domain = "test.example";
  m.meta = ReportMeta{"Example Corp", "mailto:postmaster@example.com", "example.com", "id-1", 1795392000, 1795478399};
  std::string err;
  m.json_gz = *gzip_compress("{\"organization-name\": \"Example Corp\"}", &err);
  m.now = 1795478400;
  m.seed = "dkimtest";
  return build_report_mail(m);
}

void sign_and_verify(const std::string& alg) {
  Fixture f;
  std::string keyfile = f.make_key(alg);
  std::string err;
  auto key = DkimKey::load(keyfile, &err);
  CHECK_TEXT(key != nullptr, err.c_str());
  CHECK(key->algorithm() == (alg == "ed25519" ? DkimAlgorithm::Ed25519Sha256 : DkimAlgorithm::RsaSha256));
  DkimOptions o;
  o.domain = "example.com";
  o.selector = "sel";
  o.timestamp = 1795478400;
  std::string msg = sample_message();
  auto sig = dkim_signature(msg, *key, o, &err);
  CHECK_TEXT(sig.has_value(), err.c_str());
  CHECK(sig->find(" l=") == std::string::npos);
  CHECK(sig->find("h=from:to:subject:date:message-id:mime-version:content-type:tls-report-domain:tls-report-submitter;") !=
        std::string::npos);
  std::string out = f.verify(*sig + msg, keyfile, alg);
  STRCMP_EQUAL_TEXT("verified\n", out.c_str(), (alg + ": " + out).c_str());

  // A changed signed header and a changed body both fail.
  std::string tampered = *sig + msg;
  tampered.replace(tampered.find("TLS-Report-Domain: test.example"), 31, "TLS-Report-Domain: evil.example");
  out = f.verify(tampered, keyfile, alg);
  CHECK_TEXT(out.compare(0, 6, "FAILED") == 0, (alg + " tampered header: " + out).c_str());
  tampered = *sig + msg;
  tampered.insert(tampered.size() - 4, "x");
  out = f.verify(tampered, keyfile, alg);
  CHECK_TEXT(out.compare(0, 6, "FAILED") == 0, (alg + " tampered body: " + out).c_str());

  // Our own DNS record says the same as openssl's.
  CHECK(key->dns_record().find(alg == "ed25519" ? "k=ed25519; p=" : "k=rsa; p=") != std::string::npos);
}

}  // namespace

TEST_GROUP(Dkim){};

TEST(Dkim, RsaSha256VerifiedByPythonDkim) { sign_and_verify("rsa"); }

TEST(Dkim, Ed25519Sha256VerifiedByPythonDkim) { sign_and_verify("ed25519"); }

TEST(Dkim, RelaxedCanonicalisation) {
  STRCMP_EQUAL("subject:a b c\r\n", dkim_relaxed_header("SubJect  :  a \t b\r\n\t c  \r\n").c_str());
  STRCMP_EQUAL(" a b\r\nc\r\n", dkim_relaxed_body(" a \t b  \r\nc\r\n\r\n\r\n").c_str());
  STRCMP_EQUAL("", dkim_relaxed_body("").c_str());
  STRCMP_EQUAL("", dkim_relaxed_body("\r\n\r\n").c_str());
  STRCMP_EQUAL("x\r\n", dkim_relaxed_body("x").c_str());
}

TEST(Dkim, BadKeys) {
  std::string err;
  CHECK(DkimKey::from_pem("not a key", &err) == nullptr);
  CHECK(DkimKey::load("/nonexistent/key.pem", &err) == nullptr);
  CHECK(err.find("/nonexistent/key.pem") != std::string::npos);
}
