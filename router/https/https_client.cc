// https_client.cc - HTTPS GET/POST on base::Conn (see the header).
//
// States: Resolve -> Connect (one Conn per address) -> Handshake -> Send -> Receive -> Done.
// Conn owns the socket and the wolfSSL session and hands over plaintext; this file only says
// what to send and when the answer is complete. Two things happen on a later loop turn, from
// later_, never inside a Conn callback: replacing the Conn after a failed connect, and running
// `done` (which may destroy this object and the Conn with it).
#include "router/https/https_client.h"
#include "config/duration.h"
#include "router/base/conn.h"
#include "router/base/event_handles.h"
#include "router/base/sockaddr.h"

#include <event2/buffer.h>
#include <event2/event.h>

#include <cctype>
#include <cstdlib>
#include <vector>

namespace router {
namespace {

constexpr size_t kMaxHeaderBytes = 16 * 1024;

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

class HttpsFetch::Impl : public base::Conn::Handler {
 public:
  Impl(event_base* base, DnsService& dns, WOLFSSL_CTX* ctx, HttpsRequest req, Done done)
      : base_(base), dns_(dns), ctx_(ctx), req_(std::move(req)), done_(std::move(done)) {}

  void start() {
    timer_.reset(evtimer_new(base_, &Impl::on_timer, this));
    timeval tv{static_cast<time_t>(req_.timeout), 0};
    evtimer_add(timer_.get(), &tv);
    later_.reset(evtimer_new(base_, &Impl::on_later, this));
    pending_ = 2;
    // Callbacks always come from the loop, never from inside lookup().
    aaaa_ = dns_.lookup(req_.host, DnsType::AAAA, [this](DnsAnswer a) { resolved(std::move(a)); });
    a_ = dns_.lookup(req_.host, DnsType::A, [this](DnsAnswer a) { resolved(std::move(a)); });
  }

 private:
  // Done: the result waits in result_ for the next loop turn; Conn callbacks are ignored.
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

  // Never called from inside a Conn callback: it replaces conn_.
  void connect_next() {
    drop_conn();
    while (next_ < addresses_.size()) {
      address_ = addresses_[next_++];
      base::SockAddr sa;
      if (!base::to_sockaddr(address_, req_.port, &sa)) continue;
      state_ = State::Connect;
      conn_ = std::make_unique<base::Conn>(base_, sa.get(), static_cast<int>(sa.len), this);
      return;
    }
    if (connect_errors_.size() >= 2) connect_errors_.resize(connect_errors_.size() - 2);
    finish(HttpsError::Connect, "cannot connect: " + connect_errors_);
  }

  void drop_conn() {
    if (conn_) conn_->discard_output();  // nothing of ours is worth a lingering socket
    conn_.reset();
  }

  // ---- Conn events ----

  void on_conn_connected() override {
    if (state_ != State::Connect) return;
    std::string error;
    certs::SslPtr ssl = certs::new_session(ctx_, req_.host, &error);
    if (!ssl) return finish(HttpsError::Tls, error);
    state_ = State::Handshake;
    conn_->start_tls(std::move(ssl), false);
  }

  void on_conn_tls_ready(bool ok, const std::string& error) override {
    if (state_ != State::Handshake) return;
    if (!ok) {
      WOLFSSL* ssl = conn_->tls();
      certs::TlsFailure f = ssl ? certs::describe_handshake_failure(ssl, -1)
                                : certs::tls_failure(certs::TlsProblem::HandshakeFailed, error);
      tls_failure_ = f;
      return finish(HttpsError::Tls, f.reason + " (TLS handshake with " + peer() + ")");
    }
    certs::TlsFacts facts = certs::session_facts(conn_->tls());
    if (auto bad = certs::check_peer(facts, true, true)) {
      tls_failure_ = *bad;
      return finish(HttpsError::Certificate, bad->reason + " (" + peer() + ")");
    }
    send_request();
  }

  void on_conn_read() override {
    if (state_ != State::Receive) return;
    take_input();
    if (in_.size() > kMaxHeaderBytes + req_.max_body + 1024) {
      return finish(HttpsError::TooLarge, "answer from " + peer() + " larger than " +
                                              std::to_string(req_.max_body) + " bytes");
    }
    answer(false);
  }

  void on_conn_closed(const std::string& why) override {
    switch (state_) {
      case State::Connect:
        // Refused, unreachable, reset: try the next address from the loop.
        connect_errors_ += peer() + ": " + why + "; ";
        state_ = State::Resolve;
        return defer();
      case State::Handshake:  // Conn reports handshake failures through on_conn_tls_ready
        return;
      case State::Send:
        return finish(HttpsError::Protocol, "sending the request to " + peer() + " failed");
      case State::Receive:
        take_input();  // the last records may have come with the close
        if (!conn_->peer_closed()) {
          return finish(HttpsError::Protocol, "reading the answer from " + peer() + " failed (" + why + ")");
        }
        answer(true);
        return;
      case State::Resolve:
      case State::Done:
        return;
    }
  }

  void on_conn_timeout() override {}  // no Conn timeout is set: timer_ bounds the exchange

  // ---- the exchange ----

  void send_request() {
    std::string out = req_.method + " " + req_.path + " HTTP/1.1\r\nHost: " + req_.host +
                      (req_.port == 443 ? "" : ":" + std::to_string(req_.port)) +
                      "\r\nUser-Agent: smarthost\r\nAccept: */*\r\nConnection: close\r\n";
    if (req_.method != "GET") {
      out += "Content-Type: " + req_.content_type + "\r\nContent-Length: " + std::to_string(req_.body.size()) +
             "\r\n";
    }
    out += "\r\n" + (req_.method != "GET" ? req_.body : std::string());
    state_ = State::Send;
    conn_->write(out);  // a failure calls on_conn_closed before this returns
    if (state_ == State::Send) state_ = State::Receive;
  }

  void take_input() {
    evbuffer* in = conn_->input();
    size_t n = evbuffer_get_length(in);
    if (n == 0) return;
    size_t old = in_.size();
    in_.resize(old + n);
    evbuffer_remove(in, &in_[old], n);
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

  static void on_timer(evutil_socket_t, short, void* self) {
    auto* me = static_cast<Impl*>(self);
    me->finish(HttpsError::Timeout, "no complete answer from " + (me->address_.empty() ? me->req_.host : me->peer()) +
                                        " within " + config::format_duration(me->req_.timeout));
  }

  void finish(HttpsError e, const std::string& reason) {
    HttpsResponse res;
    res.error = e;
    res.reason = reason;
    if (!address_.empty()) res.peer = peer();
    res.tls_failure = tls_failure_;
    deliver(std::move(res));
  }

  // Keeps the result for the next loop turn: we may be inside a Conn callback, and `done` may
  // destroy us (and the Conn with us).
  void deliver(HttpsResponse res) {
    state_ = State::Done;
    result_ = std::move(res);
    timer_.reset();
    a_.cancel();
    aaaa_.cancel();
    defer();
  }

  void defer() {
    timeval now{0, 0};
    evtimer_add(later_.get(), &now);
  }

  // From the loop, outside every Conn callback: the next address, or the end.
  static void on_later(evutil_socket_t, short, void* self) {
    auto* me = static_cast<Impl*>(self);
    if (me->state_ != State::Done) return me->connect_next();
    me->drop_conn();
    Done done = std::move(me->done_);
    me->done_ = nullptr;
    if (done) done(std::move(me->result_));  // may destroy us: nothing after this
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
  std::string in_;
  HttpsResponse result_;
  base::EventPtr timer_;
  base::EventPtr later_;
  std::unique_ptr<base::Conn> conn_;
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
