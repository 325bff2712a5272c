// mta_sts_cache.cc - the LMDB policy cache (see the header).
#include "router/mta_sts/mta_sts_cache.h"

#include "router/base/lmdb_handles.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace router {
namespace {

constexpr size_t kMapBytes = 64u << 20;  // sparse; thousands of policies fit in a few MiB

}  // namespace

class StsCache::Env {
 public:
  base::MdbEnvPtr env;
  MDB_dbi dbi = 0;
};

std::string sts_cache_dir(const std::string& queue_path) { return queue_path + "/mta-sts"; }

bool sts_refresh_due(const CachedPolicy& c, int64_t now) {
  int64_t ahead = std::min<int64_t>((c.expires - c.fetched) / 4, kStsRefreshMaxAhead);
  return now >= c.expires - ahead;
}

std::string encode_cached_policy(const CachedPolicy& c) {
  return "sts-cache 1\nid " + c.id + "\nfetched " + std::to_string(c.fetched) + "\nexpires " +
         std::to_string(c.expires) + "\n\n" + format_sts_policy(c.policy);
}

std::optional<CachedPolicy> decode_cached_policy(const std::string& data) {
  size_t blank = data.find("\n\n");
  if (data.compare(0, 12, "sts-cache 1\n") != 0 || blank == std::string::npos) return std::nullopt;
  CachedPolicy c;
  std::istringstream head(data.substr(12, blank - 12));
  std::string key;
  bool id = false, fetched = false, expires = false;
  while (head >> key) {
    if (key == "id") id = static_cast<bool>(head >> c.id);
    else if (key == "fetched") fetched = static_cast<bool>(head >> c.fetched);
    else if (key == "expires") expires = static_cast<bool>(head >> c.expires);
    else return std::nullopt;
  }
  if (!id || !fetched || !expires) return std::nullopt;
  auto parsed = parse_sts_policy(data.substr(blank + 2));
  if (!parsed.policy) return std::nullopt;
  c.policy = *parsed.policy;
  return c;
}

StsCache::StsCache(std::unique_ptr<Env> env) : env_(std::move(env)) {}
StsCache::~StsCache() = default;

std::unique_ptr<StsCache> StsCache::open(const std::string& dir, std::string* error) {
  auto e = std::make_unique<Env>();
  base::MdbEnvPtr env = base::open_lmdb_dir(dir, kMapBytes, MDB_NOSYNC, &e->dbi, "the MTA-STS cache", error);
  if (!env) return nullptr;
  e->env = std::move(env);
  return std::unique_ptr<StsCache>(new StsCache(std::move(e)));
}

std::optional<CachedPolicy> StsCache::get(const std::string& domain) {
  base::MdbTxn txn;
  if (txn.begin(env_->env.get(), MDB_RDONLY) != 0) return std::nullopt;
  std::string k = normalise_domain(domain);
  MDB_val key = base::mdb_val(k), data;
  if (mdb_get(txn.get(), env_->dbi, &key, &data) != 0) return std::nullopt;
  return decode_cached_policy(base::mdb_str(data));
}

bool StsCache::put(const std::string& domain, const CachedPolicy& c, std::string* error) {
  base::MdbTxn txn;
  std::string k = normalise_domain(domain), v = encode_cached_policy(c);
  MDB_val key = base::mdb_val(k), data = base::mdb_val(v);
  int rc = txn.begin(env_->env.get(), 0);
  if (rc == 0) rc = mdb_put(txn.get(), env_->dbi, &key, &data, 0);
  if (rc == 0) rc = txn.commit();
  if (rc != 0) *error = std::string("MTA-STS cache write failed: ") + mdb_strerror(rc);
  return rc == 0;
}

bool StsCache::remove(const std::string& domain) {
  base::MdbTxn txn;
  std::string k = normalise_domain(domain);
  MDB_val key = base::mdb_val(k);
  return txn.begin(env_->env.get(), 0) == 0 && mdb_del(txn.get(), env_->dbi, &key, nullptr) == 0 && txn.commit() == 0;
}

std::vector<std::pair<std::string, CachedPolicy>> StsCache::list() {
  std::vector<std::pair<std::string, CachedPolicy>> out;
  base::MdbTxn txn;
  MDB_cursor* raw = nullptr;
  if (txn.begin(env_->env.get(), MDB_RDONLY) != 0 || mdb_cursor_open(txn.get(), env_->dbi, &raw) != 0) return out;
  base::MdbCursorPtr cur(raw);
  MDB_val key, data;
  for (int rc = mdb_cursor_get(raw, &key, &data, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(raw, &key, &data, MDB_NEXT)) {
    if (auto c = decode_cached_policy(base::mdb_str(data))) out.emplace_back(base::mdb_str(key), *c);
  }
  return out;
}

}  // namespace router
