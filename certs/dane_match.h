// dane_match.h - TLSA records (RFC 6698, 7671, 7672) matched against a peer's certificate chain.
//
// Only what SMTP DANE uses (RFC 7672 3.1): usages DANE-TA(2) and DANE-EE(3), selectors Cert(0)
// and SPKI(1), matching types Full(0), SHA2-256(1), SHA2-512(2). Other records are unusable and
// never match. DANE-EE(3): the leaf matches, names and validity dates are ignored (RFC 7672
// 3.1.1). DANE-TA(2): a certificate of the chain the peer sent matches; the chain from the leaf
// up to it must verify with it as the only trust anchor (signatures and dates, by wolfSSL's
// X509_STORE), and the leaf must name the host (RFC 7672 3.2.2): the caller says whether it does
// (TlsFacts::hostname_ok, our RFC 9525 matcher).
//
// The certificate data comes from wolfSSL: DER of each chain certificate and the DER
// SubjectPublicKeyInfo (wolfSSL_X509_get_pubkey_buffer); no ASN.1 is parsed here.
//
// How it fails: pure verdicts; a chain wolfSSL cannot hand out simply matches nothing.
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace certs {

struct DaneRecord {
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::vector<uint8_t> data;
};

// "3 1 1 0123abcd..." (lower-case hex), as test-route and the logs write a record.
std::string dane_record_text(const DaneRecord& r);
// Usage 2 or 3, selector 0 or 1, matching type 0, 1 or 2 (RFC 7672 3.1).
bool dane_usable(const DaneRecord& r);

// One certificate of the peer's chain, as wolfSSL gives it.
struct ChainCert {
  std::vector<uint8_t> der;   // the whole certificate
  std::vector<uint8_t> spki;  // its SubjectPublicKeyInfo, DER
};

// Whether the certificate data selected by r (cert or SPKI) has r's association data.
bool dane_data_matches(const DaneRecord& r, const ChainCert& c);

struct DaneMatchResult {
  bool matched = false;
  int record = -1;            // index into the records of the one that matched
  std::string why;            // not matched: one line for logs, DSNs and test-route
  std::vector<std::string> notes;  // per record: why it did not match
};

// Tries the usable records in order; the first that matches wins. `ta_chain_ok(k)` says whether
// the chain from the leaf up to chain[k] verifies with chain[k] as trust anchor (dane_match
// supplies one backed by wolfSSL; unit tests their own). Pure apart from that callback.
DaneMatchResult dane_match_chain(const std::vector<DaneRecord>& records,
                                 const std::vector<ChainCert>& chain, bool hostname_ok,
                                 const std::function<bool(size_t)>& ta_chain_ok);

// One certificate's DER and SPKI as wolfSSL gives them (empty parts when it cannot).
ChainCert chain_cert_of(WOLFSSL_X509* x);

// The peer chain of an established session, leaf first; empty when there is none.
std::vector<ChainCert> peer_chain(WOLFSSL* ssl);

// The chain leaf..chain[k-1] verifies with chain[k] as the only trust anchor (wolfSSL's
// X509_STORE: signatures and validity dates). k == 0: true.
bool dane_chain_verifies_to(const std::vector<ChainCert>& chain, size_t k);

// dane_match_chain over the session's peer chain, DANE-TA chains checked by wolfSSL.
DaneMatchResult dane_match(WOLFSSL* ssl, const std::vector<DaneRecord>& records, bool hostname_ok);

}  // namespace certs
