// conn.h - one TCP connection on the event loop, plain or TLS.
//
// Wraps a libevent bufferevent and, after start_tls(), a wolfSSL session whose
// custom I/O callbacks read from and write to the bufferevent's buffers (no
// blocking socket calls). The owner sees only plaintext: input() and write().
// TLS records do not line up with SMTP lines; the owner keeps reading lines
// out of input(). Failures reach the owner through Handler callbacks; after
// close_after_flush() no callback runs again.
//
// Users: the SMTP server and client sessions (relay/smtpd, relay/delivery) and the HTTPS client
// (router/https). An outbound connect that fails at once is still reported from the loop.
#pragma once

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include "certs/tls_context.h"
#include "router/base/event_handles.h"

#include <memory>
#include <string>

namespace base {

class Conn {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void on_conn_read() = 0;                        // plaintext in input()
    virtual void on_conn_tls_ready(bool ok, const std::string& error) = 0;
    virtual void on_conn_closed(const std::string& why) = 0;  // EOF, error, timeout
    virtual void on_conn_connected() {}                      // outbound connect done
    // Idle longer than set_timeout(); the owner may still write a last reply.
    virtual void on_conn_timeout() { on_conn_closed("timeout"); }
  };

  // Takes ownership of an accepted socket.
  Conn(event_base* base, evutil_socket_t fd, Handler* handler);
  // Outbound: connects to `sa`; on_conn_connected or on_conn_closed follows.
  Conn(event_base* base, const sockaddr* sa, int salen, Handler* handler);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  evbuffer* input() { return plain_in_; }
  void write(const char* data, size_t len);
  void write(const std::string& s) { write(s.data(), s.size()); }
  // Idle time after which on_conn_closed("timeout") is called (0: none).
  void set_timeout(uint64_t seconds);
  // Throws away everything received but not yet read (STARTTLS injection).
  void discard_input();
  // Throws away everything not yet sent, so that deleting the Conn closes the socket at once
  // instead of lingering to deliver it (a client that gives up, or has all it wanted).
  void discard_output();
  // The peer ended the stream (TCP EOF or TLS close_notify), as opposed to an error: tells an
  // owner in on_conn_closed whether what it read up to here is all the peer sent.
  bool peer_closed() const { return eof_; }
  // Starts a TLS handshake with `ssl` (owned from now on); reading pauses for
  // the owner until on_conn_tls_ready.
  void start_tls(certs::SslPtr ssl, bool server);
  WOLFSSL* tls() const { return ssl_.get(); }
  bool tls_active() const { return state_ == State::Tls; }
  // Stops reading and sends close_notify. No callbacks after this; deleting
  // the Conn afterwards still delivers what is buffered.
  void close_after_flush();
  size_t output_pending() const;
  // Our end of the connection as numeric IP text ("192.0.2.7", "2001:db8::7"): TLS-RPT's
  // sending-mta-ip. "" when the socket has no local address (not connected, closed).
  std::string local_address() const;

 private:
  enum class State { Plain, Handshake, Tls, Closing };
  struct BevFree {
    void operator()(bufferevent* b) const { bufferevent_free(b); }
  };

  void setup_callbacks();
  static void read_cb(bufferevent* bev, void* self);
  static void write_cb(bufferevent* bev, void* self);
  static void event_cb(bufferevent* bev, short what, void* self);
  static int tls_recv(WOLFSSL* ssl, char* buf, int sz, void* self);
  static int tls_send(WOLFSSL* ssl, char* buf, int sz, void* self);
  void pump();
  void continue_handshake();
  bool read_tls();
  void fail(const std::string& why);
  static void connect_failed_cb(evutil_socket_t, short, void* self);

  Handler* handler_;
  bool server_ = true;
  bool eof_ = false;
  State state_ = State::Plain;
  // Order matters: the TLS session refers to the bufferevent's buffers.
  std::unique_ptr<bufferevent, BevFree> bev_;
  certs::SslPtr ssl_;
  evbuffer* plain_in_;
  // An outbound connect that failed at once, reported from the loop; freed with the Conn.
  EventPtr connect_failed_;
  std::string connect_error_;
};

// Text of the last wolfSSL error on `ssl` after a failed call returning `ret`.
std::string tls_error_text(WOLFSSL* ssl, int ret);

}  // namespace base
