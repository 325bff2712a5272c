// fuzz_dkim_verify.cc - libFuzzer target: DKIM parsing and verification (relay/message/dkim_*.h).
//
// With relay_policy.require_dkim every message from the upstream, and the key records its
// signatures name, reach this code: both are attacker-controlled. The input is the message, a
// NUL, then the key record (no NUL: a fixed Ed25519 record). Every signature is verified against
// the record; both canonicalisations run over the body.
// Checks: no crash or sanitizer report; a simple canonical body always ends in CRLF.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "relay/message/base64.h"
#include "relay/message/dkim_canon.h"
#include "relay/message/dkim_verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 100000) return 0;
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string message = in.substr(0, nul);
  std::string key = nul == std::string::npos ? "v=DKIM1; k=ed25519; p=6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
                                             : in.substr(nul + 1);
  for (const auto& sig : relay::dkim_signatures(message)) {
    (void)relay::dkim_verify(message, sig, key, 1795400000);
  }
  std::string simple = relay::dkim_canon_body(message, relay::DkimCanon::Simple);
  if (simple.size() < 2 || simple.compare(simple.size() - 2, 2, "\r\n") != 0) abort();
  (void)relay::dkim_canon_body(message, relay::DkimCanon::Relaxed);
  (void)relay::dkim_tag_list(key);
  (void)relay::base64_decode(key);
  return 0;
}
