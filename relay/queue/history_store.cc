// history_store.cc - the delivery history in its own LMDB environment (see history_store.h).
#include "relay/queue/history_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

namespace relay {

namespace {

// Pruning starts above kHigh of the map and stops below kLow: the rest is room for the free
// list, copy-on-write pages of a transaction and snapshots readers still hold.
constexpr double kHigh = 0.60;
constexpr double kLow = 0.45;
constexpr double kEmergency = 0.25;  // after MDB_MAP_FULL
constexpr size_t kMaxPrunePerFlush = 20000;
constexpr size_t kMaxIndexKey = 400;  // LMDB keys are at most 511 bytes

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

uint64_t from_be64(const MDB_val& v) {
  if (v.mv_size != 8) return 0;
  const auto* p = static_cast<const unsigned char*>(v.mv_data);
  uint64_t out = 0;
  for (int i = 0; i < 8; ++i) out = (out << 8) | p[i];
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> index_keys(const HistoryEvent& e) {
  std::vector<std::string> keys{history_index_key('q', e.id)};
  if (e.kind != HistoryKind::Accepted) return keys;
  if (!e.message_id.empty()) keys.push_back(history_index_key('m', e.message_id));
  if (!e.sender.empty()) keys.push_back(history_index_key('s', e.sender));
  for (const auto& r : e.recipients) keys.push_back(history_index_key('r', r));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace

std::string history_index_key(char kind, const std::string& text) {
  std::string t = text;
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  size_t b = 0;
  while (b < t.size() && std::isspace(static_cast<unsigned char>(t[b]))) ++b;
  t = t.substr(b);
  if (kind == 'm' && t.size() >= 2 && t.front() == '<' && t.back() == '>') t = t.substr(1, t.size() - 2);
  if (kind != 'q') t = lower(t);
  std::string k = std::string(1, kind) + ":" + t;
  if (k.size() > kMaxIndexKey) k.resize(kMaxIndexKey);
  return k;
}

std::unique_ptr<HistoryStore> HistoryStore::open(const std::string& dir, uint32_t days, uint64_t max_mb,
                                                 std::string* error) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create history folder " + dir + ": " + strerror(errno);
    return nullptr;
  }
  std::unique_ptr<HistoryStore> h(new HistoryStore());
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) {
    *error = std::string("mdb_env_create: ") + mdb_strerror(rc);
    return nullptr;
  }
  h->env_.reset(raw);
  h->map_bytes_ = max_mb << 20;
  h->keep_us_ = static_cast<int64_t>(days) * 86400 * 1000000;
  mdb_env_set_maxdbs(raw, 4);
  mdb_env_set_mapsize(raw, h->map_bytes_);
  rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0600);
  if (rc != 0) {
    *error = "cannot open history " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  MDB_envinfo info{};
  mdb_env_info(raw, &info);
  h->map_bytes_ = info.me_mapsize;  // a larger existing file keeps its size
  MDB_stat st{};
  mdb_env_stat(raw, &st);
  h->page_size_ = st.ms_psize;
  base::MdbTxn txn;
  if ((rc = txn.begin(raw, 0)) != 0 || (rc = mdb_dbi_open(txn.get(), "ev", MDB_CREATE, &h->ev_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "ix", MDB_CREATE | MDB_DUPSORT, &h->ix_)) != 0) {
    *error = "cannot open history databases in " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  MDB_cursor* cur = nullptr;
  if (mdb_cursor_open(txn.get(), h->ev_, &cur) == 0) {
    base::MdbCursorPtr owner(cur);
    MDB_val k, v;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0) h->last_key_ = from_be64(k);
  }
  if ((rc = txn.commit()) != 0) {
    *error = "cannot open history databases in " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  return h;
}

HistoryStore::~HistoryStore() {
  if (env_) mdb_env_sync(env_.get(), 1);  // shutdown: what MDB_NOSYNC left in the page cache
}

void HistoryStore::record(HistoryEvent e) {
  bool first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = pending_.empty();
    pending_.push_back(std::move(e));
  }
  if (first && kick_) kick_();
}

void HistoryStore::flush(int64_t now_us) {
  std::vector<HistoryEvent> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return;
  for (double share : {kLow, kEmergency}) {
    base::MdbTxn txn;
    uint64_t saved_last = last_key_;
    int rc = txn.begin(env_.get(), 0);
    if (rc == 0) rc = prune(txn.get(), now_us, share);
    if (rc == 0) rc = write_batch(txn.get(), batch);
    if (rc == 0) rc = txn.commit();
    if (rc == 0) return;
    last_key_ = saved_last;
    if (rc != MDB_MAP_FULL) break;
  }
  dropped_ += batch.size();
}

int HistoryStore::write_batch(MDB_txn* txn, std::vector<HistoryEvent>& batch) {
  for (const auto& e : batch) {
    uint64_t key = std::max<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(e.time_us, 0)), last_key_ + 1);
    std::string k = be64(key), v = encode_history_event(e);
    MDB_val mk = base::mdb_val(k), mv = base::mdb_val(v);
    int rc = mdb_put(txn, ev_, &mk, &mv, MDB_APPEND);
    if (rc != 0) return rc;
    last_key_ = key;
    for (const auto& ik : index_keys(e)) {
      MDB_val ikv = base::mdb_val(ik), ref = base::mdb_val(k);
      rc = mdb_put(txn, ix_, &ikv, &ref, MDB_NODUPDATA);
      if (rc != 0 && rc != MDB_KEYEXIST) return rc;
    }
  }
  return 0;
}

uint64_t HistoryStore::used_pages(MDB_txn* txn) const {
  uint64_t pages = 0;
  for (MDB_dbi d : {static_cast<MDB_dbi>(0), static_cast<MDB_dbi>(1), ev_, ix_}) {  // free list, main, ours
    MDB_stat st{};
    if (mdb_stat(txn, d, &st) == 0) pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
  }
  return pages;
}

// Drops events past history_days, then the oldest while the databases use more than kHigh of
// the map (down to `share`). Bounded per call so that one flush stays short.
int HistoryStore::prune(MDB_txn* txn, int64_t now_us, double share) {
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn, ev_, &raw);
  if (rc != 0) return rc;
  base::MdbCursorPtr cur(raw);
  uint64_t map_pages = map_bytes_ / page_size_;
  size_t n = 0;
  bool more = true;
  uint64_t cutoff = static_cast<uint64_t>(std::max<int64_t>(now_us - keep_us_, 0));
  MDB_val k, v;
  while (more && n < kMaxPrunePerFlush) {
    if (mdb_cursor_get(raw, &k, &v, MDB_FIRST) != 0 || from_be64(k) >= cutoff) break;
    if ((rc = drop_oldest(txn, raw, &more)) != 0) return rc;
    ++n;
  }
  double start = share == kLow ? kHigh : share;
  if (used_pages(txn) <= static_cast<uint64_t>(map_pages * start)) return 0;
  uint64_t goal = static_cast<uint64_t>(map_pages * share);
  while (more && n < kMaxPrunePerFlush) {
    for (int i = 0; i < 64 && more; ++i, ++n) {
      if ((rc = drop_oldest(txn, raw, &more)) != 0) return rc;
    }
    if (used_pages(txn) <= goal) break;
  }
  return 0;
}

int HistoryStore::drop_oldest(MDB_txn* txn, MDB_cursor* cur, bool* more) {
  MDB_val k, v;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  if (rc == MDB_NOTFOUND) {
    *more = false;
    return 0;
  }
  if (rc != 0) return rc;
  HistoryEvent e;
  std::string key = base::mdb_str(k);
  if (decode_history_event(base::mdb_str(v), &e)) {
    for (const auto& ik : index_keys(e)) {
      MDB_val ikv = base::mdb_val(ik), ref = base::mdb_val(key);
      rc = mdb_del(txn, ix_, &ikv, &ref);
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    }
  }
  return mdb_cursor_del(cur, 0);
}

std::vector<std::string> HistoryStore::find(const std::string& q, size_t limit) const {
  std::vector<std::pair<uint64_t, std::string>> hits;  // (event key, queue id)
  base::MdbTxn txn;
  if (txn.begin(env_.get(), MDB_RDONLY) != 0) return {};
  MDB_cursor* raw = nullptr;
  if (mdb_cursor_open(txn.get(), ix_, &raw) != 0) return {};
  base::MdbCursorPtr cur(raw);
  std::set<std::string> seen;
  for (char kind : {'q', 'm', 's', 'r'}) {
    std::string ik = history_index_key(kind, q);
    MDB_val k = base::mdb_val(ik), v;
    for (int rc = mdb_cursor_get(raw, &k, &v, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT_DUP)) {
      MDB_val ev;
      if (mdb_get(txn.get(), ev_, &v, &ev) != 0) continue;
      HistoryEvent e;
      if (decode_history_event(base::mdb_str(ev), &e) && seen.insert(e.id).second) {
        hits.emplace_back(from_be64(v), e.id);
      }
    }
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> ids;
  for (size_t i = 0; i < hits.size() && i < limit; ++i) ids.push_back(hits[i].second);
  return ids;
}

std::vector<HistoryEvent> HistoryStore::events_of(const std::string& id) const {
  std::vector<HistoryEvent> out;
  base::MdbTxn txn;
  if (txn.begin(env_.get(), MDB_RDONLY) != 0) return out;
  MDB_cursor* raw = nullptr;
  if (mdb_cursor_open(txn.get(), ix_, &raw) != 0) return out;
  base::MdbCursorPtr cur(raw);
  std::string ik = history_index_key('q', id);
  MDB_val k = base::mdb_val(ik), v;
  for (int rc = mdb_cursor_get(raw, &k, &v, MDB_SET_KEY); rc == 0; rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT_DUP)) {
    MDB_val ev;
    HistoryEvent e;
    if (mdb_get(txn.get(), ev_, &v, &ev) == 0 && decode_history_event(base::mdb_str(ev), &e)) {
      out.push_back(std::move(e));
    }
  }
  return out;  // dups are sorted by event key: oldest first
}

void HistoryStore::scan_since(int64_t since_us, const std::function<bool(const HistoryEvent&)>& f) const {
  base::MdbTxn txn;
  if (txn.begin(env_.get(), MDB_RDONLY) != 0) return;
  MDB_cursor* raw = nullptr;
  if (mdb_cursor_open(txn.get(), ev_, &raw) != 0) return;
  base::MdbCursorPtr cur(raw);
  std::string start = be64(static_cast<uint64_t>(std::max<int64_t>(since_us, 0)));
  MDB_val k = base::mdb_val(start), v;
  for (int rc = mdb_cursor_get(raw, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT)) {
    HistoryEvent e;
    if (decode_history_event(base::mdb_str(v), &e) && !f(e)) return;
  }
}

uint64_t HistoryStore::used_bytes() const {
  base::MdbTxn txn;
  if (txn.begin(env_.get(), MDB_RDONLY) != 0) return 0;
  return used_pages(txn.get()) * page_size_;
}

uint64_t HistoryStore::file_bytes() const {
  const char* path = nullptr;
  mdb_env_get_path(env_.get(), &path);
  struct stat st {};
  if (!path || stat((std::string(path) + "/data.mdb").c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

size_t HistoryStore::count() const {
  base::MdbTxn txn;
  MDB_stat st{};
  if (txn.begin(env_.get(), MDB_RDONLY) != 0 || mdb_stat(txn.get(), ev_, &st) != 0) return 0;
  return st.ms_entries;
}

}  // namespace relay
