// tls_failure.cc - why a TLS session failed or does not meet a route's policy,
// in plain words, with an RFC 3463 status and advice for the admin.
//
// One table names every problem once; the DSN builder, the delivery log and
// the route tester all read from it, so a failure is described the same way
// everywhere. wolfSSL error codes that have no entry become HandshakeFailed
// with wolfSSL's own text as the detail: nothing here fails.
#include <wolfssl/options.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "certs/tls_context.h"

namespace certs {

namespace {

struct ProblemText {
  TlsProblem problem;
  const char* reason;
  const char* status;
  const char* advice;
};

// Advice follows seed 000's troubleshooting list: fix the server (name,
// certificate from a trusted CA), ask the relay provider, or relax the route.
constexpr ProblemText kProblems[] = {
    {TlsProblem::NotOffered, "TLS unavailable", "5.7.4",
     "The receiving server did not offer STARTTLS. Enable TLS on that server, or set "
     "tls = \"opportunistic\" on this route if unencrypted delivery is acceptable."},
    {TlsProblem::VersionTooOld, "TLS version too old", "5.7.5",
     "The server and this route share no allowed TLS version. Upgrade the receiving server's "
     "TLS, or lower min_tls_version on this route."},
    {TlsProblem::NoSharedCipher, "no shared cipher", "5.7.5",
     "The server accepts none of the route's cipher suites. Enable modern suites (ECDHE with "
     "AES-GCM or ChaCha20) on the server, or widen the route's ciphers."},
    {TlsProblem::UnknownCa, "certificate not signed by a trusted CA", "5.7.5",
     "Install a certificate from a trusted certificate authority on the receiving server, ask "
     "the relay service's provider about it, or turn off verify_ca on this route."},
    {TlsProblem::Expired, "certificate expired", "5.7.5",
     "Renew the receiving server's certificate, or turn off verify_ca on this route."},
    {TlsProblem::NotYetValid, "certificate not yet valid", "5.7.5",
     "Check the receiving server's certificate dates and both machines' clocks, or turn off "
     "verify_ca on this route."},
    {TlsProblem::BadCertificate, "certificate invalid", "5.7.5",
     "Install a correct certificate from a trusted certificate authority on the receiving "
     "server, or turn off verify_ca on this route."},
    {TlsProblem::HostnameMismatch, "certificate host name mismatch", "5.7.5",
     "Make sure the route uses a host name that the server's certificate lists, install a "
     "certificate with the right host names, or turn off verify_hostname on this route."},
    {TlsProblem::NoCertificate, "no server certificate", "5.7.5",
     "The server presented no certificate. Configure a certificate on the receiving server, or "
     "turn off verify_ca and verify_hostname on this route."},
    {TlsProblem::PeerRejectedUs, "TLS handshake refused by the peer", "5.7.5",
     "The peer refused our TLS parameters or certificate. Check its logs; if it wants a client "
     "certificate, set client_cert = true on this route."},
    {TlsProblem::ConnectionLost, "connection lost during TLS handshake", "5.7.5",
     "The server closed the connection during the handshake. Check its TLS configuration and "
     "logs, and run smarthost test-route."},
    {TlsProblem::HandshakeFailed, "TLS handshake failed", "5.7.5",
     "Check the receiving server's TLS configuration and logs, and run smarthost test-route."},
    {TlsProblem::HostnameOnlyInCn,
     "certificate names the host only in its subject CN, not in a subjectAltName (RFC 9525)", "5.7.5",
     "Have the receiving server's certificate reissued with its host name as a DNS subjectAltName "
     "(every public certificate authority does this; RFC 9525 no longer accepts the subject CN), "
     "or turn off verify_hostname on this route."},
    {TlsProblem::NoTls13Suite,
     "the route's cipher list offers nothing the server accepts: it has no TLS 1.3 suite, and the "
     "server refused TLS 1.2",
     "5.7.5",
     "Add TLS 1.3 suites (TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
     "TLS_CHACHA20_POLY1305_SHA256) to this route's ciphers, or remove its ciphers setting to use "
     "the defaults. Lowering min_tls_version does not help: the server wants TLS 1.3."},
    {TlsProblem::DaneMismatch, "DANE: no TLSA record matches the server's certificate", "5.7.5",
     "The receiving domain publishes DNSSEC-signed TLSA records that its server's certificate "
     "does not match: it must fix them (publish records for the new key before a key change). "
     "smarthost test-route shows the records and the certificate's SHA-256."},
    {TlsProblem::DaneRequired, "DANE required, but the host has no secure usable TLSA records",
     "5.7.5",
     "The route has tls = \"dane-only\": the MX host needs DNSSEC-signed MX, address and TLSA "
     "records. Use tls = \"dane\" to fall back to dane_fallback for such hosts."},
    {TlsProblem::DnssecBogus, "DNSSEC validation failed (bogus answer)", "4.7.5",
     "A DNS answer for the host failed DNSSEC validation: the domain's signatures are broken or "
     "expired, or something alters DNS on the way. Delivery is deferred until it is fixed."},
    {TlsProblem::TlsaLookupFailed, "TLSA lookup failed", "4.7.5",
     "The TLSA lookup failed (SERVFAIL or timeout); without it DANE cannot be checked, so the host "
     "is not tried in plaintext. Check dns.servers, or the domain's DNS servers."},
};

const ProblemText& text_of(TlsProblem p) {
  for (const auto& t : kProblems) {
    if (t.problem == p) return t;
  }
  return kProblems[sizeof kProblems / sizeof kProblems[0] - 1];
}

std::string wolf_error_text(int err) {
  char buf[WOLFSSL_MAX_ERROR_SZ] = {};
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), buf, sizeof buf);
  return buf;
}

// TLS alert descriptions (RFC 8446 section 6) a peer sends when it gives up.
TlsProblem problem_from_alert(int alert) {
  switch (alert) {
    case protocol_version:
      return TlsProblem::VersionTooOld;
    case handshake_failure:
    case insufficient_security:
      return TlsProblem::NoSharedCipher;
    case bad_certificate:
    case unsupported_certificate:
    case certificate_revoked:
    case certificate_expired:
    case certificate_unknown:
    case unknown_ca:
    case access_denied:
      return TlsProblem::PeerRejectedUs;
    default:
      return TlsProblem::HandshakeFailed;
  }
}

TlsProblem problem_from_error(int err, int alert) {
  // A received alert says why the peer gave up; wolfSSL may still report the
  // closed socket that followed it (-308), which would hide the reason.
  if (alert > 0 && err != FATAL_ERROR) {
    TlsProblem p = problem_from_alert(alert);
    if (p != TlsProblem::HandshakeFailed) return p;
  }
  switch (err) {
    case FATAL_ERROR:
      return problem_from_alert(alert);
    case VERSION_ERROR:
    case UNSUPPORTED_PROTO_VERSION:
      return TlsProblem::VersionTooOld;
    case MATCH_SUITE_ERROR:
    case UNSUPPORTED_SUITE:
      return TlsProblem::NoSharedCipher;
    case ASN_NO_SIGNER_E:
    case ASN_SELF_SIGNED_E:
    case NOT_CA_ERROR:
      return TlsProblem::UnknownCa;
    case ASN_AFTER_DATE_E:
      return TlsProblem::Expired;
    case ASN_BEFORE_DATE_E:
      return TlsProblem::NotYetValid;
    case DOMAIN_NAME_MISMATCH:
    case IPADDR_MISMATCH:
      return TlsProblem::HostnameMismatch;
    case NO_PEER_CERT:
      return TlsProblem::NoCertificate;
    case ASN_SIG_CONFIRM_E:
    case ASN_SIG_OID_E:
    case ASN_PARSE_E:
    case VERIFY_CERT_ERROR:
    case OCSP_CERT_REVOKED:
    case CRL_CERT_REVOKED:
    case EXTKEYUSE_AUTH_E:
    case KEYUSE_SIGNATURE_E:
    case KEYUSE_ENCIPHER_E:
      return TlsProblem::BadCertificate;
    case SOCKET_ERROR_E:
    case SOCKET_PEER_CLOSED_E:
    case ZERO_RETURN:
      return TlsProblem::ConnectionLost;
    default:
      return TlsProblem::HandshakeFailed;
  }
}

std::string error_detail(int err, int alert) {
  std::string d = "wolfSSL error " + std::to_string(err) + ": " + wolf_error_text(err);
  if (err == FATAL_ERROR && alert > 0) d += " (alert " + std::to_string(alert) + ")";
  return d;
}

}  // namespace

TlsFailure tls_failure(TlsProblem problem, const std::string& detail) {
  const ProblemText& t = text_of(problem);
  return TlsFailure{problem, t.reason, t.status, t.advice, detail};
}

TlsProblem verify_error_problem(int x509_error) {
  switch (x509_error) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_INVALID_CA:
      return TlsProblem::UnknownCa;
    // wolfSSL reports an expired certificate as "error in notAfter field".
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
      return TlsProblem::Expired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
      return TlsProblem::NotYetValid;
    default:
      return TlsProblem::BadCertificate;
  }
}

TlsFailure describe_handshake_error(int err, int alert_received) {
  return tls_failure(problem_from_error(err, alert_received), error_detail(err, alert_received));
}

TlsFailure describe_handshake_failure(WOLFSSL* ssl, int ret) {
  const int err = wolfSSL_get_error(ssl, ret);
  WOLFSSL_ALERT_HISTORY h{};
  const int alert = wolfSSL_get_alert_history(ssl, &h) == WOLFSSL_SUCCESS ? h.last_rx.code : 0;
  TlsFailure f = describe_handshake_error(err, alert);
  // A peer that answers our highest version with protocol_version wants a
  // newer one. When our highest was 1.2 only because the route lists no TLS
  // 1.3 suite (make_client_context caps such a context), the list is at fault.
  if (f.problem == TlsProblem::VersionTooOld && alert == protocol_version && !wolfSSL_is_server(ssl) &&
      wolfSSL_CTX_get_max_proto_version(wolfSSL_get_SSL_CTX(ssl)) == TLS1_2_VERSION)
    return tls_failure(TlsProblem::NoTls13Suite, f.detail);
  return f;
}

std::optional<TlsFailure> check_peer(const TlsFacts& facts, bool verify_ca, bool verify_hostname) {
  if (!facts.established) return tls_failure(TlsProblem::HandshakeFailed, "no TLS session");
  if (!verify_ca && !verify_hostname) return std::nullopt;
  if (!facts.has_certificate) return tls_failure(TlsProblem::NoCertificate);
  if (verify_ca && !facts.ca_ok)
    return tls_failure(verify_error_problem(facts.ca_error_code), facts.ca_error);
  if (verify_hostname && facts.hostname_only_in_cn)
    return tls_failure(TlsProblem::HostnameOnlyInCn,
                       "the certificate has no DNS subjectAltName; its CN names " + facts.peer_name);
  if (verify_hostname && !facts.hostname_ok) {
    const std::string name = facts.peer_name.empty() ? "(no host name to check)" : facts.peer_name;
    return tls_failure(TlsProblem::HostnameMismatch, "certificate does not name " + name);
  }
  return std::nullopt;
}

const char* tls_problem_name(TlsProblem p) {
  switch (p) {
    case TlsProblem::NotOffered: return "not-offered";
    case TlsProblem::VersionTooOld: return "version-too-old";
    case TlsProblem::NoSharedCipher: return "no-shared-cipher";
    case TlsProblem::UnknownCa: return "unknown-ca";
    case TlsProblem::Expired: return "expired";
    case TlsProblem::NotYetValid: return "not-yet-valid";
    case TlsProblem::BadCertificate: return "bad-certificate";
    case TlsProblem::HostnameMismatch: return "hostname-mismatch";
    case TlsProblem::NoCertificate: return "no-certificate";
    case TlsProblem::PeerRejectedUs: return "peer-rejected";
    case TlsProblem::ConnectionLost: return "connection-lost";
    case TlsProblem::HandshakeFailed: return "handshake-failed";
    case TlsProblem::HostnameOnlyInCn: return "hostname-only-in-cn";
    case TlsProblem::NoTls13Suite: return "no-tls13-suite";
    case TlsProblem::DaneMismatch: return "dane-mismatch";
    case TlsProblem::DaneRequired: return "dane-required";
    case TlsProblem::DnssecBogus: return "dnssec-bogus";
    case TlsProblem::TlsaLookupFailed: return "tlsa-lookup-failed";
  }
  return "handshake-failed";
}

}  // namespace certs
