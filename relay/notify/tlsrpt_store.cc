// tlsrpt_store.cc - TLS-RPT daily counters in LMDB (see the header).
//
// Keys: "e\tDAY\tDOMAIN\tTYPE\tID" for entries, "s\tDAY\tDOMAIN" for sent marks; DAY sorts by
// date, so days() and prune_before() walk the keys in order. Values are length-prefixed fields
// ("5:hello"), so any byte in a HELO name or a policy line survives.
#include "relay/notify/tlsrpt_store.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "router/base/utc_time.h"
#include "router/base/lmdb_handles.h"

namespace relay {
namespace {

constexpr size_t kMapBytes = 256u << 20;

void put_field(std::string* out, const std::string& s) {
  *out += std::to_string(s.size());
  *out += ':';
  *out += s;
}

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool field(std::string* out) {
    size_t colon = s_.find(':', pos_);
    if (colon == std::string::npos || colon == pos_ || colon - pos_ > 9) return false;
    size_t n = 0;
    for (size_t i = pos_; i < colon; ++i) {
      if (s_[i] < '0' || s_[i] > '9') return false;
      n = n * 10 + static_cast<size_t>(s_[i] - '0');
    }
    if (colon + 1 + n > s_.size()) return false;
    *out = s_.substr(colon + 1, n);
    pos_ = colon + 1 + n;
    return true;
  }
  bool number(uint64_t* out) {
    std::string t;
    if (!field(&t) || t.empty() || t.size() > 19 || t.find_first_not_of("0123456789") != std::string::npos)
      return false;
    *out = std::stoull(t);
    return true;
  }
  bool list(std::vector<std::string>* out) {
    uint64_t n = 0;
    if (!number(&n) || n > 100000) return false;
    out->resize(n);
    for (auto& s : *out) {
      if (!field(&s)) return false;
    }
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

void put_list(std::string* out, const std::vector<std::string>& v) {
  put_field(out, std::to_string(v.size()));
  for (const auto& s : v) put_field(out, s);
}

bool same_detail(const FailureDetail& a, const FailureDetail& b) {
  return a.result_type == b.result_type && a.sending_mta_ip == b.sending_mta_ip &&
         a.receiving_mx_hostname == b.receiving_mx_hostname && a.receiving_mx_helo == b.receiving_mx_helo &&
         a.receiving_ip == b.receiving_ip && a.failure_reason_code == b.failure_reason_code &&
         a.additional_information == b.additional_information;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string entry_key(const std::string& day, const std::string& domain, const TlsrptPolicy& p) {
  return "e\t" + day + "\t" + lower(domain) + "\t" + p.type + "\t" + p.id;
}

}  // namespace

class TlsrptStore::Env {
 public:
  base::MdbEnvPtr env;
  MDB_dbi dbi = 0;
};

std::string tlsrpt_dir(const std::string& queue_path) { return queue_path + "/tlsrpt"; }

std::string utc_day(int64_t unix_seconds) { return base::utc_format(unix_seconds, "%Y-%m-%d"); }

std::optional<int64_t> day_start(const std::string& day) {
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (day.size() != 10 || sscanf(day.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3) return std::nullopt;
  if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  tm u{};
  u.tm_year = y - 1900;
  u.tm_mon = m - 1;
  u.tm_mday = d;
  int64_t t = static_cast<int64_t>(timegm(&u));
  if (utc_day(t) != day) return std::nullopt;  // 2026-02-30 and the like
  return t;
}

std::string encode_tlsrpt_entry(const TlsrptEntry& e) {
  std::string out;
  put_field(&out, "tlsrpt1");
  put_field(&out, e.day);
  put_field(&out, e.domain);
  put_field(&out, e.policy.type);
  put_field(&out, e.policy.id);
  put_list(&out, e.policy.strings);
  put_list(&out, e.policy.mx_hosts);
  put_field(&out, std::to_string(e.success));
  put_field(&out, std::to_string(e.failure));
  put_field(&out, std::to_string(e.details.size()));
  for (const auto& d : e.details) {
    put_list(&out, {d.result_type, d.sending_mta_ip, d.receiving_mx_hostname, d.receiving_mx_helo, d.receiving_ip,
                    d.failure_reason_code, d.additional_information});
    put_field(&out, std::to_string(d.count));
  }
  return out;
}

std::optional<TlsrptEntry> decode_tlsrpt_entry(const std::string& data) {
  Reader r(data);
  TlsrptEntry e;
  std::string magic;
  uint64_t n = 0;
  if (!r.field(&magic) || magic != "tlsrpt1" || !r.field(&e.day) || !r.field(&e.domain) ||
      !r.field(&e.policy.type) || !r.field(&e.policy.id) || !r.list(&e.policy.strings) ||
      !r.list(&e.policy.mx_hosts) || !r.number(&e.success) || !r.number(&e.failure) || !r.number(&n) ||
      n > kMaxDetails)
    return std::nullopt;
  for (uint64_t i = 0; i < n; ++i) {
    std::vector<std::string> f;
    FailureDetail d;
    if (!r.list(&f) || f.size() != 7 || !r.number(&d.count)) return std::nullopt;
    d.result_type = f[0];
    d.sending_mta_ip = f[1];
    d.receiving_mx_hostname = f[2];
    d.receiving_mx_helo = f[3];
    d.receiving_ip = f[4];
    d.failure_reason_code = f[5];
    d.additional_information = f[6];
    e.details.push_back(std::move(d));
  }
  if (!r.done()) return std::nullopt;
  return e;
}

TlsrptStore::TlsrptStore(std::unique_ptr<Env> env) : env_(std::move(env)) {}
TlsrptStore::~TlsrptStore() = default;

std::unique_ptr<TlsrptStore> TlsrptStore::open(const std::string& dir, std::string* error) {
  auto e = std::make_unique<Env>();
  e->env = base::open_lmdb_dir(dir, kMapBytes, MDB_NOSYNC, &e->dbi, "the TLS-RPT store", error);
  if (!e->env) return nullptr;
  return std::unique_ptr<TlsrptStore>(new TlsrptStore(std::move(e)));
}

bool TlsrptStore::update(const std::string& domain, const TlsrptPolicy& policy, int64_t when,
                         const FailureDetail* fail) {
  if (when == 0) when = static_cast<int64_t>(time(nullptr));
  const std::string day = utc_day(when);
  const std::string k = entry_key(day, domain, policy);
  base::MdbTxn txn;
  if (txn.begin(env_->env.get(), 0) != 0) return false;
  MDB_val key = base::mdb_val(k), data;
  std::optional<TlsrptEntry> e;
  if (mdb_get(txn.get(), env_->dbi, &key, &data) == 0) e = decode_tlsrpt_entry(base::mdb_str(data));
  if (!e) {
    e = TlsrptEntry{};
    e->day = day;
    e->domain = lower(domain);
  }
  e->policy = policy;  // the latest wording of the same policy (type + id)
  if (!fail) {
    ++e->success;
  } else {
    ++e->failure;
    bool merged = false;
    for (auto& d : e->details) {
      if (same_detail(d, *fail)) {
        ++d.count;
        merged = true;
        break;
      }
    }
    if (!merged && e->details.size() < kMaxDetails) {
      e->details.push_back(*fail);
      e->details.back().count = 1;
    }
  }
  std::string v = encode_tlsrpt_entry(*e);
  MDB_val value = base::mdb_val(v);
  return mdb_put(txn.get(), env_->dbi, &key, &value, 0) == 0 && txn.commit() == 0;
}

bool TlsrptStore::record_success(const std::string& domain, const TlsrptPolicy& policy, const std::string&,
                                 int64_t when) {
  return update(domain, policy, when, nullptr);
}

bool TlsrptStore::record_failure(const std::string& domain, const TlsrptPolicy& policy,
                                 const FailureDetail& detail, int64_t when) {
  return update(domain, policy, when, &detail);
}

std::vector<TlsrptEntry> TlsrptStore::entries(const std::string& day) {
  std::vector<TlsrptEntry> out;
  base::MdbTxn txn;
  MDB_cursor* raw = nullptr;
  if (txn.begin(env_->env.get(), MDB_RDONLY) != 0 || mdb_cursor_open(txn.get(), env_->dbi, &raw) != 0) return out;
  base::MdbCursorPtr cur(raw);
  const std::string prefix = "e\t" + day + "\t";
  MDB_val key = base::mdb_val(prefix), data;
  for (int rc = mdb_cursor_get(raw, &key, &data, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(raw, &key, &data, MDB_NEXT)) {
    if (base::mdb_str(key).compare(0, prefix.size(), prefix) != 0) break;
    if (auto e = decode_tlsrpt_entry(base::mdb_str(data))) out.push_back(std::move(*e));
  }
  return out;
}

std::vector<std::string> TlsrptStore::days() {
  std::vector<std::string> out;
  base::MdbTxn txn;
  MDB_cursor* raw = nullptr;
  if (txn.begin(env_->env.get(), MDB_RDONLY) != 0 || mdb_cursor_open(txn.get(), env_->dbi, &raw) != 0) return out;
  base::MdbCursorPtr cur(raw);
  std::string start = "e\t";
  MDB_val key = base::mdb_val(start), data;
  for (int rc = mdb_cursor_get(raw, &key, &data, MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(raw, &key, &data, MDB_NEXT)) {
    std::string k = base::mdb_str(key);
    if (k.compare(0, 2, "e\t") != 0) break;
    std::string day = k.substr(2, 10);
    if (out.empty() || out.back() != day) out.push_back(day);
  }
  return out;
}

bool TlsrptStore::mark_sent(const std::string& day, const std::string& domain) {
  base::MdbTxn txn;
  if (txn.begin(env_->env.get(), 0) != 0) return false;
  std::string k = "s\t" + day + "\t" + lower(domain), v = std::to_string(time(nullptr));
  MDB_val key = base::mdb_val(k), value = base::mdb_val(v);
  return mdb_put(txn.get(), env_->dbi, &key, &value, 0) == 0 && txn.commit() == 0;
}

bool TlsrptStore::is_sent(const std::string& day, const std::string& domain) {
  base::MdbTxn txn;
  if (txn.begin(env_->env.get(), MDB_RDONLY) != 0) return false;
  std::string k = "s\t" + day + "\t" + lower(domain);
  MDB_val key = base::mdb_val(k), data;
  return mdb_get(txn.get(), env_->dbi, &key, &data) == 0;
}

size_t TlsrptStore::prune_before(const std::string& day) {
  base::MdbTxn txn;
  MDB_cursor* raw = nullptr;
  if (txn.begin(env_->env.get(), 0) != 0 || mdb_cursor_open(txn.get(), env_->dbi, &raw) != 0) return 0;
  size_t n = 0;
  {
    base::MdbCursorPtr cur(raw);
    MDB_val key, data;
    for (int rc = mdb_cursor_get(raw, &key, &data, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(raw, &key, &data, MDB_NEXT)) {
      std::string k = base::mdb_str(key);
      if (k.size() >= 12 && k.substr(2, 10) < day && mdb_cursor_del(raw, 0) == 0) ++n;
    }
  }
  return txn.commit() == 0 ? n : 0;
}

}  // namespace relay
