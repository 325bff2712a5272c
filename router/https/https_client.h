// https_client.h - one HTTPS request (GET or POST) on the libevent loop, for MTA-STS policies and
// TLS-RPT reports.
//
// Resolves the host (AAAA and A through the DnsService), connects to each address in turn with a
// base::Conn (the same connection class as the SMTP sessions), runs a TLS handshake through it
// whose certificate must be CA-verified against tls.ca_file and name the host (RFC 8461 3.3: "a valid PKIX certificate"), sends one HTTP/1.1
// request with "Connection: close" and reads the answer: Content-Length, chunked or until EOF.
// Redirects are never followed (RFC 8461 3.3): a 3xx is the error Redirect. Nothing blocks: every
// wait is an event on the loop, and one timer bounds the whole exchange.
//
// How it fails: the result is always an HttpsResponse value with `error` saying which stage failed
// and `reason` in words ("certificate not signed by a trusted CA (mta-sts.example.com[192.0.2.1]:443)").
// A connect failure moves on to the next address; a TLS or HTTP failure ends the request.
// A body beyond max_body is TooLarge. `done` runs exactly once, always from the event loop (never
// inside start()); destroying the HttpsFetch first cancels it and `done` never runs; `done` may
// destroy the HttpsFetch.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "certs/tls_context.h"
#include "router/dns/dns_resolver.h"

struct event_base;

namespace router {

enum class HttpsError {
  None,         // a 2xx answer arrived in full
  Dns,          // the host name has no usable address
  Connect,      // no address accepted a TCP connection
  Tls,          // the handshake failed
  Certificate,  // handshake done, but the certificate is not CA-verified or does not name the host
  Redirect,     // 3xx: refused, never followed
  HttpStatus,   // any other non-2xx status
  TooLarge,     // body (or header section) over the limit
  Timeout,      // the whole exchange took longer than `timeout`
  Protocol,     // not HTTP, or the connection ended before the body was complete
};
const char* https_error_name(HttpsError e);  // "dns", "connect", "tls", "certificate", ...

struct HttpsRequest {
  std::string host;            // DNS name: the address lookup, SNI and the certificate check
  int port = 443;
  std::string path = "/";
  std::string method = "GET";  // or "POST"
  std::string content_type;    // POST only
  std::string body;            // POST only
  uint64_t timeout = 60;       // seconds, for everything from DNS to the last byte
  size_t max_body = 64 * 1024;
};

struct HttpsResponse {
  HttpsError error = HttpsError::Protocol;
  std::string reason;        // error != None: what failed, in words
  int status = 0;            // HTTP status when one was read
  std::string content_type;  // as sent, lower case
  std::string location;      // of a 3xx
  std::string body;
  std::string peer;          // "host[address]:port" that answered
  std::optional<certs::TlsFailure> tls_failure;  // Tls and Certificate errors
};

class HttpsFetch {
 public:
  using Done = std::function<void(HttpsResponse)>;
  // `ctx` from make_https_context() (or any client context); `dns`, `base` and `ctx` must outlive
  // the fetch.
  static std::unique_ptr<HttpsFetch> start(event_base* base, DnsService& dns, WOLFSSL_CTX* ctx,
                                           HttpsRequest req, Done done);
  ~HttpsFetch();
  HttpsFetch(const HttpsFetch&) = delete;
  HttpsFetch& operator=(const HttpsFetch&) = delete;

  class Impl;
  struct Key {
   private:
    friend class HttpsFetch;
    Key() = default;
  };
  HttpsFetch(Key, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// Client context for policy fetches and report uploads: TLS 1.2 or higher, trust anchors from
// ca_file (required), the default outbound cipher list. nullptr and *error when ca_file is unusable.
certs::CtxPtr make_https_context(const std::string& ca_file, std::string* error);

// Parses a complete HTTP response (status line, headers, body) as read until EOF or, when
// `complete` is not null, as far as it has arrived: *complete tells whether the body is whole.
// Exposed for unit tests. Returns false (and *why) when the text is not a valid response.
bool parse_http_response(const std::string& raw, bool at_eof, HttpsResponse* out, bool* complete,
                         std::string* why);

}  // namespace router
