// dns_resolver.cc - libunbound driven by libevent; RDATA parsed by hand.
//
// libunbound 1.17's public API gives RDATA only as raw wire bytes (result->data[]); its sldns
// parsers are not in the installed headers, so the few formats we need are parsed here.
//
// Each query is a Pending owned by Core. Its one timer event does two jobs: it fires after
// dns.timeout seconds (time-out: the query is cancelled in libunbound), or it is activated by
// hand when libunbound's answer arrives. Either way the user callback runs from that libevent
// callback, after the Pending is erased, so the callback may destroy the handle or the resolver.
// libunbound's own callback (inside ub_process) only stores the answer: user code never runs
// inside ub_process, which therefore never sees its context deleted under it.
#include "router/dns/dns_resolver.h"
#include "router/base/event_handles.h"
#include "config/duration.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <unbound.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <map>
#include <unordered_map>

namespace router {

const char* dns_type_name(DnsType t) {
  switch (t) {
    case DnsType::A: return "A";
    case DnsType::AAAA: return "AAAA";
    case DnsType::MX: return "MX";
    case DnsType::TXT: return "TXT";
    case DnsType::TLSA: return "TLSA";
  }
  return "?";
}

const char* dns_status_name(DnsStatus s) {
  switch (s) {
    case DnsStatus::Ok: return "ok";
    case DnsStatus::NoData: return "no data";
    case DnsStatus::NxDomain: return "NXDOMAIN";
    case DnsStatus::TempFail: return "temporary failure";
  }
  return "?";
}

const char* dns_security_name(DnsSecurity s) {
  switch (s) {
    case DnsSecurity::Insecure: return "insecure";
    case DnsSecurity::Secure: return "secure";
    case DnsSecurity::Bogus: return "bogus";
  }
  return "?";
}

namespace {

int rr_type(DnsType t) {
  switch (t) {
    case DnsType::A: return 1;
    case DnsType::AAAA: return 28;
    case DnsType::MX: return 15;
    case DnsType::TXT: return 16;
    case DnsType::TLSA: return 52;
  }
  return 0;
}

const char* rcode_name(int rcode) {
  switch (rcode) {
    case 1: return "FORMERR";
    case 2: return "SERVFAIL";
    case 4: return "NOTIMP";
    case 5: return "REFUSED";
    default: return "error rcode";
  }
}

void append_label_char(std::string* out, unsigned char c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
  if (c > 0x20 && c < 0x7f && c != '.' && c != '\\') {
    out->push_back(static_cast<char>(c));
    return;
  }
  char esc[5];
  snprintf(esc, sizeof esc, "\\%03u", c);  // presentation-format escape
  out->append(esc);
}

// Appends the parsed records of one type; false when a record is malformed.
bool add_record(DnsAnswer* a, const uint8_t* p, size_t len) {
  switch (a->type) {
    case DnsType::A:
    case DnsType::AAAA: {
      auto addr = parse_address_rdata(p, len, a->type);
      if (addr) a->addresses.push_back(*addr);
      return addr.has_value();
    }
    case DnsType::MX: {
      auto mx = parse_mx_rdata(p, len);
      if (mx) a->mx.push_back(*mx);
      return mx.has_value();
    }
    case DnsType::TXT: {
      auto txt = parse_txt_rdata(p, len);
      if (txt) a->txt.push_back(*txt);
      return txt.has_value();
    }
    case DnsType::TLSA: {
      auto tlsa = parse_tlsa_rdata(p, len);
      if (tlsa) a->tlsa.push_back(*tlsa);
      return tlsa.has_value();
    }
  }
  return false;
}

std::string strip_dot(const char* name) {
  std::string s = name ? name : "";
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

void fill_status(DnsAnswer* a, const ub_result& r) {
  if (r.bogus) {
    a->status = DnsStatus::TempFail;
    a->reason = std::string("DNSSEC validation failed: ") + (r.why_bogus ? r.why_bogus : "bogus");
  } else if (r.nxdomain || r.rcode == 3) {
    a->status = DnsStatus::NxDomain;
    a->reason = "name does not exist (NXDOMAIN)";
  } else if (r.rcode != 0) {
    a->status = DnsStatus::TempFail;
    a->reason = std::string("server answered ") + rcode_name(r.rcode);
  } else if (!r.havedata) {
    a->status = DnsStatus::NoData;
    a->reason = std::string("no ") + dns_type_name(a->type) + " records";
  } else {
    a->status = DnsStatus::Ok;
  }
}

DnsAnswer answer_from_result(const std::string& name, DnsType type, const ub_result& r) {
  DnsAnswer a;
  a.name = name;
  a.type = type;
  a.security = r.secure ? DnsSecurity::Secure : r.bogus ? DnsSecurity::Bogus : DnsSecurity::Insecure;
  a.ttl = r.ttl > 0 ? static_cast<uint32_t>(r.ttl) : 0;
  a.canonical_name = strip_dot(r.canonname);
  fill_status(&a, r);
  if (a.status != DnsStatus::Ok) return a;
  size_t bad = 0, good = 0;
  for (size_t i = 0; r.data[i]; ++i) {
    bool ok = add_record(&a, reinterpret_cast<const uint8_t*>(r.data[i]), static_cast<size_t>(r.len[i]));
    (ok ? good : bad)++;
  }
  if (good == 0) {  // a malformed answer may be a broken middlebox: worth a retry, never a bounce
    a.status = DnsStatus::TempFail;
    a.reason = std::to_string(bad) + " malformed " + dns_type_name(type) + " record(s)";
  }
  return a;
}

DnsAnswer failed(const std::string& name, DnsType type, std::string reason) {
  DnsAnswer a;
  a.name = name;
  a.type = type;
  a.status = DnsStatus::TempFail;
  a.reason = std::move(reason);
  return a;
}

struct UbCtxFree {
  void operator()(ub_ctx* c) const { ub_ctx_delete(c); }
};
struct UbResultFree {
  void operator()(ub_result* r) const { ub_resolve_free(r); }
};
}  // namespace

// ---- RDATA parsers ---------------------------------------------------------------------------

std::optional<std::string> parse_wire_name(const uint8_t* p, size_t len, size_t* used) {
  std::string out;
  size_t i = 0;
  while (i < len) {
    size_t label = p[i++];
    if (label == 0) {
      if (used) *used = i;
      return out;
    }
    // 0xC0 is a compression pointer: libunbound stores RDATA names uncompressed, so a pointer
    // (or the reserved 0x40/0x80 forms) means the data is not what we expect.
    if (label > 63 || i + label > len || out.size() + label > 253) return std::nullopt;
    if (!out.empty()) out.push_back('.');
    for (size_t k = 0; k < label; ++k) append_label_char(&out, p[i + k]);
    i += label;
  }
  return std::nullopt;  // ran off the end without the root label
}

std::optional<MxRecord> parse_mx_rdata(const uint8_t* p, size_t len) {
  if (len < 3) return std::nullopt;
  MxRecord mx;
  mx.preference = static_cast<uint16_t>(p[0] << 8 | p[1]);
  size_t used = 0;
  auto name = parse_wire_name(p + 2, len - 2, &used);
  if (!name || used != len - 2) return std::nullopt;
  mx.exchange = *name;
  return mx;
}

std::optional<std::string> parse_txt_rdata(const uint8_t* p, size_t len) {
  std::string out;
  size_t i = 0;
  if (len == 0) return std::nullopt;
  while (i < len) {
    size_t n = p[i++];
    if (i + n > len) return std::nullopt;
    out.append(reinterpret_cast<const char*>(p + i), n);
    i += n;
  }
  return out;
}

std::optional<TlsaRecord> parse_tlsa_rdata(const uint8_t* p, size_t len) {
  if (len < 4) return std::nullopt;  // three octets and at least one of data
  TlsaRecord t;
  t.usage = p[0];
  t.selector = p[1];
  t.matching_type = p[2];
  t.data.assign(p + 3, p + len);
  return t;
}

std::optional<std::string> parse_address_rdata(const uint8_t* p, size_t len, DnsType type) {
  int family = type == DnsType::A ? AF_INET : AF_INET6;
  size_t want = type == DnsType::A ? 4 : 16;
  if ((type != DnsType::A && type != DnsType::AAAA) || len != want) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(family, p, buf, sizeof buf)) return std::nullopt;
  return std::string(buf);
}

// ---- DnsLookup -------------------------------------------------------------------------------

DnsLookup& DnsLookup::operator=(DnsLookup&& o) noexcept {
  if (this != &o) {
    cancel();
    owner_ = std::move(o.owner_);
    id_ = o.id_;
    o.id_ = 0;
  }
  return *this;
}

void DnsLookup::cancel() {
  if (id_ == 0) return;
  if (auto owner = owner_.lock()) owner->cancel(id_);
  id_ = 0;
  owner_.reset();
}

// ---- Core ------------------------------------------------------------------------------------

class DnsResolver::Core : public DnsCanceller, public std::enable_shared_from_this<Core> {
 public:
  Core(event_base* base, uint64_t timeout) : base_(base), timeout_(timeout ? timeout : 10) {}
  bool init(const config::Dns& cfg, std::string* err);
  DnsLookup lookup(const std::string& name, DnsType type, DnsCallback cb);
  void cancel(uint64_t id) override;

 private:
  // One libunbound query; every lookup of the same name and type made while it runs waits on
  // it (many destinations share MX hosts: one query, one answer parsed, copies to each).
  struct Query {
    Core* core = nullptr;
    int async_id = 0;
    bool in_flight = false;  // libunbound still owns a query for us
    std::string name;
    DnsType type = DnsType::A;
    std::optional<DnsAnswer> answer;
    base::EventPtr timer;
    std::vector<uint64_t> waiters;  // lookup ids, in the order they asked
  };
  using QueryKey = std::pair<std::string, DnsType>;
  struct Waiter {
    Query* query = nullptr;
    DnsCallback cb;
  };

  static void on_readable(evutil_socket_t, short, void* arg);
  static void on_ub_answer(void* arg, int err, ub_result* result);
  static void on_timer(evutil_socket_t, short, void* arg);
  bool configure(const config::Dns& cfg, std::string* err);

  event_base* base_;
  uint64_t timeout_;
  uint64_t next_id_ = 1;
  uint64_t started_ = 0;
  // Declaration order is destruction order reversed: pending timers go first, then the fd
  // event, then the context that owns the fd.
  std::unique_ptr<ub_ctx, UbCtxFree> ctx_;
  base::EventPtr fd_event_;
  std::map<QueryKey, std::unique_ptr<Query>> queries_;
  std::unordered_map<uint64_t, Waiter> waiters_;

 public:
  uint64_t queries_started() const { return started_; }
};

bool DnsResolver::Core::configure(const config::Dns& cfg, std::string* err) {
  int rc = 0;
  for (const auto& s : cfg.servers) {
    if ((rc = ub_ctx_set_fwd(ctx_.get(), s.c_str())) != 0) {
      *err = "dns.servers: cannot use '" + s + "': " + ub_strerror(rc);
      return false;
    }
  }
  if (cfg.servers.empty() && (rc = ub_ctx_resolvconf(ctx_.get(), nullptr)) != 0) {
    *err = std::string("dns: cannot read /etc/resolv.conf: ") + ub_strerror(rc);
    return false;
  }
  if (cfg.dnssec) {
    // libunbound only reads the file when the first query finalizes the context; check now so
    // that a missing anchor is a start-up error, not a temporary failure of every lookup.
    if (access(cfg.trust_anchor.c_str(), R_OK) != 0) {
      *err = "dns.trust_anchor: cannot read '" + cfg.trust_anchor + "': " + strerror(errno);
      return false;
    }
    rc = ub_ctx_add_ta_file(ctx_.get(), cfg.trust_anchor.c_str());
    if (rc != 0) {
      *err = "dns.trust_anchor: cannot load '" + cfg.trust_anchor + "': " + ub_strerror(rc);
      return false;
    }
  } else if ((rc = ub_ctx_set_option(ctx_.get(), "module-config:", "iterator")) != 0) {
    *err = std::string("dns: cannot switch DNSSEC validation off: ") + ub_strerror(rc);
    return false;
  }
  return true;
}

bool DnsResolver::Core::init(const config::Dns& cfg, std::string* err) {
  ctx_.reset(ub_ctx_create());
  if (!ctx_) {
    *err = "dns: cannot create the libunbound context";
    return false;
  }
  if (!configure(cfg, err)) return false;
  int rc = ub_ctx_async(ctx_.get(), 1);  // a thread, not a forked process
  if (rc != 0) {
    *err = std::string("dns: cannot start libunbound's resolver thread: ") + ub_strerror(rc);
    return false;
  }
  fd_event_.reset(event_new(base_, ub_fd(ctx_.get()), EV_READ | EV_PERSIST, on_readable, this));
  if (!fd_event_ || event_add(fd_event_.get(), nullptr) != 0) {
    *err = "dns: cannot watch libunbound's result pipe";
    return false;
  }
  return true;
}

void DnsResolver::Core::on_readable(evutil_socket_t, short, void* arg) {
  auto* core = static_cast<Core*>(arg);
  ub_process(core->ctx_.get());  // runs on_ub_answer for each finished query
}

void DnsResolver::Core::on_ub_answer(void* arg, int err, ub_result* result) {
  std::unique_ptr<ub_result, UbResultFree> owned(result);
  auto* q = static_cast<Query*>(arg);
  q->in_flight = false;
  if (err != 0 || !result)
    q->answer = failed(q->name, q->type, std::string("resolver error: ") + ub_strerror(err));
  else
    q->answer = answer_from_result(q->name, q->type, *result);
  evtimer_del(q->timer.get());
  event_active(q->timer.get(), EV_TIMEOUT, 0);  // deliver from the loop, outside ub_process
}

void DnsResolver::Core::on_timer(evutil_socket_t, short, void* arg) {
  auto* q = static_cast<Query*>(arg);
  Core* core = q->core;
  if (!q->answer) {
    ub_cancel(core->ctx_.get(), q->async_id);
    q->answer = failed(q->name, q->type, "timed out after " + config::format_duration(core->timeout_));
  }
  DnsAnswer answer = std::move(*q->answer);
  std::vector<uint64_t> ids = std::move(q->waiters);
  for (uint64_t id : ids) {
    auto it = core->waiters_.find(id);
    if (it != core->waiters_.end()) it->second.query = nullptr;  // answered: nothing left to cancel
  }
  core->queries_.erase(QueryKey{q->name, q->type});  // frees q and the event running us: libevent allows this
  std::weak_ptr<Core> alive = core->weak_from_this();
  for (uint64_t id : ids) {
    // A callback may cancel a later waiter (it is then never called) or destroy the resolver
    // (then no one else is).
    if (alive.expired()) return;
    auto it = core->waiters_.find(id);
    if (it == core->waiters_.end()) continue;
    DnsCallback cb = std::move(it->second.cb);
    core->waiters_.erase(it);
    cb(answer);
  }
}

DnsLookup DnsResolver::Core::lookup(const std::string& name, DnsType type, DnsCallback cb) {
  uint64_t id = next_id_++;
  auto& q = queries_[{name, type}];
  if (!q) {
    q = std::make_unique<Query>();
    q->core = this;
    q->name = name;
    q->type = type;
    q->timer.reset(evtimer_new(base_, on_timer, q.get()));
    if (!q->timer) throw std::bad_alloc();
    ++started_;
    int rc = ub_resolve_async(ctx_.get(), name.c_str(), rr_type(type), 1 /* IN */, q.get(),
                              on_ub_answer, &q->async_id);
    if (rc != 0) {
      q->answer = failed(name, type, std::string("resolver error: ") + ub_strerror(rc));
      event_active(q->timer.get(), EV_TIMEOUT, 0);
    } else {
      q->in_flight = true;
      timeval tv{static_cast<time_t>(timeout_), 0};
      evtimer_add(q->timer.get(), &tv);
    }
  }
  q->waiters.push_back(id);
  waiters_[id] = Waiter{q.get(), std::move(cb)};
  return DnsLookup(weak_from_this(), id);
}

void DnsResolver::Core::cancel(uint64_t id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return;
  Query* q = it->second.query;
  waiters_.erase(it);
  if (!q) return;  // its answer is being handed out (on_timer): it is just not called
  auto& w = q->waiters;
  w.erase(std::remove(w.begin(), w.end(), id), w.end());
  if (!w.empty()) return;  // others still wait for the answer
  // After ub_cancel libunbound drops the answer without calling on_ub_answer, so the Query
  // it points at may go.
  if (q->in_flight) ub_cancel(ctx_.get(), q->async_id);
  queries_.erase({q->name, q->type});
}

// ---- DnsResolver -----------------------------------------------------------------------------

std::unique_ptr<DnsResolver> DnsResolver::create(event_base* base, const config::Dns& cfg,
                                                 std::string* err) {
  auto core = std::make_shared<Core>(base, cfg.timeout);
  if (!core->init(cfg, err)) return nullptr;
  return std::make_unique<DnsResolver>(Key(), std::move(core));
}

DnsResolver::~DnsResolver() = default;

DnsLookup DnsResolver::lookup(const std::string& name, DnsType type, DnsCallback cb) {
  return core_->lookup(name, type, std::move(cb));
}

uint64_t DnsResolver::queries_started() const { return core_->queries_started(); }

}  // namespace router
