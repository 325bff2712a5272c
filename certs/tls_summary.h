// tls_summary.h - the small, library-free facts of a TLS session and of a TLS failure that
// outlive the session: kept in the queue record, written in the log, named in DSNs. Plain
// values; nothing here can fail. (tls_context.h has the full facts and the wolfSSL side.)
#pragma once

#include <cstdint>
#include <string>

namespace certs {

// The few facts of one session that the queue, the log and DSNs keep.
struct TlsSummary {
  std::string version;  // "TLS1_3"; empty: no TLS
  std::string cipher;   // IANA name
  int bits = 0;
  std::string verdict;  // Verified / Trusted / Untrusted / Anonymous (outbound)
  // DANE routes: "verified", "failed", "no-tlsa", "insecure", "unusable", "bogus" (SPEC R-DANE);
  // empty when the route does not use DANE. "verified" is what REQUIRETLS may count as DANE.
  std::string dane;
  // The peer's leaf certificate, for the console's certificates page and its expiry warnings
  // (SPEC R-CONSOLE). Not kept in the queue record: only the delivery history needs them.
  std::string peer_subject;
  std::string peer_issuer;
  std::string peer_sha256;     // fingerprint: lowercase hex SHA-256 of the DER
  int64_t peer_not_after = 0;  // unix seconds; 0: no certificate, or its date unreadable
};

enum class TlsProblem {
  NotOffered,     // STARTTLS not offered by the server
  VersionTooOld,  // the peers share no allowed protocol version
  NoSharedCipher,
  UnknownCa,  // chain does not lead to a trusted CA
  Expired,
  NotYetValid,
  BadCertificate,  // other certificate defects (signature, usage, revoked)
  HostnameMismatch,
  NoCertificate,
  PeerRejectedUs,   // the peer refused our certificate or parameters
  ConnectionLost,   // transport closed during the handshake
  HandshakeFailed,  // anything else
  // Added later; stored in queue records by number, so new values go at the end.
  HostnameOnlyInCn,  // the host is named only in the subject CN, which RFC 9525 ignores
  NoTls13Suite,      // the route's cipher list has no TLS 1.3 suite; the server wants TLS 1.3
  // DANE (RFC 7672); TLS-RPT result types in brackets.
  DaneMismatch,      // secure usable TLSA records, none matches the certificate ("tlsa-invalid")
  DaneRequired,      // tls = "dane-only" and the host has no secure usable TLSA ("dane-required")
  DnssecBogus,       // an MX, address or TLSA answer failed DNSSEC validation ("dnssec-invalid")
  TlsaLookupFailed,  // the TLSA lookup failed (SERVFAIL, timeout): the host is not tried
};

// A short fixed name ("unknown-ca", "hostname-mismatch"): metric labels and the console.
const char* tls_problem_name(TlsProblem p);

}  // namespace certs
