// tls_context.h - wolfSSL contexts, sessions and the facts of a TLS session.
//
// Builds the server context (STARTTLS on our listener) and client contexts (one
// per route), opens per-connection sessions, and reads back what a finished
// handshake established: version, cipher, certificate chain and the verdicts on
// CA and host name. Byte transport is not done here: the caller installs its
// own wolfSSL I/O callbacks (wolfSSL_SSLSetIORecv/Send) on each session.
//
// The client never fails a handshake over a certificate. Verification runs,
// its outcome is recorded, and the handshake completes; the caller then asks
// check_peer() whether the route's policy is met and must abort before sending
// any mail data when it is not. This lets opportunistic routes log a verdict
// and deliver anyway while required routes refuse, from one code path.
//
// Failures: builders return null and fill *error with one line naming the file
// or cipher and what is wrong. Everything else reports through return values;
// nothing here throws except std::bad_alloc.
#pragma once

// options.h must come before any other wolfSSL header: it carries the build's
// feature macros, and without them the structures have a different layout.
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "certs/tls_summary.h"

namespace certs {

struct CtxDeleter {
  void operator()(WOLFSSL_CTX* ctx) const;
};
// Also frees the per-session verification record that new_session() attaches.
struct SslDeleter {
  void operator()(WOLFSSL* ssl) const;
};
struct X509Deleter {
  void operator()(WOLFSSL_X509* x509) const;
};
using CtxPtr = std::unique_ptr<WOLFSSL_CTX, CtxDeleter>;
using SslPtr = std::unique_ptr<WOLFSSL, SslDeleter>;
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Deleter>;

// ---- cipher lists -------------------------------------------------------

// Checks IANA suite names ("TLS_AES_128_GCM_SHA256") for use in a cipher list.
// Refused, with the offending name in *error: names wolfSSL does not know
// (typos; also the static-RSA TLS_RSA_WITH_* suites, which Debian's wolfSSL is
// built without), non-IANA spellings, and suites that give no confidentiality
// or authentication (anon, NULL, integrity-only TLS 1.3, PSK, RC4). An empty
// list is refused too. Returns true when every name is usable.
bool validate_cipher_names(const std::vector<std::string>& names, std::string* error);

// The colon-joined string for wolfSSL_CTX_set_cipher_list, or "" (with *error
// set) when validate_cipher_names refuses the list.
std::string cipher_list_string(const std::vector<std::string>& names, std::string* error);

// ---- contexts -----------------------------------------------------------

struct ServerContextOptions {
  std::string cert_file;                          // PEM: leaf first, then the chain
  std::string key_file;                           // PEM, unencrypted
  std::vector<std::string> ciphers;               // IANA; empty: config::default_inbound_ciphers()
  std::optional<config::TlsVersion> min_version;  // unset: TLS 1.2
};

// A cipher list without any TLS 1.3 suite (no "_WITH_"-less name) also caps a
// context at TLS 1.2, on either side; with min_version 1.3 that is an error.

// TLS 1.2-1.3 server (1.1 too when min_version says so); never asks for a client certificate. Returns null when a
// file cannot be read or parsed, the key does not match the certificate, or
// the cipher list is refused.
CtxPtr make_server_context(const ServerContextOptions& opts, std::string* error);

struct ClientContextOptions {
  std::string ca_file;  // PEM trust anchors; empty: none (every chain is Untrusted)
  // The route's policy, for the caller to pass to check_peer(). Verification
  // itself always runs; verify_ca only makes a missing ca_file an error here.
  bool verify_ca = false;
  bool verify_hostname = false;
  std::optional<config::TlsVersion> min_version;  // unset: TLS 1.1
  std::vector<std::string> ciphers;               // IANA, in preference order;
                                                  // empty: config::default_outbound_ciphers()
  std::string client_cert_file;                   // both or neither
  std::string client_key_file;
};

// TLS 1.1-1.3 client that verifies the server's chain against ca_file but lets
// the handshake finish whatever the outcome (see the file comment). Returns
// null when ca_file is set but unreadable or holds no certificate, verify_ca
// is set without a ca_file, the client certificate or key cannot be loaded or
// do not match, or the cipher list is refused.
CtxPtr make_client_context(const ClientContextOptions& opts, std::string* error);

// ---- sessions -----------------------------------------------------------

// A session on ctx. For a client context, peer_name is the name the
// certificate is checked against: the MX host name or the route's host (a
// trailing dot is ignored). A DNS name is also sent as SNI; an IP literal is
// checked against the certificate's IP SANs and not sent. Empty: no name
// check (the verdict can then be Trusted at best). Ignored for servers.
// Returns null (and *error) when wolfSSL cannot allocate the session.
SslPtr new_session(WOLFSSL_CTX* ctx, const std::string& peer_name, std::string* error);

enum class Verdict {
  Verified,   // chain signed by a trusted CA and the host name matches
  Trusted,    // chain signed by a trusted CA; name not checked or not matching
  Untrusted,  // a certificate, but the chain does not verify
  Anonymous,  // no certificate at all
};
const char* verdict_name(Verdict v);  // "Verified", "Trusted", "Untrusted", "Anonymous"

struct CertSummary {
  std::string subject;  // most specific first: "CN=mx1.test.example, O=smarthost tests"
  std::string issuer;
  std::vector<std::string> san;  // "DNS:mx1.test.example", "IP:::1"; wolfSSL's order
  std::string not_before;        // "Nov 23 16:30:30 2026 GMT"
  std::string not_after;
  int64_t not_after_unix = 0;    // the same as unix seconds; 0 when wolfSSL cannot read it
};

struct TlsFacts {
  bool established = false;  // handshake finished; everything below is empty otherwise
  std::string version;       // as in Received headers: "TLS1_3", "TLS1_2", "TLS1_1"
  std::string cipher;        // IANA name, "TLS_AES_256_GCM_SHA384"
  int bits = 0;              // secret bits of the cipher
  int alg_bits = 0;          // bits of the algorithm
  // The peer's certificate (server certificate for clients; a server sees a
  // client certificate only if one was requested, which we never do).
  Verdict verdict = Verdict::Anonymous;
  bool has_certificate = false;
  bool ca_ok = false;     // chain verified against the trust anchors
  int ca_error_code = 0;  // X509_V_ERR_* as wolfSSL reports it; 0 when ca_ok
  std::string ca_error;   // plain words: "certificate not signed by a trusted CA"
  std::string peer_name;  // the name checked; empty: none
  bool hostname_checked = false;
  bool hostname_ok = false;
  // hostname_ok is false although the subject CN names the host: the leaf has
  // no DNS subjectAltName, and RFC 9525 (as RFC 8461 4.2) ignores the CN.
  bool hostname_only_in_cn = false;
  std::vector<CertSummary> chain;  // as sent by the peer, leaf first
  std::string spki_sha256;  // lowercase hex of SHA-256(leaf SubjectPublicKeyInfo): TLSA 3 1 1
  std::string cert_sha256;  // lowercase hex of SHA-256(leaf DER): the certificate's fingerprint
};

// The first certificate of a PEM file (our tls.cert, for the console's certificates page);
// nullopt with *error when it cannot be read.
std::optional<CertSummary> cert_file_summary(const std::string& pem_path, std::string* error);

// What the session established. Call after wolfSSL_connect/accept returned
// success; before that, established is false and the rest is empty. Never fails
// otherwise: facts wolfSSL cannot give stay empty.
TlsFacts session_facts(WOLFSSL* ssl);

// Whether the peer's leaf certificate names `host` by the same rule as TlsFacts::hostname_ok
// (RFC 9525 DNS-IDs; IP-IDs for an address). DANE-TA uses it for reference identifiers other
// than the session's own peer name (RFC 7672 3.2.3). False without a certificate.
bool peer_names_host(WOLFSSL* ssl, const std::string& host);

// The facts a delivery keeps (tls_summary.h), with the leaf certificate's names, fingerprint
// and expiry; `dane` is the DANE word already decided for the host.
TlsSummary session_summary(const TlsFacts& facts, const std::string& dane);

// "version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256" for Received:.
std::string received_clause(const TlsFacts& facts);

// ---- failures -----------------------------------------------------------

struct TlsFailure {
  TlsProblem problem = TlsProblem::HandshakeFailed;
  std::string reason;  // plain words for DSNs and log lines: "certificate expired"
  std::string status;  // RFC 3463 code: "5.7.4" TLS not offered, else "5.7.5";
                       // a caller that defers (MTA-STS) swaps the class to 4
  std::string advice;  // what the admin can do (seed 000 troubleshooting)
  std::string detail;  // technical detail for logs and the route tester; may be empty
};

// The failure record for a problem; detail is stored as given.
TlsFailure tls_failure(TlsProblem problem, const std::string& detail = "");

// X509_V_ERR_* value as wolfSSL reports it (TlsFacts::ca_error_code) to the
// problem it stands for: UnknownCa, Expired, NotYetValid or BadCertificate.
TlsProblem verify_error_problem(int x509_error);
constexpr int kVerifyErrorUnspecified = 1;  // OpenSSL's X509_V_ERR_UNSPECIFIED

// Why a handshake failed: err is wolfSSL_get_error() after connect/accept
// returned non-success; alert_received is the last received alert description
// (wolfSSL_get_alert_history last_rx.code; 0 or negative when none).
TlsFailure describe_handshake_error(int err, int alert_received);
// Same, reading the error and alert from the session. A client whose context
// has no TLS 1.3 suite (capped at 1.2, see above) and whose peer refused the
// version gets NoTls13Suite: the cipher list, not the version, is to blame.
TlsFailure describe_handshake_failure(WOLFSSL* ssl, int ret);

// The route's certificate checks on an established session: nullopt when they
// pass. verify_ca needs ca_ok; verify_hostname needs hostname_ok (a name only
// in the subject CN fails as HostnameOnlyInCn); either needs
// a certificate. With neither, any established session passes; a session
// that is not established fails with HandshakeFailed.
std::optional<TlsFailure> check_peer(const TlsFacts& facts, bool verify_ca, bool verify_hostname);

}  // namespace certs
