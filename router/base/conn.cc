// conn.cc - bufferevent + wolfSSL plumbing (see conn.h).
#include "router/base/conn.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace base {

Conn::Conn(event_base* base, evutil_socket_t fd, Handler* handler)
    : handler_(handler),
      bev_(bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE)),
      plain_in_(evbuffer_new()) {
  setup_callbacks();
}

Conn::Conn(event_base* base, const sockaddr* sa, int salen, Handler* handler)
    : handler_(handler),
      server_(false),
      bev_(bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)),
      plain_in_(evbuffer_new()) {
  setup_callbacks();
  if (bufferevent_socket_connect(bev_.get(), const_cast<sockaddr*>(sa), salen) != 0) {
    // Reported from the loop so that the owner is never called back from inside its own
    // constructor call; the event is the Conn's, so deleting the Conn first cancels it.
    connect_error_ = std::string("connect failed: ") + strerror(errno);
    connect_failed_.reset(evtimer_new(base, &Conn::connect_failed_cb, this));
    timeval now{0, 0};
    evtimer_add(connect_failed_.get(), &now);
  }
}

void Conn::connect_failed_cb(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  self->fail(self->connect_error_);
}

namespace {

// Frees a bufferevent once its output has gone out (or failed, or stalled).
void linger_done(bufferevent* bev, void*) {
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_free(bev);
}
void linger_event(bufferevent* bev, short, void*) { bufferevent_free(bev); }

}  // namespace

Conn::~Conn() {
  ssl_.reset();
  if (bev_ && output_pending() > 0) {
    // The last reply (e.g. 221 or 421) must still reach the peer after the
    // owner is gone: let the bufferevent live until it is written.
    bufferevent* bev = bev_.release();
    bufferevent_setcb(bev, nullptr, &linger_done, &linger_event, nullptr);
    bufferevent_disable(bev, EV_READ);
    bufferevent_enable(bev, EV_WRITE);
    timeval tv{10, 0};
    bufferevent_set_timeouts(bev, nullptr, &tv);
  }
  bev_.reset();
  evbuffer_free(plain_in_);
}

void Conn::setup_callbacks() {
  bufferevent_setcb(bev_.get(), &Conn::read_cb, &Conn::write_cb, &Conn::event_cb, this);
  bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
}

void Conn::set_timeout(uint64_t seconds) {
  if (seconds == 0) {
    bufferevent_set_timeouts(bev_.get(), nullptr, nullptr);
    return;
  }
  timeval tv{static_cast<time_t>(seconds), 0};
  bufferevent_set_timeouts(bev_.get(), &tv, &tv);
}

void Conn::write(const char* data, size_t len) {
  if (state_ == State::Closing) return;
  if (state_ == State::Tls) {
    // tls_send never blocks, so wolfSSL_write takes everything at once.
    int r = wolfSSL_write(ssl_.get(), data, static_cast<int>(len));
    if (r <= 0) fail("TLS write failed: " + tls_error_text(ssl_.get(), r));
    return;
  }
  bufferevent_write(bev_.get(), data, len);
}

void Conn::discard_input() {
  evbuffer_drain(plain_in_, evbuffer_get_length(plain_in_));
  evbuffer* raw = bufferevent_get_input(bev_.get());
  evbuffer_drain(raw, evbuffer_get_length(raw));
}

void Conn::discard_output() {
  evbuffer* out = bufferevent_get_output(bev_.get());
  evbuffer_drain(out, evbuffer_get_length(out));
}

void Conn::start_tls(certs::SslPtr ssl_in, bool server) {
  ssl_ = std::move(ssl_in);
  WOLFSSL* ssl = ssl_.get();
  server_ = server;
  state_ = State::Handshake;
  wolfSSL_SSLSetIORecv(ssl, &Conn::tls_recv);
  wolfSSL_SSLSetIOSend(ssl, &Conn::tls_send);
  wolfSSL_SetIOReadCtx(ssl, this);
  wolfSSL_SetIOWriteCtx(ssl, this);
  continue_handshake();
}

void Conn::close_after_flush() {
  if (state_ == State::Tls) wolfSSL_shutdown(ssl_.get());  // close_notify, best effort
  state_ = State::Closing;
  bufferevent_disable(bev_.get(), EV_READ);
}

size_t Conn::output_pending() const { return evbuffer_get_length(bufferevent_get_output(bev_.get())); }

std::string Conn::local_address() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  evutil_socket_t fd = bufferevent_getfd(bev_.get());
  if (fd < 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = "";
  const void* addr = nullptr;
  if (ss.ss_family == AF_INET) addr = &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr;
  if (ss.ss_family == AF_INET6) addr = &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
  return addr && inet_ntop(ss.ss_family, addr, buf, sizeof buf) ? buf : "";
}

int Conn::tls_recv(WOLFSSL*, char* buf, int sz, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  evbuffer* in = bufferevent_get_input(self->bev_.get());
  int n = evbuffer_remove(in, buf, static_cast<size_t>(sz));
  if (n > 0) return n;
  return self->eof_ ? WOLFSSL_CBIO_ERR_CONN_CLOSE : WOLFSSL_CBIO_ERR_WANT_READ;
}

int Conn::tls_send(WOLFSSL*, char* buf, int sz, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if (bufferevent_write(self->bev_.get(), buf, static_cast<size_t>(sz)) != 0) {
    return WOLFSSL_CBIO_ERR_GENERAL;
  }
  return sz;
}

void Conn::continue_handshake() {
  int r = server_ ? wolfSSL_accept(ssl_.get()) : wolfSSL_connect(ssl_.get());
  if (r == WOLFSSL_SUCCESS) {
    state_ = State::Tls;
    handler_->on_conn_tls_ready(true, "");
    // A TLS 1.3 client may send its first command right behind Finished.
    if (state_ == State::Tls) pump();
    return;
  }
  int err = wolfSSL_get_error(ssl_.get(), r);
  if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
    if (eof_) {
      state_ = State::Closing;
      handler_->on_conn_tls_ready(false, "connection closed during TLS handshake");
    }
    return;
  }
  state_ = State::Closing;
  handler_->on_conn_tls_ready(false, tls_error_text(ssl_.get(), r));
}

// Decrypts what has arrived into plain_in_. False when the session ended.
bool Conn::read_tls() {
  char buf[16384];
  for (;;) {
    int r = wolfSSL_read(ssl_.get(), buf, sizeof buf);
    if (r > 0) {
      evbuffer_add(plain_in_, buf, static_cast<size_t>(r));
      continue;
    }
    int err = wolfSSL_get_error(ssl_.get(), r);
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return true;
    if (err == WOLFSSL_ERROR_ZERO_RETURN) {
      eof_ = true;
      return false;
    }
    fail("TLS read failed: " + tls_error_text(ssl_.get(), r));
    return false;
  }
}

void Conn::pump() {
  switch (state_) {
    case State::Closing:
      return;
    case State::Plain:
      evbuffer_add_buffer(plain_in_, bufferevent_get_input(bev_.get()));
      if (evbuffer_get_length(plain_in_) > 0) handler_->on_conn_read();
      break;
    case State::Handshake:
      continue_handshake();
      return;
    case State::Tls: {
      bool alive = read_tls();
      if (state_ == State::Closing) return;
      if (evbuffer_get_length(plain_in_) > 0) handler_->on_conn_read();
      if (!alive && state_ != State::Closing) {
        state_ = State::Closing;
        handler_->on_conn_closed("connection closed by peer");
        return;
      }
      break;
    }
  }
  if (eof_ && state_ != State::Closing) {
    state_ = State::Closing;
    handler_->on_conn_closed("connection closed by peer");
  }
}

void Conn::read_cb(bufferevent*, void* arg) { static_cast<Conn*>(arg)->pump(); }

void Conn::write_cb(bufferevent*, void*) {}

void Conn::event_cb(bufferevent*, short what, void* arg) {
  auto* self = static_cast<Conn*>(arg);
  if (what & BEV_EVENT_CONNECTED) {
    self->handler_->on_conn_connected();
    return;
  }
  if (what & BEV_EVENT_TIMEOUT) {
    if (self->state_ == State::Handshake) {
      self->fail("timeout during TLS handshake");
    } else if (self->state_ != State::Closing) {
      self->handler_->on_conn_timeout();
    }
    return;
  }
  if (what & BEV_EVENT_EOF) {
    self->eof_ = true;
    self->pump();
    return;
  }
  if (what & BEV_EVENT_ERROR) {
    int e = EVUTIL_SOCKET_ERROR();
    self->fail(e ? evutil_socket_error_to_string(e) : "connection error");
  }
}

void Conn::fail(const std::string& why) {
  if (state_ == State::Closing) return;
  State was = state_;
  state_ = State::Closing;
  if (was == State::Handshake) {
    handler_->on_conn_tls_ready(false, why);
  } else {
    handler_->on_conn_closed(why);
  }
}

std::string tls_error_text(WOLFSSL* ssl, int ret) {
  int err = wolfSSL_get_error(ssl, ret);
  char buf[WOLFSSL_MAX_ERROR_SZ];
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), buf, sizeof buf);
  return std::string(buf) + " (" + std::to_string(err) + ")";
}

}  // namespace base
