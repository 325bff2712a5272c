// tls_bufferevent.cc - wolfSSL under a libevent filter bufferevent (see tls_bufferevent.h).
#include "relay/console/tls_bufferevent.h"

#include <event2/buffer.h>
#include <sys/socket.h>

#include "certs/tls_context.h"
#include "router/base/event_handles.h"

namespace relay {

namespace {

struct TlsFilter {
  base::EventPtr kick;  // first: freed before the session (its callback uses `bev`)
  bufferevent* bev = nullptr;
  certs::SslPtr ssl;
  std::shared_ptr<const void> keep;
  bufferevent* socket = nullptr;  // the underlying one: wolfSSL writes its records there
  evbuffer* cipher_in = nullptr;  // set while the input filter runs
  bool failed = false;
};

int tls_recv(WOLFSSL*, char* buf, int size, void* arg) {
  auto* f = static_cast<TlsFilter*>(arg);
  if (!f->cipher_in || evbuffer_get_length(f->cipher_in) == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
  int n = evbuffer_remove(f->cipher_in, buf, static_cast<size_t>(size));
  return n > 0 ? n : WOLFSSL_CBIO_ERR_WANT_READ;
}

// Ciphertext goes to the socket at once when nothing is queued before it, and only the rest (a
// full socket buffer) is queued in the socket bufferevent. evhttp closes a "Connection: close"
// connection as soon as the plaintext side is drained (shutdown, then free): what still waited
// in a userspace buffer then would be lost; what the kernel took is delivered.
int tls_send(WOLFSSL*, char* buf, int size, void* arg) {
  auto* f = static_cast<TlsFilter*>(arg);
  evbuffer* out = bufferevent_get_output(f->socket);
  size_t sent = 0;
  evutil_socket_t fd = bufferevent_getfd(f->socket);
  if (evbuffer_get_length(out) == 0 && fd >= 0) {
    ssize_t n = send(fd, buf, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n > 0) sent = static_cast<size_t>(n);
  }
  if (sent < static_cast<size_t>(size) && evbuffer_add(out, buf + sent, static_cast<size_t>(size) - sent) != 0) {
    return WOLFSSL_CBIO_ERR_GENERAL;
  }
  return size;
}

bufferevent_filter_result decrypt(evbuffer* src, evbuffer* dst, ev_ssize_t, bufferevent_flush_mode, void* arg) {
  auto* f = static_cast<TlsFilter*>(arg);
  if (f->failed) return BEV_ERROR;
  f->cipher_in = src;
  bool got = false;
  char buf[16384];
  for (;;) {
    int n = wolfSSL_read(f->ssl.get(), buf, sizeof buf);
    if (n > 0) {
      evbuffer_add(dst, buf, static_cast<size_t>(n));
      got = true;
      continue;
    }
    int err = wolfSSL_get_error(f->ssl.get(), n);
    f->cipher_in = nullptr;
    if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) return got ? BEV_OK : BEV_NEED_MORE;
    f->failed = true;  // a bad handshake, a bad record or close_notify: the connection ends
    return got ? BEV_OK : BEV_ERROR;
  }
}

bufferevent_filter_result encrypt(evbuffer* src, evbuffer*, ev_ssize_t, bufferevent_flush_mode, void* arg) {
  auto* f = static_cast<TlsFilter*>(arg);
  if (f->failed) return BEV_ERROR;
  while (size_t len = evbuffer_get_length(src)) {
    size_t chunk = len < 16384 ? len : 16384;
    auto* p = evbuffer_pullup(src, static_cast<ev_ssize_t>(chunk));
    int n = wolfSSL_write(f->ssl.get(), p, static_cast<int>(chunk));  // tls_send never blocks
    if (n <= 0) {
      f->failed = true;
      return BEV_ERROR;
    }
    evbuffer_drain(src, static_cast<size_t>(n));
  }
  return BEV_OK;
}

void free_filter(void* arg) { delete static_cast<TlsFilter*>(arg); }

// libevent's filter only encrypts what is written while EV_WRITE is enabled, and evhttp adds its
// reply before enabling it: without a nudge the reply would wait for the next write. Every
// addition to the plaintext output schedules a flush on the next loop turn.
void on_kick(evutil_socket_t, short, void* arg) {
  auto* f = static_cast<TlsFilter*>(arg);
  bufferevent_flush(f->bev, EV_WRITE, BEV_FLUSH);
}

void on_plain_out(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  auto* f = static_cast<TlsFilter*>(arg);
  if (info->n_added > 0) event_active(f->kick.get(), EV_TIMEOUT, 0);
}

}  // namespace

bufferevent* tls_bufferevent_new(event_base* base, WOLFSSL_CTX* ctx, std::shared_ptr<const void> keep) {
  std::string error;
  certs::SslPtr ssl = certs::new_session(ctx, "", &error);
  if (!ssl) return nullptr;
  bufferevent* sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  if (!sock) return nullptr;
  auto* f = new TlsFilter;
  f->ssl = std::move(ssl);
  f->keep = std::move(keep);
  f->socket = sock;
  wolfSSL_set_accept_state(f->ssl.get());
  wolfSSL_SSLSetIORecv(f->ssl.get(), &tls_recv);
  wolfSSL_SSLSetIOSend(f->ssl.get(), &tls_send);
  wolfSSL_SetIOReadCtx(f->ssl.get(), f);
  wolfSSL_SetIOWriteCtx(f->ssl.get(), f);
  bufferevent* bev = bufferevent_filter_new(sock, &decrypt, &encrypt, BEV_OPT_CLOSE_ON_FREE, &free_filter, f);
  if (!bev) {
    delete f;
    bufferevent_free(sock);
    return nullptr;
  }
  f->bev = bev;
  f->kick.reset(event_new(base, -1, 0, &on_kick, f));
  evbuffer_add_cb(bufferevent_get_output(bev), &on_plain_out, f);
  return bev;
}

}  // namespace relay
