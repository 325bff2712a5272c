// dkim_verifier.h - verifying DKIM signatures (RFC 6376 section 6) with wolfSSL: rsa-sha256
// (RFC 8301: keys of 1024 bits and more) and ed25519-sha256 (RFC 8463); simple and relaxed
// canonicalisation; the l= body length and the x= expiry honoured.
//
// Verifying is split in two so that the caller fetches keys its own (asynchronous) way:
// dkim_signatures() parses every DKIM-Signature field of a message; dkim_verify() checks one of
// them against the TXT record of SELECTOR._domainkey.DOMAIN. Both are CPU work only.
//
// How it fails: never by exception; a signature that cannot be parsed or does not verify is a
// DkimCheck with result PermFail or Fail and the reason in words ("body hash mismatch",
// "signature expired at ...", "key revoked").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/message/dkim_canon.h"

namespace relay {

// RFC 8601 2.7.1 words: pass, fail (did not verify), neutral is not used, temperror (key lookup
// failed for now), permerror (signature or key unusable).
enum class DkimResult { Pass, Fail, TempError, PermError };
const char* dkim_result_name(DkimResult r);  // "pass", "fail", "temperror", "permerror"

struct DkimSignature {
  size_t field_index = 0;  // among the message's header fields
  std::string field;       // the whole DKIM-Signature field, as received
  std::string error;       // not empty: unusable (PermError), the other members may be partial
  std::string algorithm;   // "rsa-sha256" | "ed25519-sha256"
  std::string domain;      // d=, lower case
  std::string selector;    // s=
  std::string auid;        // i=, or "@" + d=
  DkimCanon header_canon = DkimCanon::Simple;
  DkimCanon body_canon = DkimCanon::Simple;
  std::vector<std::string> headers;  // h=, lower case
  std::string body_hash;             // bh=, decoded
  std::string signature;             // b=, decoded
  std::optional<uint64_t> length;    // l=
  std::optional<int64_t> timestamp;  // t=
  std::optional<int64_t> expires;    // x=
  std::string b_prefix;              // the first 8 characters of b=, for header.b (RFC 6008)
  std::string key_name() const { return selector + "._domainkey." + domain; }
};

// Every DKIM-Signature field of `message`, top to bottom (at most `limit`; more are ignored).
std::vector<DkimSignature> dkim_signatures(const std::string& message, size_t limit = 16);

struct DkimCheck {
  DkimResult result = DkimResult::PermError;
  std::string reason;  // empty on pass
};

// Checks `sig` of `message` with the key record (TXT, strings joined) at `now` (unix seconds).
DkimCheck dkim_verify(const std::string& message, const DkimSignature& sig, const std::string& key_record,
                      int64_t now);

}  // namespace relay
