// dane_match_test.cc - certs/dane_match: TLSA records against real certificate chains from the
// test PKI (certs/testpki/make-pki.sh, run into $TESTPKI_DIR or a temporary folder), with the
// association data computed by openssl, not by the code under test. Run from the source tree top.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "certs/dane_match.h"
#include "certs/tls_context.h"
#include "router/dane_lookup.h"
#include "router/dane_policy.h"

#include <CppUTest/TestHarness.h>

using certs::ChainCert;
using certs::DaneRecord;

namespace {

struct Pki {
  Pki() {
    const char* env = std::getenv("TESTPKI_DIR");
    if (env && *env) {
      dir = env;
    } else {
      char tmpl[] = "/tmp/smarthost-dane-test.XXXXXX";
      if (!mkdtemp(tmpl)) return;
      dir = tmpl;
      owned = true;
    }
    ok = std::system(("certs/testpki/make-pki.sh '" + dir + "'").c_str()) == 0;
  }
  ~Pki() {
    if (owned) std::system(("rm -rf '" + dir + "'").c_str());
  }
  std::string dir;
  bool ok = false;
  bool owned = false;
};

const Pki& pki() {
  static const Pki p;
  return p;
}

std::vector<std::string> pem_blocks(const std::string& file) {
  std::ifstream in(pki().dir + "/" + file);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  std::vector<std::string> out;
  const std::string end = "-----END CERTIFICATE-----";
  for (size_t at = all.find("-----BEGIN CERTIFICATE-----"); at != std::string::npos;
       at = all.find("-----BEGIN CERTIFICATE-----", at + 1)) {
    out.push_back(all.substr(at, all.find(end, at) + end.size() - at) + "\n");
  }
  return out;
}

ChainCert cert_of(const std::string& pem) {
  certs::X509Ptr x(wolfSSL_X509_load_certificate_buffer(reinterpret_cast<const unsigned char*>(pem.data()),
                                                         static_cast<int>(pem.size()), WOLFSSL_FILETYPE_PEM));
  return x ? certs::chain_cert_of(x.get()) : ChainCert{};
}

std::vector<ChainCert> chain_of(const std::string& file) {
  std::vector<ChainCert> out;
  for (const auto& b : pem_blocks(file)) out.push_back(cert_of(b));
  return out;
}

// openssl's view of the association data: `what` is "cert" or "spki", `digest` "", "sha256", "sha512".
std::vector<uint8_t> openssl_data(const std::string& pem, const std::string& what, const std::string& digest) {
  char tmpl[] = "/tmp/smarthost-dane-pem.XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return {};
  if (write(fd, pem.data(), pem.size()) != static_cast<ssize_t>(pem.size())) return {};
  close(fd);
  std::string cmd = what == "cert" ? "openssl x509 -in " + std::string(tmpl) + " -outform DER"
                                   : "openssl x509 -in " + std::string(tmpl) + " -noout -pubkey | openssl pkey -pubin -outform DER";
  if (!digest.empty()) cmd += " | openssl dgst -" + digest + " -binary";
  std::vector<uint8_t> out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    int c;
    while ((c = fgetc(p)) != EOF) out.push_back(static_cast<uint8_t>(c));
    pclose(p);
  }
  unlink(tmpl);
  return out;
}

DaneRecord rec(int usage, int selector, int matching, std::vector<uint8_t> data) {
  return DaneRecord{static_cast<uint8_t>(usage), static_cast<uint8_t>(selector), static_cast<uint8_t>(matching),
                    std::move(data)};
}

certs::DaneMatchResult match(const std::vector<DaneRecord>& r, const std::vector<ChainCert>& chain, bool name_ok) {
  return certs::dane_match_chain(r, chain, name_ok,
                                 [&chain](size_t k) { return certs::dane_chain_verifies_to(chain, k); });
}

}  // namespace

TEST_GROUP(DaneMatch){void setup() override{CHECK_TEXT(pki().ok, "make-pki.sh failed");
}
}
;

// DANE-EE: every selector and matching type, computed by openssl; names and dates ignored.
TEST(DaneMatch, DaneEeMatchesEverySelectorAndMatchingType) {
  const auto pems = pem_blocks("valid.pem");
  const auto chain = chain_of("valid.pem");
  LONGS_EQUAL(2, chain.size());
  struct Case { int selector, matching; const char* what; const char* digest; } cases[] = {
      {0, 0, "cert", ""}, {0, 1, "cert", "sha256"}, {0, 2, "cert", "sha512"},
      {1, 0, "spki", ""}, {1, 1, "spki", "sha256"}, {1, 2, "spki", "sha512"}};
  for (const auto& c : cases) {
    auto data = openssl_data(pems[0], c.what, c.digest);
    CHECK(!data.empty());
    auto m = match({rec(3, c.selector, c.matching, data)}, chain, false);
    std::string got = "3 " + std::to_string(c.selector) + " " + std::to_string(c.matching) + ": " + m.why;
    CHECK_TEXT(m.matched, got.c_str());
    LONGS_EQUAL(0, m.record);
  }
}

TEST(DaneMatch, DaneEeIgnoresDates) {
  auto data = openssl_data(pem_blocks("expired.pem")[0], "spki", "sha256");
  CHECK(match({rec(3, 1, 1, data)}, chain_of("expired.pem"), false).matched);
}

TEST(DaneMatch, DaneEeMismatchSaysWhy) {
  auto m = match({rec(3, 1, 1, std::vector<uint8_t>(32, 0))}, chain_of("valid.pem"), true);
  CHECK(!m.matched);
  CHECK(m.why.find("does not match the server's certificate") != std::string::npos);
}

TEST(DaneMatch, SecondRecordMatches) {
  auto data = openssl_data(pem_blocks("valid.pem")[0], "spki", "sha256");
  auto m = match({rec(3, 1, 1, std::vector<uint8_t>(32, 1)), rec(3, 1, 1, data)}, chain_of("valid.pem"), true);
  CHECK(m.matched);
  LONGS_EQUAL(1, m.record);
  LONGS_EQUAL(1, m.notes.size());
}

TEST(DaneMatch, DaneTaNeedsTheName) {
  auto issuer = openssl_data(pem_blocks("valid.pem")[1], "spki", "sha256");
  CHECK(match({rec(2, 1, 1, issuer)}, chain_of("valid.pem"), true).matched);
  auto m = match({rec(2, 1, 1, issuer)}, chain_of("valid.pem"), false);
  CHECK(!m.matched);
  CHECK_TEXT(m.why.find("does not name the host") != std::string::npos, m.why.c_str());
}

TEST(DaneMatch, DaneTaAnyAnchorTheServerSends) {
  // The rogue root is in no CA store, but a TLSA record makes it the anchor.
  auto rogue = openssl_data(pem_blocks("untrusted.pem")[1], "cert", "sha256");
  CHECK(match({rec(2, 0, 1, rogue)}, chain_of("untrusted.pem"), true).matched);
  auto issuer = openssl_data(pem_blocks("valid.pem")[1], "spki", "sha256");
  CHECK(!match({rec(2, 1, 1, issuer)}, chain_of("untrusted.pem"), true).matched);
}

TEST(DaneMatch, DaneTaChainMustVerifyToTheAnchor) {
  // A leaf signed by the rogue CA, sent with the real issuing CA: the anchor matches, the
  // signature does not.
  std::vector<ChainCert> forged = {chain_of("untrusted.pem")[0], chain_of("valid.pem")[1]};
  auto issuer = openssl_data(pem_blocks("valid.pem")[1], "spki", "sha256");
  auto m = match({rec(2, 1, 1, issuer)}, forged, true);
  CHECK(!m.matched);
  CHECK_TEXT(m.why.find("does not verify") != std::string::npos, m.why.c_str());
}

TEST(DaneMatch, DaneTaChecksDates) {
  auto issuer = openssl_data(pem_blocks("expired.pem")[1], "spki", "sha256");
  CHECK(!match({rec(2, 1, 1, issuer)}, chain_of("expired.pem"), true).matched);
}

TEST(DaneMatch, PkixUsagesAreUnusable) {
  auto leaf = openssl_data(pem_blocks("valid.pem")[0], "spki", "sha256");
  CHECK(!certs::dane_usable(rec(0, 1, 1, leaf)));
  CHECK(!certs::dane_usable(rec(1, 1, 1, leaf)));
  CHECK(!certs::dane_usable(rec(3, 2, 1, leaf)));
  CHECK(!certs::dane_usable(rec(3, 1, 3, leaf)));
  CHECK(certs::dane_usable(rec(2, 0, 0, leaf)));
  auto m = match({rec(1, 1, 1, leaf), rec(0, 1, 1, leaf)}, chain_of("valid.pem"), true);
  CHECK(!m.matched);
  CHECK_TEXT(m.why.find("PKIX-EE(1) is not used for SMTP") != std::string::npos, m.why.c_str());
}

TEST(DaneMatch, RecordText) {
  STRCMP_EQUAL("3 1 1 00ff", certs::dane_record_text(rec(3, 1, 1, {0x00, 0xff})).c_str());
}

// ---- router/dane_policy: the TLS level per host --------------------------------------------

namespace {
config::Route dane_route(config::TlsMode m, config::DaneFallback f = config::DaneFallback::Opportunistic) {
  config::Route r;
  r.tls = m;
  r.dane_fallback = f;
  r.verify_ca = r.verify_hostname = true;
  return r;
}
router::DaneHost host_in(router::DaneState s) {
  router::DaneHost h;
  h.state = s;
  h.reason = "why";
  return h;
}
}  // namespace

TEST(DaneMatch, HostLevels) {
  using config::TlsMode;
  using router::DaneState;
  struct Case {
    TlsMode tls;
    config::DaneFallback fallback;
    DaneState state;
    TlsMode want_tls;
    bool want_dane, want_verify, want_refuse, want_temporary, want_single;
  } cases[] = {
      {TlsMode::Dane, config::DaneFallback::Opportunistic, DaneState::Usable, TlsMode::Required, true, false, false, false, false},
      {TlsMode::DaneOnly, config::DaneFallback::Opportunistic, DaneState::Usable, TlsMode::Required, true, false, false, false, true},
      {TlsMode::Dane, config::DaneFallback::Opportunistic, DaneState::Unusable, TlsMode::Required, false, false, false, false, false},
      {TlsMode::DaneOnly, config::DaneFallback::Opportunistic, DaneState::Unusable, TlsMode::DaneOnly, false, true, true, false, true},
      {TlsMode::Dane, config::DaneFallback::Required, DaneState::Unusable, TlsMode::Required, false, true, false, false, true},
      {TlsMode::Dane, config::DaneFallback::Opportunistic, DaneState::NoTlsa, TlsMode::Opportunistic, false, true, false, false, false},
      {TlsMode::Dane, config::DaneFallback::Required, DaneState::Insecure, TlsMode::Required, false, true, false, false, true},
      {TlsMode::DaneOnly, config::DaneFallback::Opportunistic, DaneState::Insecure, TlsMode::DaneOnly, false, true, true, false, true},
      {TlsMode::Dane, config::DaneFallback::Required, DaneState::Bogus, TlsMode::Dane, false, true, true, true, true},
      {TlsMode::Dane, config::DaneFallback::Opportunistic, DaneState::LookupFailed, TlsMode::Dane, false, true, true, true, false},
  };
  for (const auto& c : cases) {
    auto l = router::dane_host_level(dane_route(c.tls, c.fallback), host_in(c.state));
    std::string what = std::string(config::tls_mode_name(c.tls)) + " state " + std::to_string(static_cast<int>(c.state));
    CHECK_TEXT(l.tls == c.want_tls, what.c_str());
    CHECK_TEXT(l.dane_verify == c.want_dane, what.c_str());
    CHECK_TEXT(l.verify_ca == c.want_verify, what.c_str());
    CHECK_TEXT(l.refuse.has_value() == c.want_refuse, what.c_str());
    CHECK_TEXT(l.refuse_temporary == c.want_temporary, what.c_str());
    CHECK_TEXT(router::dane_single_attempt(dane_route(c.tls, c.fallback)) == c.want_single, what.c_str());
  }
}

TEST(DaneMatch, StateFromAnswers) {
  router::DaneHost base;
  base.tlsa_name = "_25._tcp.mx.example";
  router::DnsAnswer a;
  a.status = router::DnsStatus::Ok;
  a.security = router::DnsSecurity::Secure;
  a.tlsa.push_back({3, 1, 1, {1, 2}});
  CHECK(router::dane_state_from(base, a).state == router::DaneState::Usable);
  a.tlsa[0].usage = 1;
  CHECK(router::dane_state_from(base, a).state == router::DaneState::Unusable);
  a.security = router::DnsSecurity::Insecure;
  CHECK(router::dane_state_from(base, a).state == router::DaneState::Insecure);
  a.security = router::DnsSecurity::Bogus;
  a.status = router::DnsStatus::TempFail;
  CHECK(router::dane_state_from(base, a).state == router::DaneState::Bogus);
  a.security = router::DnsSecurity::Insecure;
  CHECK(router::dane_state_from(base, a).state == router::DaneState::LookupFailed);
  a.status = router::DnsStatus::NxDomain;
  a.security = router::DnsSecurity::Secure;
  CHECK(router::dane_state_from(base, a).state == router::DaneState::NoTlsa);
  STRCMP_EQUAL("_25._tcp.mx.example", router::tlsa_name("mx.example.", 25).c_str());
}
