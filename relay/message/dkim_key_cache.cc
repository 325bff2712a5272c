// dkim_key_cache.cc - DKIM key lookups and their cache (see dkim_key_cache.h).
#include "relay/message/dkim_key_cache.h"

#include <algorithm>
#include <ctime>
#include <iterator>

namespace relay {

namespace {

constexpr uint32_t kMinTtl = 60, kMaxTtl = 86400, kNegativeTtl = 60;

DkimKeyAnswer from_dns(const router::DnsAnswer& a) {
  DkimKeyAnswer out;
  out.secure = a.security == router::DnsSecurity::Secure;
  switch (a.status) {
    case router::DnsStatus::Ok:
      if (a.txt.empty()) break;
      out.status = DkimKeyAnswer::Status::Found;
      out.record = a.txt[0];
      for (const auto& t : a.txt) {
        if (t.compare(0, 7, "v=DKIM1") == 0) {
          out.record = t;
          break;
        }
      }
      return out;
    case router::DnsStatus::NoData: break;
    case router::DnsStatus::NxDomain:
      out.status = DkimKeyAnswer::Status::None;
      out.reason = "no key record (NXDOMAIN)";
      return out;
    case router::DnsStatus::TempFail:
      out.status = DkimKeyAnswer::Status::TempFail;
      out.reason = "key lookup failed: " + (a.reason.empty() ? std::string("temporary DNS failure") : a.reason);
      return out;
  }
  out.status = DkimKeyAnswer::Status::None;
  out.reason = "no key record (no TXT data)";
  return out;
}

}  // namespace

router::DnsLookup DkimKeyCache::fetch(const std::string& name, std::function<void(DkimKeyAnswer)> cb) {
  const int64_t now = static_cast<int64_t>(time(nullptr));
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    if (it->second.expires > now) {
      cb(it->second.answer);
      return {};
    }
    entries_.erase(it);
  }
  return dns_.lookup(name, router::DnsType::TXT, [this, name, cb = std::move(cb)](router::DnsAnswer a) {
    DkimKeyAnswer k = from_dns(a);
    if (k.status != DkimKeyAnswer::Status::TempFail) store(name, k, k.status == DkimKeyAnswer::Status::Found ? a.ttl : kNegativeTtl);
    cb(std::move(k));
  });
}

void DkimKeyCache::store(const std::string& name, const DkimKeyAnswer& a, uint32_t ttl) {
  const int64_t now = static_cast<int64_t>(time(nullptr));
  if (entries_.size() >= kMaxEntries) {
    // Expired entries go first; if none has, the cache starts over (keys are cheap to fetch again).
    for (auto it = entries_.begin(); it != entries_.end();) it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
    if (entries_.size() >= kMaxEntries) entries_.clear();
  }
  ttl = std::max(kMinTtl, std::min(kMaxTtl, ttl));
  entries_[name] = Entry{a, now + ttl};
}

}  // namespace relay
