// tls_context_test.cc - certs/tls_context: real handshakes, in process.
//
// A client and a server session talk through two strings with our own wolfSSL
// I/O callbacks, the way relay/ drives them over evbuffers. The certificates
// come from certs/testpki/make-pki.sh, run once into a temporary folder (or
// into $TESTPKI_DIR when set), so the test needs nothing prepared. It must run
// from the top of the source tree, as `make test` does.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "router/mta_sts_enforce.h"
#include "config/config.h"

// Last: CppUTest's leak-detector macros redefine `new`, which breaks standard
// headers included after it.
#include <CppUTest/TestHarness.h>

using certs::TlsFacts;
using certs::TlsFailure;
using certs::TlsProblem;
using certs::Verdict;
using config::TlsVersion;

namespace {

// ---- the test PKI ----------------------------------------------------------

class TestPki {
 public:
  TestPki() {
    const char* env = std::getenv("TESTPKI_DIR");
    if (env != nullptr && *env != '\0') {
      dir_ = env;
    } else {
      char tmpl[] = "/tmp/smarthost-tls-test.XXXXXX";
      if (mkdtemp(tmpl) == nullptr) {
        error_ = "mkdtemp failed";
        return;
      }
      dir_ = tmpl;
      owned_ = true;
    }
    const std::string script = "certs/testpki/make-pki.sh";
    if (access(script.c_str(), X_OK) != 0) {
      error_ = script + " not found: run the tests from the top of the source tree";
      return;
    }
    if (std::system((script + " '" + dir_ + "'").c_str()) != 0) error_ = script + " failed";
  }
  ~TestPki() {
    if (owned_) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  std::string path(const std::string& file) const { return dir_ + "/" + file; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
  bool owned_ = false;
};

const TestPki& pki() {
  static const TestPki instance;
  return instance;
}

// ---- an in-memory wire -----------------------------------------------------

struct End {
  std::string* in;
  std::string* out;
};

int wire_recv(WOLFSSL*, char* buf, int sz, void* ctx) {
  auto* e = static_cast<End*>(ctx);
  if (e->in->empty()) return WOLFSSL_CBIO_ERR_WANT_READ;
  const size_t n = std::min(e->in->size(), static_cast<size_t>(sz));
  std::memcpy(buf, e->in->data(), n);
  e->in->erase(0, n);
  return static_cast<int>(n);
}

int wire_send(WOLFSSL*, char* buf, int sz, void* ctx) {
  static_cast<End*>(ctx)->out->append(buf, static_cast<size_t>(sz));
  return sz;
}

void attach(WOLFSSL* ssl, End* end) {
  wolfSSL_SSLSetIORecv(ssl, wire_recv);
  wolfSSL_SSLSetIOSend(ssl, wire_send);
  wolfSSL_SetIOReadCtx(ssl, end);
  wolfSSL_SetIOWriteCtx(ssl, end);
}

// One side of a handshake in progress.
struct Side {
  Side(WOLFSSL* s, bool client) : ssl(s), is_client(client) {}
  WOLFSSL* ssl;
  bool is_client;
  bool done = false;
  bool failed = false;
  TlsFailure failure;

  bool settled() const { return done || failed; }
  void step() {
    if (settled()) return;
    const int rc = is_client ? wolfSSL_connect(ssl) : wolfSSL_accept(ssl);
    if (rc == WOLFSSL_SUCCESS) {
      done = true;
      return;
    }
    const int err = wolfSSL_get_error(ssl, rc);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return;
    failed = true;
    failure = certs::describe_handshake_failure(ssl, rc);
  }
};

struct Outcome {
  bool ok = false;  // both sides finished
  TlsFacts client, server;
  TlsFailure client_failure, server_failure;
  bool client_failed = false, server_failed = false;
  std::string echoed;  // application data the server read after the handshake
};

// Runs a handshake between fresh sessions on cctx and sctx until both sides
// finish, one fails and the other has read its alert, or nothing moves.
Outcome handshake(WOLFSSL_CTX* cctx, WOLFSSL_CTX* sctx, const std::string& peer_name) {
  Outcome out;
  std::string err;
  certs::SslPtr c = certs::new_session(cctx, peer_name, &err);
  certs::SslPtr s = certs::new_session(sctx, "", &err);
  if (!c || !s) {
    out.client_failure.detail = err;
    return out;
  }
  std::string to_server, to_client;
  End cend{&to_client, &to_server}, send{&to_server, &to_client};
  attach(c.get(), &cend);
  attach(s.get(), &send);
  Side client{c.get(), true}, server{s.get(), false};
  for (int round = 0; round < 100 && !(client.settled() && server.settled()); ++round) {
    const size_t before = to_server.size() + to_client.size();
    client.step();
    server.step();
    if (round > 0 && to_server.size() + to_client.size() == before && to_server.empty() &&
        to_client.empty())
      break;  // both wait for input that will never come
  }
  out.ok = client.done && server.done;
  out.client_failed = client.failed;
  out.server_failed = server.failed;
  out.client_failure = client.failure;
  out.server_failure = server.failure;
  out.client = certs::session_facts(c.get());
  out.server = certs::session_facts(s.get());
  if (out.ok) {
    const char msg[] = "EHLO relay.test.example\r\n";
    wolfSSL_write(c.get(), msg, sizeof msg - 1);
    char buf[64] = {};
    const int n = wolfSSL_read(s.get(), buf, sizeof buf);
    if (n > 0) out.echoed.assign(buf, static_cast<size_t>(n));
  }
  return out;
}

// ---- contexts used by most cases -------------------------------------------

// Seed 001's lists without the static-RSA suites this wolfSSL lacks. Cases use
// these rather than the config defaults, so that a bad default list fails
// DefaultCipherListsAreUsable alone instead of every handshake.
const std::vector<std::string> kOutbound = {"TLS_AES_128_GCM_SHA256",
                                            "TLS_AES_256_GCM_SHA384",
                                            "TLS_CHACHA20_POLY1305_SHA256",
                                            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
                                            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
                                            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                                            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                            "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
                                            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                            "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
                                            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"};
const std::vector<std::string> kInbound = {"TLS_AES_128_GCM_SHA256",
                                           "TLS_AES_256_GCM_SHA384",
                                           "TLS_CHACHA20_POLY1305_SHA256",
                                           "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                           "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                                           "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                           "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                           "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
                                           "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
                                           "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
                                           "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"};

certs::CtxPtr server_ctx(const std::string& name, std::optional<TlsVersion> min = std::nullopt) {
  certs::ServerContextOptions o;
  o.cert_file = pki().path(name + ".pem");
  o.key_file = pki().path(name + ".key");
  o.ciphers = kInbound;
  o.min_version = min;
  std::string err;
  certs::CtxPtr ctx = certs::make_server_context(o, &err);
  CHECK_TEXT(ctx != nullptr, ("server context " + name + ": " + err).c_str());
  return ctx;
}

certs::ClientContextOptions client_options() {
  certs::ClientContextOptions o;
  o.ca_file = pki().path("ca-bundle.pem");
  o.verify_ca = true;
  o.verify_hostname = true;
  o.ciphers = kOutbound;
  return o;
}

certs::CtxPtr client_ctx(const certs::ClientContextOptions& o) {
  std::string err;
  certs::CtxPtr ctx = certs::make_client_context(o, &err);
  CHECK_TEXT(ctx != nullptr, ("client context: " + err).c_str());
  return ctx;
}

// A server that speaks exactly one old version, like a legacy MTA. Built from
// wolfSSL's fixed-version methods: wolfSSL_SetVersion on a v23 session is no
// substitute, as its ServerHello then trips the client's downgrade check.
certs::CtxPtr legacy_server_ctx(WOLFSSL_METHOD* method) {
  certs::CtxPtr ctx(wolfSSL_CTX_new(method));
  CHECK(ctx != nullptr);
  CHECK(wolfSSL_CTX_use_certificate_chain_file(ctx.get(), pki().path("valid.pem").c_str()) ==
        WOLFSSL_SUCCESS);
  CHECK(wolfSSL_CTX_use_PrivateKey_file(ctx.get(), pki().path("valid.key").c_str(),
                                        WOLFSSL_FILETYPE_PEM) == WOLFSSL_SUCCESS);
  std::string err;
  const std::string list = certs::cipher_list_string(kInbound, &err);
  CHECK(wolfSSL_CTX_set_cipher_list(ctx.get(), list.c_str()) == WOLFSSL_SUCCESS);
  return ctx;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* problem_name(TlsProblem p) {
  switch (p) {
    case TlsProblem::NotOffered:
      return "NotOffered";
    case TlsProblem::VersionTooOld:
      return "VersionTooOld";
    case TlsProblem::NoSharedCipher:
      return "NoSharedCipher";
    case TlsProblem::UnknownCa:
      return "UnknownCa";
    case TlsProblem::Expired:
      return "Expired";
    case TlsProblem::NotYetValid:
      return "NotYetValid";
    case TlsProblem::BadCertificate:
      return "BadCertificate";
    case TlsProblem::HostnameMismatch:
      return "HostnameMismatch";
    case TlsProblem::NoCertificate:
      return "NoCertificate";
    case TlsProblem::PeerRejectedUs:
      return "PeerRejectedUs";
    case TlsProblem::ConnectionLost:
      return "ConnectionLost";
    case TlsProblem::HandshakeFailed:
      return "HandshakeFailed";
    case TlsProblem::HostnameOnlyInCn:
      return "HostnameOnlyInCn";
    case TlsProblem::NoTls13Suite:
      return "NoTls13Suite";
    case TlsProblem::DaneMismatch:
      return "DaneMismatch";
    case TlsProblem::DaneRequired:
      return "DaneRequired";
    case TlsProblem::DnssecBogus:
      return "DnssecBogus";
    case TlsProblem::TlsaLookupFailed:
      return "TlsaLookupFailed";
  }
  return "?";
}

}  // namespace

TEST_GROUP(TlsContext){void setup()
                           override{CHECK_TEXT(pki().error().empty(), pki().error().c_str());
}
}
;

// ---- cipher names -------------------------------------------------------------

TEST(TlsContext, CipherNameValidation) {
  struct Case {
    std::vector<std::string> names;
    bool want_ok;
    const char* want_error;  // substring of the error
  } cases[] = {
      {{"TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, true, ""},
      {{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"}, true, ""},
      {{"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"}, true, ""},
      {{}, false, "empty"},
      {{"TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA999"},
       false,
       "TLS_AES_128_GCM_SHA999: unknown"},
      {{"TLS_BOGUS"}, false, "unknown cipher suite"},
      {{"ECDHE-RSA-AES128-GCM-SHA256"}, false, "not an IANA cipher suite name"},
      {{"TLS13-AES128-GCM-SHA256"}, false, "not an IANA"},
      {{"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"}, false, "not an IANA"},
      {{"TLS_DH_anon_WITH_AES_128_CBC_SHA"}, false, "anonymous"},
      {{"TLS_ECDHE_ECDSA_WITH_NULL_SHA"}, false, "does not encrypt"},
      {{"TLS_SHA256_SHA256"}, false, "does not encrypt"},
      {{"TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"}, false, "PSK"},
      {{"TLS_ECDHE_RSA_WITH_RC4_128_SHA"}, false, "RFC 7465"},
      {{"TLS_RSA_WITH_AES_128_GCM_SHA256"}, false, "without static RSA"},
  };
  for (const auto& c : cases) {
    std::string err;
    const bool got = certs::validate_cipher_names(c.names, &err);
    std::string label = c.names.empty() ? "(empty)" : c.names.back();
    std::string msg = label + ": got " + (got ? "ok" : "error '" + err + "'") + ", want " +
                      (c.want_ok ? "ok" : std::string("error with '") + c.want_error + "'");
    CHECK_TEXT(got == c.want_ok, msg.c_str());
    if (!c.want_ok) CHECK_TEXT(contains(err, c.want_error), msg.c_str());
  }
}

TEST(TlsContext, DefaultCipherListsAreUsable) {
  struct Case {
    const char* name;
    const std::vector<std::string>& list;
  } cases[] = {
      {"default_inbound_ciphers", config::default_inbound_ciphers()},
      {"default_outbound_ciphers", config::default_outbound_ciphers()},
  };
  for (const auto& c : cases) {
    std::string err;
    const bool ok = certs::validate_cipher_names(c.list, &err);
    CHECK_TEXT(ok, (std::string(c.name) + ": got error '" + err + "', want ok").c_str());
  }
  // Empty lists in the options mean the defaults, on both ends.
  std::string err;
  certs::CtxPtr sctx =
      certs::make_server_context({pki().path("valid.pem"), pki().path("valid.key"), {}, {}}, &err);
  CHECK_TEXT(sctx != nullptr, err.c_str());
  certs::ClientContextOptions o;
  o.ca_file = pki().path("ca-bundle.pem");
  certs::CtxPtr cctx = certs::make_client_context(o, &err);
  CHECK_TEXT(cctx != nullptr, err.c_str());
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK_TEXT(r.ok, r.client_failure.detail.c_str());
  STRCMP_EQUAL("TLS_AES_128_GCM_SHA256", r.client.cipher.c_str());
}

TEST(TlsContext, CipherListString) {
  std::string err;
  STRCMP_EQUAL("TLS_AES_256_GCM_SHA384:TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
               certs::cipher_list_string(
                   {"TLS_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, &err)
                   .c_str());
  STRCMP_EQUAL("", certs::cipher_list_string({"TLS_NOPE"}, &err).c_str());
  CHECK(contains(err, "TLS_NOPE"));
}

// ---- context building -----------------------------------------------------------

TEST(TlsContext, ContextBuildErrors) {
  const auto good = client_options();
  struct Case {
    const char* label;
    std::function<certs::CtxPtr(std::string*)> build;
    const char* want_error;
  } cases[] = {
      {"server cert missing",
       [](std::string* e) {
         return certs::make_server_context(
             {pki().path("nope.pem"), pki().path("valid.key"), kInbound, {}}, e);
       },
       "nope.pem: No such file"},
      {"server key of another cert",
       [](std::string* e) {
         return certs::make_server_context(
             {pki().path("valid.pem"), pki().path("wronghost.key"), kInbound, {}}, e);
       },
       "does not belong"},
      {"server key is a certificate",
       [](std::string* e) {
         return certs::make_server_context(
             {pki().path("valid.pem"), pki().path("ca.pem"), kInbound, {}}, e);
       },
       "not an unencrypted PEM key"},
      {"server anonymous cipher",
       [](std::string* e) {
         return certs::make_server_context({pki().path("valid.pem"),
                                            pki().path("valid.key"),
                                            {"TLS_DH_anon_WITH_AES_128_CBC_SHA"},
                                            {}},
                                           e);
       },
       "anonymous"},
      {"client ca file missing",
       [good](std::string* e) {
         auto o = good;
         o.ca_file = pki().path("missing-ca.pem");
         return certs::make_client_context(o, e);
       },
       "missing-ca.pem: No such file"},
      {"client ca file not PEM",
       [good](std::string* e) {
         auto o = good;
         o.ca_file = pki().path("valid.key");
         return certs::make_client_context(o, e);
       },
       "no usable PEM certificate"},
      {"client verify_ca without ca",
       [good](std::string* e) {
         auto o = good;
         o.ca_file.clear();
         return certs::make_client_context(o, e);
       },
       "verify_ca needs a CA file"},
      {"client cert without key",
       [good](std::string* e) {
         auto o = good;
         o.client_cert_file = pki().path("client.pem");
         return certs::make_client_context(o, e);
       },
       "both a certificate and a key"},
      {"client cert with wrong key",
       [good](std::string* e) {
         auto o = good;
         o.client_cert_file = pki().path("client.pem");
         o.client_key_file = pki().path("valid.key");
         return certs::make_client_context(o, e);
       },
       "does not belong"},
      {"client min 1.3 without TLS 1.3 suites",
       [good](std::string* e) {
         auto o = good;
         o.min_version = TlsVersion::V1_3;
         o.ciphers = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
         return certs::make_client_context(o, e);
       },
       "needs a TLS 1.3 suite"},
      {"client unknown cipher",
       [good](std::string* e) {
         auto o = good;
         o.ciphers = {"TLS_AES_128_GCM_SHA256", "TLS_AES_512_GCM_SHA256"};
         return certs::make_client_context(o, e);
       },
       "TLS_AES_512_GCM_SHA256: unknown"},
  };
  for (const auto& c : cases) {
    std::string err;
    certs::CtxPtr ctx = c.build(&err);
    std::string msg = std::string(c.label) + ": got " +
                      (ctx ? "a context" : "error '" + err + "'") + ", want error with '" +
                      c.want_error + "'";
    CHECK_TEXT(ctx == nullptr && contains(err, c.want_error), msg.c_str());
  }
}

TEST(TlsContext, ClientCertificateLoads) {
  auto o = client_options();
  o.client_cert_file = pki().path("client.pem");
  o.client_key_file = pki().path("client.key");
  certs::CtxPtr ctx = client_ctx(o);
  certs::CtxPtr server = server_ctx("valid");
  Outcome r = handshake(ctx.get(), server.get(), "mx1.test.example");
  CHECK_TEXT(r.ok, r.client_failure.detail.c_str());
  // We never ask for a client certificate on our own listener.
  CHECK(r.server.verdict == Verdict::Anonymous);
}

// ---- handshakes and verdicts ---------------------------------------------------

TEST(TlsContext, VerdictTable) {
  struct Case {
    const char* cert;       // server certificate from the test PKI
    const char* peer_name;  // what the client checks
    Verdict want_verdict;
    bool want_ca_ok;
    bool want_hostname_ok;
    const char* want_ca_error;  // substring; "" when ca_ok
    bool want_policy_ok;        // check_peer with verify_ca and verify_hostname
    TlsProblem want_problem;    // when !want_policy_ok
  } cases[] = {
      {"valid", "mx1.test.example", Verdict::Verified, true, true, "", true, {}},
      {"valid", "MX2.Test.Example.", Verdict::Verified, true, true, "", true, {}},
      {"valid", "mail.test.example", Verdict::Verified, true, true, "", true, {}},
      {"valid", "a.wild.test.example", Verdict::Verified, true, true, "", true, {}},
      {"valid", "a.b.wild.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"valid", "wild.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"valid", "127.0.0.1", Verdict::Verified, true, true, "", true, {}},
      {"valid", "::1", Verdict::Verified, true, true, "", true, {}},
      {"valid", "[::1]", Verdict::Verified, true, true, "", true, {}},
      {"valid", "127.0.0.2", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"valid", "", Verdict::Trusted, true, false, "", false, TlsProblem::HostnameMismatch},
      {"valid-ec", "mx2.test.example", Verdict::Verified, true, true, "", true, {}},
      {"wronghost", "mx1.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"wronghost", "other.example", Verdict::Verified, true, true, "", true, {}},
      {"untrusted", "mx1.test.example", Verdict::Untrusted, false, true,
       "certificate not signed by a trusted CA", false, TlsProblem::UnknownCa},
      {"expired", "mx1.test.example", Verdict::Untrusted, false, true, "certificate expired", false,
       TlsProblem::Expired},
      {"notyet", "mx1.test.example", Verdict::Untrusted, false, true, "certificate not yet valid",
       false, TlsProblem::NotYetValid},
      // RFC 6125: a wildcard is the whole left-most label and nothing else.
      {"sloppy", "anything.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"sloppy", "foo.partial.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"sloppy", "x.y.mid.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"sloppy", "test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
      {"sloppy", "sloppy.test.example", Verdict::Trusted, true, false, "", false,  // CN ignored
       TlsProblem::HostnameMismatch},
      // RFC 9525: the subject CN is never a name, even without any subjectAltName.
      {"cn-only", "mx1.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameOnlyInCn},
      {"cn-only", "mx2.test.example", Verdict::Trusted, true, false, "", false,
       TlsProblem::HostnameMismatch},
  };
  certs::CtxPtr cctx = client_ctx(client_options());
  for (const auto& c : cases) {
    certs::CtxPtr sctx = server_ctx(c.cert);
    Outcome r = handshake(cctx.get(), sctx.get(), c.peer_name);
    const std::string label = std::string(c.cert) + " as '" + c.peer_name + "'";
    CHECK_TEXT(r.ok, (label + ": handshake failed: " + r.client_failure.reason + " / " +
                      r.client_failure.detail)
                         .c_str());
    const TlsFacts& f = r.client;
    std::string msg =
        label + ": got " + certs::verdict_name(f.verdict) + " ca_ok=" + std::to_string(f.ca_ok) +
        " hostname_ok=" + std::to_string(f.hostname_ok) + " ca_error='" + f.ca_error + "' (" +
        std::to_string(f.ca_error_code) + "), want " + certs::verdict_name(c.want_verdict) +
        " ca_ok=" + std::to_string(c.want_ca_ok) +
        " hostname_ok=" + std::to_string(c.want_hostname_ok) + " ca_error='" + c.want_ca_error +
        "'";
    CHECK_TEXT(f.verdict == c.want_verdict, msg.c_str());
    CHECK_TEXT(f.ca_ok == c.want_ca_ok, msg.c_str());
    CHECK_TEXT(f.hostname_ok == c.want_hostname_ok, msg.c_str());
    CHECK_TEXT(f.ca_error == c.want_ca_error, msg.c_str());
    CHECK_TEXT(f.version == "TLS1_3", (label + ": got version " + f.version).c_str());
    STRCMP_EQUAL("EHLO relay.test.example\r\n", r.echoed.c_str());

    auto failure = certs::check_peer(f, true, true);
    std::string pmsg = label + ": policy got " +
                       (failure ? std::string(problem_name(failure->problem)) : "pass") +
                       ", want " + (c.want_policy_ok ? "pass" : problem_name(c.want_problem));
    CHECK_TEXT(failure.has_value() == !c.want_policy_ok, pmsg.c_str());
    if (failure) {
      CHECK_TEXT(failure->problem == c.want_problem, pmsg.c_str());
      STRCMP_EQUAL("5.7.5", failure->status.c_str());
    }
    // Opportunistic delivery: verification off, every established session passes.
    CHECK_TEXT(!certs::check_peer(f, false, false).has_value(), label.c_str());
  }
}

// The same verdicts when the certificate arrives in a TLS 1.2 handshake, where
// wolfSSL verifies at a different point than in TLS 1.3.
TEST(TlsContext, VerdictsOverTls12) {
  struct Case {
    const char* cert;
    Verdict want;
    const char* want_ca_error;
  } cases[] = {
      {"valid", Verdict::Verified, ""},
      {"wronghost", Verdict::Trusted, ""},
      {"untrusted", Verdict::Untrusted, "certificate not signed by a trusted CA"},
      {"expired", Verdict::Untrusted, "certificate expired"},
  };
  certs::CtxPtr cctx = client_ctx(client_options());
  for (const auto& c : cases) {
    certs::CtxPtr sctx = server_ctx(c.cert);
    CHECK(wolfSSL_CTX_set_max_proto_version(sctx.get(), TLS1_2_VERSION) == WOLFSSL_SUCCESS);
    Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
    std::string msg = std::string(c.cert) + ": got " +
                      (r.ok ? std::string(certs::verdict_name(r.client.verdict)) + " " +
                                  r.client.version + " '" + r.client.ca_error + "'"
                            : "failure " + r.client_failure.detail) +
                      ", want " + certs::verdict_name(c.want) + " TLS1_2 '" + c.want_ca_error + "'";
    CHECK_TEXT(r.ok, msg.c_str());
    CHECK_TEXT(r.client.version == "TLS1_2", msg.c_str());
    CHECK_TEXT(r.client.verdict == c.want, msg.c_str());
    CHECK_TEXT(r.client.ca_error == c.want_ca_error, msg.c_str());
  }
}

TEST(TlsContext, NoTrustAnchorsMeansUntrusted) {
  certs::ClientContextOptions o;  // no CA file, nothing enforced: opportunistic
  o.ciphers = kOutbound;
  certs::CtxPtr cctx = client_ctx(o);
  certs::CtxPtr sctx = server_ctx("valid");
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK(r.ok);
  STRCMP_EQUAL("Untrusted", certs::verdict_name(r.client.verdict));
  STRCMP_EQUAL("certificate not signed by a trusted CA", r.client.ca_error.c_str());
  CHECK(r.client.hostname_ok);
  CHECK(!certs::check_peer(r.client, false, false).has_value());
  auto f = certs::check_peer(r.client, false, true);  // name only: passes
  CHECK(!f.has_value());
  f = certs::check_peer(r.client, true, false);
  CHECK(f.has_value() && f->problem == TlsProblem::UnknownCa);
}

TEST(TlsContext, SessionFactsOfVerifiedSession) {
  certs::CtxPtr cctx = client_ctx(client_options());
  certs::CtxPtr sctx = server_ctx("valid");
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK(r.ok);
  const TlsFacts& f = r.client;
  CHECK(f.established);
  STRCMP_EQUAL("TLS1_3", f.version.c_str());
  STRCMP_EQUAL("TLS_AES_128_GCM_SHA256", f.cipher.c_str());  // first in the outbound list
  LONGS_EQUAL(128, f.bits);
  LONGS_EQUAL(128, f.alg_bits);
  STRCMP_EQUAL("version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128",
               certs::received_clause(f).c_str());
  STRCMP_EQUAL("mx1.test.example", f.peer_name.c_str());

  LONGS_EQUAL(2, f.chain.size());  // leaf + issuing CA, as the server sends it
  const certs::CertSummary& leaf = f.chain[0];
  CHECK_TEXT(contains(leaf.subject, "CN=mx1.test.example"), leaf.subject.c_str());
  CHECK_TEXT(contains(leaf.issuer, "CN=smarthost test issuing CA"), leaf.issuer.c_str());
  const std::vector<std::string> want_san = {"DNS:localhost",
                                             "DNS:mx1.test.example",
                                             "DNS:mx2.test.example",
                                             "DNS:mail.test.example",
                                             "DNS:*.wild.test.example",
                                             "IP:127.0.0.1",
                                             "IP:::1"};
  std::vector<std::string> got_san = leaf.san;  // wolfSSL's order is not the certificate's
  std::sort(got_san.begin(), got_san.end());
  std::vector<std::string> sorted_want = want_san;
  std::sort(sorted_want.begin(), sorted_want.end());
  std::string got_text;
  for (const auto& n : got_san) got_text += n + " ";
  CHECK_TEXT(got_san == sorted_want, ("got SANs " + got_text).c_str());
  CHECK_TEXT(contains(leaf.not_before, "GMT"), leaf.not_before.c_str());
  CHECK_TEXT(contains(leaf.not_after, "GMT"), leaf.not_after.c_str());
  CHECK_TEXT(contains(f.chain[1].subject, "CN=smarthost test issuing CA"),
             f.chain[1].subject.c_str());

  // The TLSA "3 1 1" digest openssl computes for the same certificate.
  const std::string out = pki().path("valid.spki.sha256");
  const std::string cmd = "openssl x509 -in '" + pki().path("valid.pem") +
                          "' -pubkey -noout | openssl pkey -pubin -outform DER | "
                          "sha256sum | cut -d' ' -f1 > '" +
                          out + "'";
  LONGS_EQUAL(0, std::system(cmd.c_str()));
  std::string want = slurp(out);
  std::remove(out.c_str());
  while (!want.empty() && want.back() == '\n') want.pop_back();
  STRCMP_EQUAL(want.c_str(), f.spki_sha256.c_str());

  // The server side sees the same session, and no client certificate.
  STRCMP_EQUAL("TLS1_3", r.server.version.c_str());
  STRCMP_EQUAL(f.cipher.c_str(), r.server.cipher.c_str());
  CHECK(r.server.verdict == Verdict::Anonymous);
}

// What a delivery keeps of the peer's leaf (the console's certificates page and expiry
// warnings): fingerprint and expiry as openssl reads the same file.
TEST(TlsContext, SessionSummaryKeepsTheLeafFingerprintAndExpiry) {
  certs::CtxPtr cctx = client_ctx(client_options());
  certs::CtxPtr sctx = server_ctx("valid");
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK(r.ok);
  const std::string out = pki().path("valid.facts");
  const std::string cmd = "openssl x509 -in '" + pki().path("valid.pem") +
                          "' -noout -fingerprint -sha256 -enddate -dateopt iso_8601 > '" + out + "'";
  LONGS_EQUAL(0, std::system(cmd.c_str()));
  std::string text = slurp(out);
  std::remove(out.c_str());
  // "sha256 Fingerprint=AB:CD:...\nnotAfter=2029-11-27 21:40:00Z\n"
  std::string fp;
  for (char c : text.substr(text.find('=') + 1, 95)) {
    if (c != ':') fp += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string end = text.substr(text.find("notAfter=") + 9, 19);
  struct tm tm {};
  CHECK_TEXT(strptime(end.c_str(), "%Y-%m-%d %H:%M:%S", &tm) != nullptr, text.c_str());
  const int64_t want_end = static_cast<int64_t>(timegm(&tm));

  STRCMP_EQUAL(fp.c_str(), r.client.cert_sha256.c_str());
  LONGS_EQUAL(want_end, r.client.chain[0].not_after_unix);
  certs::TlsSummary s = certs::session_summary(r.client, "no-tlsa");
  STRCMP_EQUAL("TLS1_3", s.version.c_str());
  STRCMP_EQUAL("Verified", s.verdict.c_str());
  STRCMP_EQUAL("no-tlsa", s.dane.c_str());
  STRCMP_EQUAL(fp.c_str(), s.peer_sha256.c_str());
  LONGS_EQUAL(want_end, s.peer_not_after);
  CHECK_TEXT(contains(s.peer_subject, "CN=mx1.test.example"), s.peer_subject.c_str());
  CHECK_TEXT(contains(s.peer_issuer, "CN=smarthost test issuing CA"), s.peer_issuer.c_str());
  // No session: no certificate facts.
  certs::TlsSummary none = certs::session_summary(TlsFacts{}, "");
  CHECK(none.peer_sha256.empty() && none.peer_not_after == 0);
}

TEST(TlsContext, FactsBeforeHandshakeAreEmpty) {
  certs::CtxPtr cctx = client_ctx(client_options());
  std::string err;
  certs::SslPtr s = certs::new_session(cctx.get(), "mx1.test.example", &err);
  CHECK(s != nullptr);
  TlsFacts f = certs::session_facts(s.get());
  CHECK(!f.established);
  CHECK(f.version.empty());
  auto failure = certs::check_peer(f, false, false);
  CHECK(failure.has_value());  // no session: nothing may be sent
  CHECK(!certs::session_facts(nullptr).established);
}

// ---- versions and ciphers ------------------------------------------------------

TEST(TlsContext, VersionTable) {
  enum class Server { Modern, Tls12Only, Tls11Only };
  struct Case {
    const char* label;
    std::optional<TlsVersion> client_min;
    std::vector<std::string> client_ciphers;  // empty: kOutbound
    Server server;
    bool want_ok;
    const char* want_version;
  } cases[] = {
      {"default client, modern server", std::nullopt, {}, Server::Modern, true, "TLS1_3"},
      {"default client, 1.2 server", std::nullopt, {}, Server::Tls12Only, true, "TLS1_2"},
      {"default client, 1.1 server", std::nullopt, {}, Server::Tls11Only, true, "TLS1_1"},
      {"min 1.2, 1.2 server", TlsVersion::V1_2, {}, Server::Tls12Only, true, "TLS1_2"},
      {"min 1.3, modern server", TlsVersion::V1_3, {}, Server::Modern, true, "TLS1_3"},
      // A route listing only TLS 1.2 suites must still reach a TLS 1.3 server.
      {"1.2 suites only, modern server",
       std::nullopt,
       {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
       Server::Modern,
       true,
       "TLS1_2"},
      {"min 1.3, 1.2 server", TlsVersion::V1_3, {}, Server::Tls12Only, false, ""},
      {"min 1.2, 1.1 server", TlsVersion::V1_2, {}, Server::Tls11Only, false, ""},
      {"min 1.3, 1.1 server", TlsVersion::V1_3, {}, Server::Tls11Only, false, ""},
  };
  certs::CtxPtr modern = server_ctx("valid");
  certs::CtxPtr tls12 = legacy_server_ctx(wolfTLSv1_2_server_method());
  certs::CtxPtr tls11 = legacy_server_ctx(wolfTLSv1_1_server_method());
  for (const auto& c : cases) {
    auto o = client_options();
    o.min_version = c.client_min;
    if (!c.client_ciphers.empty()) o.ciphers = c.client_ciphers;
    certs::CtxPtr cctx = client_ctx(o);
    WOLFSSL_CTX* sctx = c.server == Server::Modern      ? modern.get()
                        : c.server == Server::Tls12Only ? tls12.get()
                                                        : tls11.get();
    Outcome r = handshake(cctx.get(), sctx, "mx1.test.example");
    std::string msg = std::string(c.label) + ": got " +
                      (r.ok ? "ok " + r.client.version
                            : "failure '" + r.client_failure.reason + "' (" +
                                  r.client_failure.detail + ") server '" + r.server_failure.reason +
                                  "' (" + r.server_failure.detail + ")") +
                      ", want " + (c.want_ok ? std::string("ok ") + c.want_version : "failure");
    CHECK_TEXT(r.ok == c.want_ok, msg.c_str());
    if (c.want_ok) {
      STRCMP_EQUAL_TEXT(c.want_version, r.client.version.c_str(), msg.c_str());
      CHECK_TEXT(r.client.verdict == Verdict::Verified, msg.c_str());
      continue;
    }
    CHECK_TEXT(r.client_failed && !r.client.established, msg.c_str());
    CHECK_TEXT(r.client_failure.problem == TlsProblem::VersionTooOld, msg.c_str());
    STRCMP_EQUAL_TEXT("TLS version too old", r.client_failure.reason.c_str(), msg.c_str());
    STRCMP_EQUAL_TEXT("5.7.5", r.client_failure.status.c_str(), msg.c_str());
  }
}

TEST(TlsContext, ServerMinimumVersion) {
  certs::CtxPtr sctx = server_ctx("valid", TlsVersion::V1_3);
  certs::ClientContextOptions o = client_options();
  o.ciphers = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};  // a TLS 1.2-only client
  certs::CtxPtr cctx = client_ctx(o);
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK(!r.ok);
  CHECK_TEXT(r.server_failed, "the server should refuse the old client");
  std::string msg =
      "server got '" + r.server_failure.reason + "' (" + r.server_failure.detail + ")";
  CHECK_TEXT(r.server_failure.problem == TlsProblem::VersionTooOld, msg.c_str());
  // Our side knows better: its list had no TLS 1.3 suite (issue 13 item 3).
  CHECK_TEXT(r.client_failure.problem == TlsProblem::NoTls13Suite, msg.c_str());
}

// A route whose cipher list has no TLS 1.3 suite, against a TLS 1.3-only
// server: the diagnosis names the cipher list, and its advice does not say to
// lower min_tls_version. A capped client against a server that is too old
// still hears that the version is too old.
TEST(TlsContext, CipherListWithoutTls13AgainstTls13OnlyServer) {
  certs::CtxPtr tls13 = server_ctx("valid", TlsVersion::V1_3);
  certs::ClientContextOptions o = client_options();
  o.ciphers = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"};
  certs::CtxPtr capped = client_ctx(o);
  Outcome r = handshake(capped.get(), tls13.get(), "mx1.test.example");
  std::string msg = "client got " + std::string(problem_name(r.client_failure.problem)) + " '" +
                    r.client_failure.reason + "' (" + r.client_failure.detail + ")";
  CHECK_TEXT(r.client_failed, msg.c_str());
  CHECK_TEXT(r.client_failure.problem == TlsProblem::NoTls13Suite, msg.c_str());
  CHECK_TEXT(contains(r.client_failure.reason, "cipher list offers nothing the server accepts"),
             msg.c_str());
  CHECK_TEXT(contains(r.client_failure.advice, "TLS_AES_128_GCM_SHA256"), msg.c_str());
  CHECK_TEXT(!contains(r.client_failure.reason, "version too old"), msg.c_str());
  STRCMP_EQUAL("5.7.5", r.client_failure.status.c_str());

  o.min_version = TlsVersion::V1_2;
  o.ciphers.push_back("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");  // one the 1.1 server can pick
  certs::CtxPtr capped_min12 = client_ctx(o);
  certs::CtxPtr tls11 = legacy_server_ctx(wolfTLSv1_1_server_method());
  r = handshake(capped_min12.get(), tls11.get(), "mx1.test.example");
  msg = "vs 1.1 server: client got " + std::string(problem_name(r.client_failure.problem)) + " (" +
        r.client_failure.detail + ")";
  CHECK_TEXT(r.client_failed && r.client_failure.problem == TlsProblem::VersionTooOld, msg.c_str());
}

// RFC 9525 / RFC 8461 4.2: a certificate naming the host only in its subject
// CN fails verify_hostname, in words that say why, for routes and MTA-STS alike.
TEST(TlsContext, CnOnlyCertificateFailsWithItsOwnReason) {
  certs::CtxPtr cctx = client_ctx(client_options());
  certs::CtxPtr sctx = server_ctx("cn-only");
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK_TEXT(r.ok, r.client_failure.detail.c_str());
  CHECK(!r.client.hostname_ok);
  CHECK(r.client.hostname_only_in_cn);
  auto bad = certs::check_peer(r.client, false, true);
  CHECK(bad.has_value());
  CHECK(bad->problem == TlsProblem::HostnameOnlyInCn);
  STRCMP_EQUAL("certificate names the host only in its subject CN, not in a subjectAltName (RFC 9525)",
               bad->reason.c_str());
  CHECK_TEXT(contains(bad->advice, "subjectAltName"), bad->advice.c_str());
  auto sts = router::check_sts_session(r.client);
  CHECK(sts.has_value() && sts->problem == TlsProblem::HostnameOnlyInCn);
  STRCMP_EQUAL("certificate-host-mismatch", router::tlsrpt_result_type(sts->problem));
  // A CN that does not name the host is an ordinary mismatch.
  r = handshake(cctx.get(), sctx.get(), "mx2.test.example");
  CHECK(r.ok && !r.client.hostname_only_in_cn);
  bad = certs::check_peer(r.client, false, true);
  CHECK(bad.has_value() && bad->problem == TlsProblem::HostnameMismatch);
}

// Issue 13 item 8: the listener defaults to TLS 1.2 at least, and prefers its
// own AEAD suites over CBC ones whatever order the client sends.
TEST(TlsContext, InboundDefaults) {
  const auto& list = config::default_inbound_ciphers();
  auto is_cbc = [](const std::string& n) { return contains(n, "_CBC_"); };
  auto first_cbc = std::find_if(list.begin(), list.end(), is_cbc);
  for (auto it = first_cbc; it != list.end(); ++it)
    CHECK_TEXT(is_cbc(*it), ("AEAD suite after a CBC suite: " + *it).c_str());
  CHECK(std::count(list.begin(), list.end(), "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256") == 1);
  CHECK(std::count(list.begin(), list.end(), "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256") == 1);

  std::string err;
  certs::CtxPtr sctx =
      certs::make_server_context({pki().path("valid.pem"), pki().path("valid.key"), {}, {}}, &err);
  CHECK_TEXT(sctx != nullptr, err.c_str());
  certs::ClientContextOptions o = client_options();
  o.ciphers = {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"};
  Outcome r = handshake(client_ctx(o).get(), sctx.get(), "mx1.test.example");
  CHECK_TEXT(r.ok, r.client_failure.detail.c_str());
  STRCMP_EQUAL("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", r.client.cipher.c_str());

  certs::CtxPtr tls11 = client_ctx(client_options());
  CHECK(wolfSSL_CTX_set_max_proto_version(tls11.get(), TLS1_1_VERSION) == WOLFSSL_SUCCESS);
  r = handshake(tls11.get(), sctx.get(), "mx1.test.example");
  CHECK_TEXT(!r.ok, ("a TLS 1.1 client got " + r.client.version).c_str());
  CHECK(r.server_failure.problem == TlsProblem::VersionTooOld);
}

TEST(TlsContext, RouteCipherListIsHonoured) {
  certs::CtxPtr sctx = server_ctx("valid-ec");
  auto o = client_options();
  o.ciphers = {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"};
  certs::CtxPtr cctx = client_ctx(o);
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK_TEXT(r.ok, r.client_failure.detail.c_str());
  STRCMP_EQUAL("TLS1_2", r.client.version.c_str());
  STRCMP_EQUAL("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", r.client.cipher.c_str());
  STRCMP_EQUAL("version=TLS1_2 cipher=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 bits=256/256",
               certs::received_clause(r.client).c_str());
  CHECK(r.client.verdict == Verdict::Verified);
}

TEST(TlsContext, NoSharedCipher) {
  certs::ServerContextOptions so{
      pki().path("valid.pem"), pki().path("valid.key"), {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"}, {}};
  std::string err;
  certs::CtxPtr sctx = certs::make_server_context(so, &err);
  CHECK_TEXT(sctx != nullptr, err.c_str());
  auto o = client_options();
  o.ciphers = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"};
  certs::CtxPtr cctx = client_ctx(o);
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  CHECK(!r.ok);
  std::string msg = "client got '" + r.client_failure.reason + "' (" + r.client_failure.detail +
                    "), server got '" + r.server_failure.reason + "' (" + r.server_failure.detail +
                    ")";
  CHECK_TEXT(r.server_failure.problem == TlsProblem::NoSharedCipher, msg.c_str());
  CHECK_TEXT(r.client_failure.problem == TlsProblem::NoSharedCipher, msg.c_str());
}

// A server that offers only anonymous Diffie-Hellman must never get a session
// with our client, whatever the route's cipher list says.
TEST(TlsContext, AnonymousSuitesNeverNegotiated) {
  // Capped at TLS 1.2: a wolfSSL server negotiates TLS 1.3 with the client's
  // suites even when its own list has none, which would hide the ADH list.
  certs::CtxPtr sctx = server_ctx("valid");
  CHECK(wolfSSL_CTX_allow_anon_cipher(sctx.get()) == WOLFSSL_SUCCESS);
  CHECK(wolfSSL_CTX_set_cipher_list(sctx.get(), "ADH-AES128-SHA:ADH-AES256-GCM-SHA384") ==
        WOLFSSL_SUCCESS);
  CHECK(wolfSSL_CTX_set_max_proto_version(sctx.get(), TLS1_2_VERSION) == WOLFSSL_SUCCESS);
  certs::CtxPtr cctx = client_ctx(client_options());  // seed 001 outbound list
  Outcome r = handshake(cctx.get(), sctx.get(), "mx1.test.example");
  std::string msg = "got " + std::string(r.ok ? "a session with " + r.client.cipher : "failure") +
                    ", want failure";
  CHECK_TEXT(!r.ok, msg.c_str());
  CHECK_TEXT(!r.client.established, msg.c_str());
  CHECK_TEXT(r.client_failure.problem == TlsProblem::NoSharedCipher,
             r.client_failure.detail.c_str());

  auto o = client_options();
  o.ciphers = {"TLS_DH_anon_WITH_AES_128_CBC_SHA"};
  std::string err;
  CHECK(certs::make_client_context(o, &err) == nullptr);
  CHECK_TEXT(contains(err, "anonymous"), err.c_str());
}

// ---- failure descriptions -------------------------------------------------------

TEST(TlsContext, DescribeHandshakeErrors) {
  struct Case {
    int err;
    int alert;
    TlsProblem want;
    const char* want_reason;
  } cases[] = {
      {-313, 70, TlsProblem::VersionTooOld, "TLS version too old"},
      {-326, 0, TlsProblem::VersionTooOld, "TLS version too old"},
      {-313, 40, TlsProblem::NoSharedCipher, "no shared cipher"},
      {-501, 0, TlsProblem::NoSharedCipher, "no shared cipher"},
      {-188, 0, TlsProblem::UnknownCa, "certificate not signed by a trusted CA"},
      {-151, 0, TlsProblem::Expired, "certificate expired"},
      {-150, 0, TlsProblem::NotYetValid, "certificate not yet valid"},
      {-322, 0, TlsProblem::HostnameMismatch, "certificate host name mismatch"},
      {-313, 48, TlsProblem::PeerRejectedUs, "TLS handshake refused by the peer"},
      {-308, 0, TlsProblem::ConnectionLost, "connection lost during TLS handshake"},
      {-397, 0, TlsProblem::ConnectionLost, "connection lost during TLS handshake"},
      {-1234, 0, TlsProblem::HandshakeFailed, "TLS handshake failed"},
  };
  for (const auto& c : cases) {
    TlsFailure f = certs::describe_handshake_error(c.err, c.alert);
    std::string msg = "error " + std::to_string(c.err) + " alert " + std::to_string(c.alert) +
                      ": got " + problem_name(f.problem) + " '" + f.reason + "', want " +
                      problem_name(c.want) + " '" + c.want_reason + "'";
    CHECK_TEXT(f.problem == c.want, msg.c_str());
    STRCMP_EQUAL_TEXT(c.want_reason, f.reason.c_str(), msg.c_str());
    STRCMP_EQUAL_TEXT("5.7.5", f.status.c_str(), msg.c_str());
    CHECK_TEXT(contains(f.detail, std::to_string(c.err)), msg.c_str());
    CHECK_TEXT(!f.advice.empty(), msg.c_str());
  }
  TlsFailure none = certs::tls_failure(TlsProblem::NotOffered);
  STRCMP_EQUAL("TLS unavailable", none.reason.c_str());
  STRCMP_EQUAL("5.7.4", none.status.c_str());
}

TEST(TlsContext, VerifyErrorProblems) {
  struct Case {
    int code;
    TlsProblem want;
  } cases[] = {
      {20, TlsProblem::UnknownCa},     {19, TlsProblem::UnknownCa},
      {2, TlsProblem::UnknownCa},      {10, TlsProblem::Expired},
      {14, TlsProblem::Expired},       {9, TlsProblem::NotYetValid},
      {13, TlsProblem::NotYetValid},   {7, TlsProblem::BadCertificate},
      {1, TlsProblem::BadCertificate},
  };
  for (const auto& c : cases) {
    TlsProblem got = certs::verify_error_problem(c.code);
    std::string msg = "X509 error " + std::to_string(c.code) + ": got " + problem_name(got) +
                      ", want " + problem_name(c.want);
    CHECK_TEXT(got == c.want, msg.c_str());
  }
}
