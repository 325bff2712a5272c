// mta_sts_fetch.cc - HTTPS GET/POST over wolfSSL on a non-blocking socket (see the header).
//
// States: Resolve -> Connect (per address) -> Handshake -> Send -> Receive. Each wait is one
// event on the socket; wolfSSL uses its own socket I/O, which returns WANT_READ / WANT_WRITE on a
// non-blocking descriptor. Teardown order: session, event, descriptor.
#include "router/https/https_client.h"
#include "router/base/event_handles.h"
#include "router/base/sockaddr.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wolfssl/error-ssl.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <vector>

namespace router {
namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;

// A socket descriptor, closed once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Decodes a chunked body. False with *why when malformed; *done false when more is needed.
bool dechunk(const std::string& in, std::string* out, bool* done, std::string* why) {
  out->clear();
  *done = false;
  size_t pos = 0;
  for (;;) {
    size_t eol = in.find("\r\n", pos);
    if (eol == std::string::npos) return true;
    std::string size_text = in.substr(pos, eol - pos);
    size_text = size_text.substr(0, size_text.find(';'));
    if (size_text.empty() || size_text.size() > 8 ||
        size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      *why = "bad chunk size '" + size_text + "'";
      return false;
    }
    size_t n = std::stoul(size_text, nullptr, 16);
    if (n == 0) {
      *done = true;  // trailers are ignored
      return true;
    }
    if (in.size() < eol + 2 + n + 2) return true;
    out->append(in, eol + 2, n);
    pos = eol + 2 + n + 2;
  }
}

}  // namespace

const char* https_error_name(HttpsError e) {
  switch (e) {
    case HttpsError::None: return "none";
    case HttpsError::Dns: return "dns";
    case HttpsError::Connect: return "connect";
    case HttpsError::Tls: return "tls";
    case HttpsError::Certificate: return "certificate";
    case HttpsError::Redirect: return "redirect";
    case HttpsError::HttpStatus: return "http-status";
    case HttpsError::TooLarge: return "too-large";
    case HttpsError::Timeout: return "timeout";
    case HttpsError::Protocol: return "protocol";
  }
  return "?";
}

bool parse_http_response(const std::string& raw, bool at_eof, HttpsResponse* out, bool* complete,
                         std::string* why) {
  *complete = false;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (at_eof) *why = "the connection ended inside the HTTP header";
    return !at_eof;
  }
  size_t eol = raw.find("\r\n");
  std::string status_line = raw.substr(0, eol);
  if (status_line.compare(0, 7, "HTTP/1.") != 0 || status_line.size() < 12 ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) || status_line[8] != ' ') {
    *why = "not an HTTP/1.x response: '" + status_line.substr(0, 60) + "'";
    return false;
  }
  out->status = std::atoi(status_line.substr(9, 3).c_str());
  long long length = -1;
  bool chunked = false;
  size_t pos = eol + 2;
  while (pos < end) {
    size_t next = raw.find("\r\n", pos);
    std::string line = raw.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    if (name == "content-type") out->content_type = lower(value);
    if (name == "location") out->location = value;
    if (name == "transfer-encoding") chunked = lower(value).find("chunked") != std::string::npos;
    if (name == "content-length") {
      if (value.empty() || value.size() > 12 || value.find_first_not_of("0123456789") != std::string::npos) {
        *why = "bad Content-Length '" + value + "'";
        return false;
      }
      length = std::stoll(value);
    }
  }
  const std::string body = raw.substr(end + 4);
  if (chunked) {
    if (!dechunk(body, &out->body, complete, why)) return false;
  } else if (length >= 0) {
    *complete = body.size() >= static_cast<size_t>(length);
    out->body = body.substr(0, static_cast<size_t>(length));
  } else {
    out->body = body;
    *complete = at_eof;
  }
  if (at_eof && !*complete) {
    *why = "the connection ended before the whole body arrived";
    return false;
  }
  return true;
}

class HttpsFetch::Impl {
 public:
  Impl(event_base* base, DnsService& dns, WOLFSSL_CTX* ctx, HttpsRequest req, Done done)
      : base_(base), dns_(dns), ctx_(ctx), req_(std::move(req)), done_(std::move(done)) {}

  void start() {
    timer_.reset(evtimer_new(base_, &Impl::on_timer, this));
    timeval tv{static_cast<time_t>(req_.timeout), 0};
    evtimer_add(timer_.get(), &tv);
    pending_ = 2;
    // Callbacks always come from the loop, never from inside lookup().
    aaaa_ = dns_.lookup(req_.host, DnsType::AAAA, [this](DnsAnswer a) { resolved(std::move(a)); });
    a_ = dns_.lookup(req_.host, DnsType::A, [this](DnsAnswer a) { resolved(std::move(a)); });
  }

 private:
  enum class State { Resolve, Connect, Handshake, Send, Receive, Done };

  void resolved(DnsAnswer a) {
    if (a.status == DnsStatus::Ok) {
      auto& into = a.type == DnsType::AAAA ? v6_ : v4_;
      into = a.addresses;
    } else {
      dns_notes_ += (dns_notes_.empty() ? "" : "; ") + std::string(dns_type_name(a.type)) + " " +
                    (a.reason.empty() ? dns_status_name(a.status) : a.reason);
    }
    if (--pending_ > 0) return;
    addresses_ = v6_;
    addresses_.insert(addresses_.end(), v4_.begin(), v4_.end());
    if (addresses_.empty()) {
      return finish(HttpsError::Dns, req_.host + " has no address (" + dns_notes_ + ")");
    }
    next_ = 0;
    connect_next();
  }

  std::string peer() const { return req_.host + "[" + address_ + "]:" + std::to_string(req_.port); }

  void connect_next() {
    ssl_.reset();
    io_.reset();
    fd_.reset();
    while (next_ < addresses_.size()) {
      address_ = addresses_[next_++];
      base::SockAddr sa;
      if (!base::to_sockaddr(address_, req_.port, &sa)) continue;
      fd_ = Fd(::socket(sa.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (fd_.get() < 0) {
        connect_errors_ += peer() + ": " + strerror(errno) + "; ";
        continue;
      }
      int r = ::connect(fd_.get(), sa.get(), sa.len);
      if (r == 0 || errno == EINPROGRESS) {
        state_ = State::Connect;
        return wait(EV_WRITE);
      }
      connect_errors_ += peer() + ": " + strerror(errno) + "; ";
      fd_.reset();
    }
    if (connect_errors_.size() >= 2) connect_errors_.resize(connect_errors_.size() - 2);
    finish(HttpsError::Connect, "cannot connect: " + connect_errors_);
  }

  void wait(short what) {
    io_.reset(event_new(base_, fd_.get(), what, &Impl::on_io, this));
    event_add(io_.get(), nullptr);
  }

  static void on_io(evutil_socket_t, short, void* self) { static_cast<Impl*>(self)->step(); }

  static void on_timer(evutil_socket_t, short, void* self) {
    auto* me = static_cast<Impl*>(self);
    me->finish(HttpsError::Timeout, "no complete answer from " + (me->address_.empty() ? me->req_.host : me->peer()) +
                                        " within " + std::to_string(me->req_.timeout) + "s");
  }

  void step() {
    switch (state_) {
      case State::Connect: return connected();
      case State::Handshake: return handshake();
      case State::Send: return send();
      case State::Receive: return receive();
      case State::Resolve:
      case State::Done:
        return;
    }
  }

  void connected() {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      connect_errors_ += peer() + ": " + strerror(err) + "; ";
      return connect_next();
    }
    std::string error;
    ssl_ = certs::new_session(ctx_, req_.host, &error);
    if (!ssl_ || wolfSSL_set_fd(ssl_.get(), fd_.get()) != WOLFSSL_SUCCESS) {
      return finish(HttpsError::Tls, error.empty() ? "wolfSSL cannot use the socket" : error);
    }
    state_ = State::Handshake;
    handshake();
  }

  // True when the call must be repeated after the socket is ready; arms the event.
  bool would_block(int ret) {
    int err = wolfSSL_get_error(ssl_.get(), ret);
    if (err == WOLFSSL_ERROR_WANT_READ) return wait(EV_READ), true;
    if (err == WOLFSSL_ERROR_WANT_WRITE) return wait(EV_WRITE), true;
    return false;
  }

  void handshake() {
    int r = wolfSSL_connect(ssl_.get());
    if (r != WOLFSSL_SUCCESS) {
      if (would_block(r)) return;
      certs::TlsFailure f = certs::describe_handshake_failure(ssl_.get(), r);
      tls_failure_ = f;
      return finish(HttpsError::Tls, f.reason + " (TLS handshake with " + peer() + ")");
    }
    certs::TlsFacts facts = certs::session_facts(ssl_.get());
    if (auto bad = certs::check_peer(facts, true, true)) {
      tls_failure_ = *bad;
      return finish(HttpsError::Certificate, bad->reason + " (" + peer() + ")");
    }
    out_ = req_.method + " " + req_.path + " HTTP/1.1\r\nHost: " + req_.host +
           (req_.port == 443 ? "" : ":" + std::to_string(req_.port)) +
           "\r\nUser-Agent: smarthost\r\nAccept: */*\r\nConnection: close\r\n";
    if (req_.method != "GET") {
      out_ += "Content-Type: " + req_.content_type + "\r\nContent-Length: " + std::to_string(req_.body.size()) +
              "\r\n";
    }
    out_ += "\r\n" + (req_.method != "GET" ? req_.body : std::string());
    state_ = State::Send;
    send();
  }

  void send() {
    while (sent_ < out_.size()) {
      int r = wolfSSL_write(ssl_.get(), out_.data() + sent_, static_cast<int>(out_.size() - sent_));
      if (r > 0) {
        sent_ += static_cast<size_t>(r);
        continue;
      }
      if (would_block(r)) return;
      return finish(HttpsError::Protocol, "sending the request to " + peer() + " failed");
    }
    state_ = State::Receive;
    receive();
  }

  void receive() {
    char buf[8192];
    for (;;) {
      int r = wolfSSL_read(ssl_.get(), buf, sizeof buf);
      if (r > 0) {
        in_.append(buf, static_cast<size_t>(r));
        if (in_.size() > kMaxHeaderBytes + req_.max_body + 1024) {
          return finish(HttpsError::TooLarge, "answer from " + peer() + " larger than " +
                                                  std::to_string(req_.max_body) + " bytes");
        }
        if (answer(false)) return;
        continue;
      }
      if (would_block(r)) return;
      int err = wolfSSL_get_error(ssl_.get(), r);
      if (err == WOLFSSL_ERROR_ZERO_RETURN || err == SOCKET_PEER_CLOSED_E || err == SOCKET_ERROR_E) {
        answer(true);
        return;
      }
      return finish(HttpsError::Protocol, "reading the answer from " + peer() + " failed (wolfSSL error " +
                                              std::to_string(err) + ")");
    }
  }

  // Finishes when the answer is complete (or broken). True when finished.
  bool answer(bool at_eof) {
    HttpsResponse res;
    bool complete = false;
    std::string why;
    if (!parse_http_response(in_, at_eof, &res, &complete, &why)) {
      finish(HttpsError::Protocol, why + " (" + peer() + ")");
      return true;
    }
    if (in_.find("\r\n\r\n") == std::string::npos && in_.size() > kMaxHeaderBytes) {
      finish(HttpsError::TooLarge, "HTTP header from " + peer() + " larger than 16 KiB");
      return true;
    }
    if (res.body.size() > req_.max_body) {
      finish(HttpsError::TooLarge, "body from " + peer() + " larger than " + std::to_string(req_.max_body) + " bytes");
      return true;
    }
    if (!complete) return false;
    res.peer = peer();
    if (res.status >= 300 && res.status < 400) {
      res.error = HttpsError::Redirect;
      res.reason = "HTTP " + std::to_string(res.status) + " redirect" +
                   (res.location.empty() ? "" : " to " + res.location) + " refused (" + peer() + ")";
    } else if (res.status < 200 || res.status > 299) {
      res.error = HttpsError::HttpStatus;
      res.reason = "HTTP status " + std::to_string(res.status) + " from " + peer();
    } else {
      res.error = HttpsError::None;
    }
    deliver(std::move(res));
    return true;
  }

  void finish(HttpsError e, const std::string& reason) {
    HttpsResponse res;
    res.error = e;
    res.reason = reason;
    if (!address_.empty()) res.peer = peer();
    res.tls_failure = tls_failure_;
    deliver(std::move(res));
  }

  void deliver(HttpsResponse res) {
    state_ = State::Done;
    ssl_.reset();
    io_.reset();
    fd_.reset();
    timer_.reset();
    a_.cancel();
    aaaa_.cancel();
    Done done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(res));  // may destroy us: nothing after this
  }

  event_base* base_;
  DnsService& dns_;
  WOLFSSL_CTX* ctx_;
  HttpsRequest req_;
  Done done_;
  State state_ = State::Resolve;
  DnsLookup a_, aaaa_;
  int pending_ = 0;
  std::vector<std::string> v4_, v6_, addresses_;
  std::string dns_notes_, connect_errors_;
  size_t next_ = 0;
  std::string address_;
  std::optional<certs::TlsFailure> tls_failure_;
  std::string out_, in_;
  size_t sent_ = 0;
  base::EventPtr timer_;
  // Destruction order: session, then its event, then the descriptor.
  Fd fd_;
  base::EventPtr io_;
  certs::SslPtr ssl_;
};

HttpsFetch::HttpsFetch(Key, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsFetch::~HttpsFetch() = default;

std::unique_ptr<HttpsFetch> HttpsFetch::start(event_base* base, DnsService& dns, WOLFSSL_CTX* ctx,
                                              HttpsRequest req, Done done) {
  auto impl = std::make_unique<Impl>(base, dns, ctx, std::move(req), std::move(done));
  Impl* raw = impl.get();
  auto f = std::make_unique<HttpsFetch>(Key(), std::move(impl));
  raw->start();
  return f;
}

certs::CtxPtr make_https_context(const std::string& ca_file, std::string* error) {
  if (ca_file.empty()) {
    *error = "HTTPS needs a CA file (tls.ca_file)";
    return nullptr;
  }
  certs::ClientContextOptions o;
  o.ca_file = ca_file;
  o.verify_ca = true;
  o.verify_hostname = true;
  o.min_version = config::TlsVersion::V1_2;
  return certs::make_client_context(o, error);
}

}  // namespace router
