// mta_sts_cache.h - MTA-STS policies remembered in LMDB for their max_age (RFC 8461 5).
//
// Location: its own LMDB environment in the folder QUEUE_PATH/mta-sts/ (created mode 0700), apart
// from the queue's environment (QUEUE_PATH/data.mdb with its "env" and "body" databases), so
// neither can fill the other's map or lock the other's writers. sts_cache_dir() names the folder;
// the daemon and `smarthost mta-sts check` share it (LMDB allows several processes).
// One key per policy domain (lower case); the value is a small text record: id, fetch time,
// expiry, then the policy in canonical form (format_sts_policy()).
//
// Durability: opened with MDB_NOSYNC. A cache entry is worth a fetch, not an fsync on the event
// loop; after a crash the last entries may be missing and are fetched again. Each put is one
// short write transaction (a few KiB) and never waits on the disk.
//
// How it fails: open() returns nullptr and *error when the folder or the environment cannot be
// made; get() returns nullopt for a missing or unreadable entry (a corrupt entry counts as missing
// and is overwritten by the next put); put() and remove() return false with *error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "router/mta_sts/mta_sts_policy.h"

namespace router {

struct CachedPolicy {
  std::string id;       // the TXT id the policy was fetched under
  int64_t fetched = 0;  // unix seconds
  int64_t expires = 0;  // fetched + max_age
  StsPolicy policy;
};

std::string sts_cache_dir(const std::string& queue_path);  // QUEUE_PATH/mta-sts

// Proactive refresh (RFC 8461 5.1 and 10.2: refresh before a policy expires, so an attacker who
// blocks the fetch later finds a fresh policy still cached): a cached policy that has less than
// a quarter of its max_age left (and at most a day) is fetched anew when it is next used, even
// though the TXT id is unchanged. A failed refresh keeps the cached policy until it expires.
constexpr int64_t kStsRefreshMaxAhead = 86400;
bool sts_refresh_due(const CachedPolicy& c, int64_t now);

// Encoding, exposed for tests.
std::string encode_cached_policy(const CachedPolicy& c);
std::optional<CachedPolicy> decode_cached_policy(const std::string& data);

class StsCache {
 public:
  static std::unique_ptr<StsCache> open(const std::string& dir, std::string* error);
  ~StsCache();
  StsCache(const StsCache&) = delete;
  StsCache& operator=(const StsCache&) = delete;

  std::optional<CachedPolicy> get(const std::string& domain);
  bool put(const std::string& domain, const CachedPolicy& c, std::string* error);
  bool remove(const std::string& domain);
  std::vector<std::pair<std::string, CachedPolicy>> list();

  class Env;  // the LMDB environment and database handle

 private:
  explicit StsCache(std::unique_ptr<Env> env);
  std::unique_ptr<Env> env_;
};

}  // namespace router
