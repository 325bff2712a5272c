// tls_bufferevent.h - a libevent bufferevent that speaks TLS server-side through wolfSSL, for
// evhttp (evhttp_set_bevcb): HTTPS without an HTTP parser of our own and without OpenSSL.
//
// A filter bufferevent over a socket bufferevent: the input filter feeds the ciphertext the
// socket read to wolfSSL (custom I/O callbacks, as router/base/conn.cc does for SMTP) and hands
// evhttp the plaintext; the output filter encrypts what evhttp writes. wolfSSL's own records
// (handshake, alerts) go straight to the socket's output buffer. Nothing blocks.
//
// How it fails: a handshake or record error is a BEV_ERROR from the filter, which evhttp sees as
// a connection error (it closes that connection only). tls_bufferevent_new returns null when
// wolfSSL cannot make a session.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <memory>

namespace relay {

// A new server-side TLS bufferevent (fd set later by evhttp). `keep` is held until the
// bufferevent is freed (the context's owner).
bufferevent* tls_bufferevent_new(event_base* base, WOLFSSL_CTX* ctx, std::shared_ptr<const void> keep);

}  // namespace relay
