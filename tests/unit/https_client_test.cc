// https_client_test.cc - router/https/https_client: whole exchanges against a tiny HTTPS server.
//
// The server is a thread with blocking sockets and its own wolfSSL session (nothing shared with
// the client's Conn code), on 127.0.0.1 with the test PKI's `valid` certificate; it answers each
// connection with scripted bytes and then closes or holds the connection open. DNS comes from
// router::StaticDns. Cases cover what the integration tests do not reach: Content-Length, chunked
// and until-EOF bodies, a body over max_body, a truncated body, the overall timeout, a refused
// address followed by a good one, all addresses refused, POST, redirect, cancelling. Must run from
// the top of the source tree (certs/testpki/make-pki.sh), as `make test` does.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "router/base/event_handles.h"
#include "router/dns/dns_static.h"
#include "router/https/https_client.h"

#include <wolfssl/wolfcrypt/ecc.h>

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace router;

namespace {

// The test PKI, made once per run into a temporary folder (or $TESTPKI_DIR when set).
class Pki {
 public:
  Pki() {
    const char* env = std::getenv("TESTPKI_DIR");
    if (env != nullptr && *env != '\0') {
      dir_ = env;
    } else {
      char tmpl[] = "/tmp/smarthost-https-test.XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return;
      dir_ = tmpl;
      owned_ = true;
    }
    if (std::system(("certs/testpki/make-pki.sh '" + dir_ + "'").c_str()) != 0) error_ = true;
  }
  ~Pki() {
    if (owned_) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  std::string dir() const { return error_ ? "" : dir_; }

 private:
  std::string dir_;
  bool owned_ = false;
  bool error_ = false;
};

std::string pki_dir() {
  static const Pki pki;
  return pki.dir();
}

// What the server does with one connection after the handshake.
struct Script {
  std::string response;  // sent once the request (headers + Content-Length body) is in
  bool hold = false;     // keep the connection open until the client goes away
};

// One listening socket on 127.0.0.1 and a thread serving `scripts`, one connection each.
class TinyHttps {
 public:
  explicit TinyHttps(std::vector<Script> scripts) : scripts_(std::move(scripts)) {
    std::string err;
    certs::ServerContextOptions o;
    o.cert_file = pki_dir() + "/valid.pem";
    o.key_file = pki_dir() + "/valid.key";
    ctx_ = certs::make_server_context(o, &err);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0 || ::listen(fd_, 8) != 0) return;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~TinyHttps() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  bool ready() const { return ctx_ != nullptr && port_ != 0; }
  // Requests as received (after the thread is done: call stop() first).
  const std::vector<std::string>& requests() {
    stop();
    return requests_;
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  bool wait_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    while (!stop_) {
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  void serve() {
    for (const Script& s : scripts_) {
      if (!wait_readable(fd_)) break;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) break;
      one(c, s);
      ::close(c);
    }
    wc_ecc_fp_free();  // wolfSSL's per-thread ECC cache (FP_ECC) dies with the thread otherwise
  }

  void one(int c, const Script& s) {
    certs::SslPtr ssl(wolfSSL_new(ctx_.get()));
    wolfSSL_set_fd(ssl.get(), c);
    if (wolfSSL_accept(ssl.get()) != WOLFSSL_SUCCESS) return;
    std::string req;
    char buf[4096];
    while (!complete(req)) {
      int n = wolfSSL_read(ssl.get(), buf, sizeof buf);
      if (n <= 0) return;
      req.append(buf, static_cast<size_t>(n));
    }
    requests_.push_back(req);
    if (!s.response.empty()) wolfSSL_write(ssl.get(), s.response.data(), static_cast<int>(s.response.size()));
    if (s.hold) {
      while (wait_readable(c) && wolfSSL_read(ssl.get(), buf, sizeof buf) > 0) {
      }
      return;
    }
    wolfSSL_shutdown(ssl.get());
  }

  static bool complete(const std::string& req) {
    size_t end = req.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t cl = req.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return true;
    return req.size() >= end + 4 + std::stoul(req.substr(cl + 16));
  }

  std::vector<Script> scripts_;
  certs::CtxPtr ctx_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::string> requests_;
};

const char kHost[] = "mx1.test.example";  // named by the `valid` certificate

std::string ok_response(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

}  // namespace

TEST_GROUP(HttpsClient) {
  base::EventBasePtr base;
  std::unique_ptr<StaticDns> dns;
  certs::CtxPtr ctx;

  void setup() override {
    CHECK_TEXT(!pki_dir().empty(), "certs/testpki/make-pki.sh failed");
    base.reset(event_base_new());
    dns = std::make_unique<StaticDns>(base.get());
    dns->add_a(kHost, {"127.0.0.1"});
    std::string err;
    ctx = make_https_context(pki_dir() + "/ca-bundle.pem", &err);
    CHECK_TEXT(ctx != nullptr, err.c_str());
  }
  void teardown() override {
    dns.reset();
    base.reset();
  }

  HttpsRequest request(int port) {
    HttpsRequest r;
    r.host = kHost;
    r.port = port;
    r.path = "/.well-known/mta-sts.txt";
    r.timeout = 10;
    return r;
  }

  // Runs one fetch to its end; done must come from the loop, never inside start().
  HttpsResponse run(HttpsRequest req) {
    std::optional<HttpsResponse> got;
    auto fetch = HttpsFetch::start(base.get(), *dns, ctx.get(), std::move(req),
                                   [&](HttpsResponse r) { got = std::move(r); });
    CHECK_FALSE(got.has_value());
    while (!got) event_base_loop(base.get(), EVLOOP_ONCE);
    fetch.reset();
    return *got;
  }
};

TEST(HttpsClient, BodyShapes) {
  struct Case {
    const char* label;
    std::string response;
    HttpsError want_error;
    const char* want_body;
    const char* want_reason;  // substring
  } cases[] = {
      {"content-length", ok_response("version: STSv1\r\n") + "trailing junk", HttpsError::None,
       "version: STSv1\r\n", ""},
      {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n",
       HttpsError::None, "hello, world", ""},
      {"until EOF", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno length here", HttpsError::None,
       "no length here", ""},
      {"truncated", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", HttpsError::Protocol, "",
       "ended before the whole body"},
      {"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", HttpsError::Protocol, "",
       "bad chunk size"},
      {"too large", ok_response(std::string(300, 'x')), HttpsError::TooLarge, "", "larger than 200 bytes"},
      {"too large chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n12c\r\n" +
                                std::string(300, 'x') + "\r\n0\r\n\r\n",
       HttpsError::TooLarge, "", "larger than 200 bytes"},
      {"redirect", "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/\r\nContent-Length: 0\r\n\r\n",
       HttpsError::Redirect, "", "HTTP 302 redirect to https://elsewhere.example/ refused"},
      {"status", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", HttpsError::HttpStatus, "",
       "HTTP status 404"},
      {"not http", "SSH-2.0-OpenSSH\r\n\r\n", HttpsError::Protocol, "", "not an HTTP/1.x response"},
  };
  for (const auto& c : cases) {
    TinyHttps server({{c.response}});
    CHECK(server.ready());
    HttpsRequest req = request(server.port());
    req.max_body = 200;
    HttpsResponse r = run(req);
    std::string msg = std::string(c.label) + ": got " + https_error_name(r.error) + " '" + r.reason +
                      "' body '" + r.body + "', want " + https_error_name(c.want_error) + " '" +
                      c.want_reason + "'";
    CHECK_TEXT(r.error == c.want_error, msg.c_str());
    CHECK_TEXT(r.reason.find(c.want_reason) != std::string::npos, msg.c_str());
    if (c.want_error == HttpsError::None) {
      STRCMP_EQUAL_TEXT(c.want_body, r.body.c_str(), msg.c_str());
      LONGS_EQUAL_TEXT(200, r.status, msg.c_str());
    }
    std::string peer = std::string(kHost) + "[127.0.0.1]:" + std::to_string(server.port());
    STRCMP_EQUAL_TEXT(peer.c_str(), r.peer.c_str(), msg.c_str());
  }
}

TEST(HttpsClient, GetRequestText) {
  TinyHttps server({{ok_response("x")}});
  HttpsResponse r = run(request(server.port()));
  CHECK_TEXT(r.error == HttpsError::None, r.reason.c_str());
  STRCMP_EQUAL("text/plain", r.content_type.c_str());
  const auto& reqs = server.requests();
  LONGS_EQUAL(1, reqs.size());
  std::string want = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mx1.test.example:" +
                     std::to_string(server.port()) +
                     "\r\nUser-Agent: smarthost\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  STRCMP_EQUAL(want.c_str(), reqs[0].c_str());
}

TEST(HttpsClient, PostSendsTheBody) {
  TinyHttps server({{"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"}});
  HttpsRequest req = request(server.port());
  req.method = "POST";
  req.path = "/tlsrpt";
  req.content_type = "application/tlsrpt+gzip";
  req.body = std::string("\x1f\x8b\0binary", 9);
  HttpsResponse r = run(req);
  CHECK_TEXT(r.error == HttpsError::None, r.reason.c_str());
  LONGS_EQUAL(201, r.status);
  const auto& reqs = server.requests();
  LONGS_EQUAL(1, reqs.size());
  const std::string& got = reqs[0];
  CHECK_TEXT(got.rfind("POST /tlsrpt HTTP/1.1\r\n", 0) == 0, got.c_str());
  CHECK_TEXT(got.find("\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Length: 9\r\n") != std::string::npos,
             got.c_str());
  CHECK(got.size() >= 9 && got.compare(got.size() - 9, 9, req.body) == 0);
}

TEST(HttpsClient, TimeoutBoundsTheWholeExchange) {
  TinyHttps server({{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true}});
  HttpsRequest req = request(server.port());
  req.timeout = 1;
  HttpsResponse r = run(req);
  std::string msg = std::string("got ") + https_error_name(r.error) + " '" + r.reason + "'";
  CHECK_TEXT(r.error == HttpsError::Timeout, msg.c_str());
  std::string want = "no complete answer from mx1.test.example[127.0.0.1]:" + std::to_string(server.port()) +
                     " within 1s";
  STRCMP_EQUAL(want.c_str(), r.reason.c_str());
}

TEST(HttpsClient, RefusedAddressThenTheNextOne) {
  TinyHttps server({{ok_response("second")}});
  // 127.0.0.2 is loopback too, but nothing listens there on this port.
  dns->add_a("two.test.example", {"127.0.0.2", "127.0.0.1"});
  HttpsRequest req = request(server.port());
  req.host = "two.test.example";
  // The certificate does not name two.test.example: the connect order is what is tested here,
  // so the failure must come from the second address, after the first was refused.
  HttpsResponse r = run(req);
  std::string msg = std::string("got ") + https_error_name(r.error) + " '" + r.reason + "'";
  CHECK_TEXT(r.error == HttpsError::Tls || r.error == HttpsError::Certificate, msg.c_str());
  std::string peer = "two.test.example[127.0.0.1]:" + std::to_string(server.port());
  STRCMP_EQUAL_TEXT(peer.c_str(), r.peer.c_str(), msg.c_str());
  CHECK_TEXT(r.tls_failure.has_value(), msg.c_str());
  CHECK_TEXT(r.tls_failure->problem == certs::TlsProblem::HostnameMismatch, msg.c_str());
}

TEST(HttpsClient, RefusedAddressThenTheNextOneSucceeds) {
  TinyHttps server({{ok_response("second")}});
  dns->add_a(kHost, {"127.0.0.2", "127.0.0.1"});
  HttpsResponse r = run(request(server.port()));
  CHECK_TEXT(r.error == HttpsError::None, r.reason.c_str());
  STRCMP_EQUAL("second", r.body.c_str());
}

TEST(HttpsClient, EveryAddressRefused) {
  TinyHttps server({});
  dns->add_a(kHost, {"127.0.0.2", "127.0.0.3"});
  HttpsResponse r = run(request(server.port()));
  std::string p = std::to_string(server.port());
  std::string want = "cannot connect: mx1.test.example[127.0.0.2]:" + p +
                     ": Connection refused; mx1.test.example[127.0.0.3]:" + p + ": Connection refused";
  CHECK_TEXT(r.error == HttpsError::Connect, r.reason.c_str());
  STRCMP_EQUAL(want.c_str(), r.reason.c_str());
}

TEST(HttpsClient, NoAddress) {
  HttpsRequest req = request(443);
  req.host = "missing.test.example";
  HttpsResponse r = run(req);
  CHECK_TEXT(r.error == HttpsError::Dns, r.reason.c_str());
  CHECK_TEXT(r.reason.rfind("missing.test.example has no address (", 0) == 0, r.reason.c_str());
}

TEST(HttpsClient, UntrustedCertificate) {
  // A server with the rogue CA's certificate: the handshake (or the check after it) fails.
  TinyHttps server({{ok_response("x")}});
  std::string err;
  certs::ClientContextOptions o;
  o.ca_file = pki_dir() + "/rogue-ca.pem";
  o.verify_ca = true;
  o.verify_hostname = true;
  ctx = certs::make_client_context(o, &err);
  CHECK_TEXT(ctx != nullptr, err.c_str());
  HttpsResponse r = run(request(server.port()));
  std::string msg = std::string("got ") + https_error_name(r.error) + " '" + r.reason + "'";
  CHECK_TEXT(r.error == HttpsError::Tls || r.error == HttpsError::Certificate, msg.c_str());
  CHECK_TEXT(r.tls_failure.has_value() && r.tls_failure->problem == certs::TlsProblem::UnknownCa, msg.c_str());
  CHECK_TEXT(r.reason.find("certificate not signed by a trusted CA") == 0, msg.c_str());
}

TEST(HttpsClient, DestroyingTheFetchCancels) {
  TinyHttps server({{ok_response("x"), true}});
  bool called = false;
  auto fetch = HttpsFetch::start(base.get(), *dns, ctx.get(), request(server.port()),
                                 [&](HttpsResponse) { called = true; });
  // Let it get as far as the handshake, then give up.
  for (int i = 0; i < 20; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  fetch.reset();
  for (int i = 0; i < 20; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  CHECK_FALSE(called);
}

TEST(HttpsClient, DoneMayDestroyTheFetch) {
  TinyHttps server({{ok_response("x")}});
  std::unique_ptr<HttpsFetch> fetch;
  int calls = 0;
  fetch = HttpsFetch::start(base.get(), *dns, ctx.get(), request(server.port()), [&](HttpsResponse r) {
    ++calls;
    CHECK_TEXT(r.error == HttpsError::None, r.reason.c_str());
    fetch.reset();
  });
  while (fetch) event_base_loop(base.get(), EVLOOP_ONCE);
  for (int i = 0; i < 5; ++i) event_base_loop(base.get(), EVLOOP_NONBLOCK);
  LONGS_EQUAL(1, calls);
}
