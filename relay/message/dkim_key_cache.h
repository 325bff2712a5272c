// dkim_key_cache.h - DKIM public keys (TXT at SELECTOR._domainkey.DOMAIN) looked up through the
// relay's own asynchronous resolver (router/dns: DNSSEC-validated when dns.dnssec) and cached.
//
// A found record is kept for its TTL (at least a minute, at most a day); a name that does not
// exist, or has no TXT record, for a minute; a temporary failure is never cached. The cache lives
// as long as the relay (reloads keep it) and holds at most kMaxEntries names.
//
// How it fails: a lookup's outcome is a DkimKeyAnswer value (Found, None, TempFail); the callback
// runs later from the event loop (or at once on a cache hit: callers must allow for that).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "router/dns/dns_resolver.h"

namespace relay {

struct DkimKeyAnswer {
  enum class Status { Found, None, TempFail } status = Status::TempFail;
  std::string record;  // Found: the TXT strings joined (the first record starting with v=DKIM1, or the first)
  bool secure = false; // DNSSEC-validated
  std::string reason;  // not Found: in words
};

class DkimKeyCache {
 public:
  static constexpr size_t kMaxEntries = 10000;
  explicit DkimKeyCache(router::DnsService& dns) : dns_(dns) {}

  // `name` is "SELECTOR._domainkey.DOMAIN". A hit calls cb before returning (the handle is then
  // empty); a miss starts a lookup whose handle cancels it.
  [[nodiscard]] router::DnsLookup fetch(const std::string& name, std::function<void(DkimKeyAnswer)> cb);

 private:
  struct Entry {
    DkimKeyAnswer answer;
    int64_t expires = 0;  // unix seconds
  };
  void store(const std::string& name, const DkimKeyAnswer& a, uint32_t ttl);

  router::DnsService& dns_;
  std::map<std::string, Entry> entries_;
};

}  // namespace relay
