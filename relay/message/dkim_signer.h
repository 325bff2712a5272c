// dkim_signer.h - DKIM signatures (RFC 6376) with wolfSSL, rsa-sha256 and ed25519-sha256
// (RFC 8463): for the messages the relay writes itself (TLS-RPT reports, RFC 8460 section 3) and
// for relayed mail (dkim_sign). Canonicalisation lives in dkim_canon.h, shared with the verifier.
//
// Canonicalisation is relaxed/relaxed; the whole body is signed (never an l= tag); the signed
// header fields are those of DkimOptions::headers that the message has, each taken from the
// bottom up as section 5.4.2 says. The DKIM-Signature field is returned folded (no line over
// 78 columns except for very long d=/s= values), to be put in front of the message.
//
// Keys: a PEM file, "RSA PRIVATE KEY" (PKCS#1) or "PRIVATE KEY" (PKCS#8: RSA or Ed25519), as made
// by `openssl genpkey -algorithm RSA|ed25519`. RSA keys under 1024 bits are refused (RFC 8301).
// dns_record() gives the TXT record to publish at SELECTOR._domainkey.DOMAIN.
//
// How it fails: DkimKey::load() returns nullptr and *error ("FILE: not an RSA or Ed25519 private
// key"); dkim_signature() returns nullopt and *error when wolfSSL cannot sign. No exceptions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "relay/message/dkim_canon.h"  // canonical forms, shared with the verifier

namespace relay {

enum class DkimAlgorithm { RsaSha256, Ed25519Sha256 };
const char* dkim_algorithm_name(DkimAlgorithm a);  // "rsa-sha256", "ed25519-sha256"

class DkimKey {
 public:
  static std::unique_ptr<DkimKey> load(const std::string& pem_file, std::string* error);
  static std::unique_ptr<DkimKey> from_pem(const std::string& pem, std::string* error);
  ~DkimKey();
  DkimKey(const DkimKey&) = delete;
  DkimKey& operator=(const DkimKey&) = delete;

  DkimAlgorithm algorithm() const;
  // "v=DKIM1; k=rsa; p=BASE64(SubjectPublicKeyInfo)" or "v=DKIM1; k=ed25519; p=BASE64(32 bytes)".
  std::string dns_record() const;
  // The signature of `data` (the hash input of RFC 6376 3.7): RSA PKCS#1 v1.5 over SHA-256, or
  // Ed25519 over the SHA-256 digest (RFC 8463 3). nullopt and *error on failure.
  std::optional<std::string> sign(const std::string& data, std::string* error) const;

  class Impl;

 private:
  explicit DkimKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct DkimOptions {
  std::string domain;    // d=
  std::string selector;  // s=
  std::vector<std::string> headers = {"from", "to", "subject", "date", "message-id", "mime-version",
                                      "content-type", "tls-report-domain", "tls-report-submitter"};
  int64_t timestamp = 0;  // t=; 0: now
};

// The "DKIM-Signature: ...\r\n" field for `message` (CRLF line ends, header section + body).
std::optional<std::string> dkim_signature(const std::string& message, const DkimKey& key, const DkimOptions& o,
                                          std::string* error);

}  // namespace relay
