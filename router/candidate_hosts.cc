// candidate_hosts.cc - MX lookup, implicit and null MX, then AAAA + A for every host in parallel.
//
// Steps: [MX lookup] -> list of targets -> AAAA and A for each target (all at once) -> assemble
// the ordered list. An IP literal skips DNS; its result is still delivered from the event loop.
// Failures become a Candidates value through finish(); nothing throws except allocation failure.
#include "router/candidate_hosts.h"
#include "router/address_match.h"
#include "router/base/event_handles.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace router {

const char* candidate_status_name(CandidateStatus s) {
  switch (s) {
    case CandidateStatus::Ok: return "ok";
    case CandidateStatus::TempFail: return "temporary failure";
    case CandidateStatus::PermFail: return "permanent failure";
  }
  return "?";
}

void order_mx(std::vector<MxRecord>* records, std::mt19937& rng) {
  std::shuffle(records->begin(), records->end(), rng);
  std::stable_sort(records->begin(), records->end(),
                   [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
}

std::string ip_literal(const std::string& host) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
    if (h.size() > 5 && strncasecmp(h.c_str(), "IPv6:", 5) == 0) h = h.substr(5);
  }
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, h.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, text, sizeof text);
  if (inet_pton(AF_INET6, h.c_str(), buf) == 1) return inet_ntop(AF_INET6, buf, text, sizeof text);
  return "";
}

namespace {

constexpr size_t kMaxHosts = 32;  // bounds the work one hostile MX set can cause

DnsSecurity weaker(DnsSecurity a, DnsSecurity b) {
  auto rank = [](DnsSecurity s) { return s == DnsSecurity::Bogus ? 0 : s == DnsSecurity::Insecure ? 1 : 2; };
  return rank(a) <= rank(b) ? a : b;
}

// DNS names compare without case and without a trailing dot.
std::string lower(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool same_name(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

}  // namespace

class CandidateLookup::Impl {
 public:
  Impl(DnsService& dns, event_base* base, const config::Route& route, const std::string& domain,
       Done done, std::mt19937* rng);
  void begin();

 private:
  struct Target {
    std::string name;
    int preference = 0;
    DnsAnswer aaaa, a;
  };

  void start_literal(const std::string& address);
  void on_mx(DnsAnswer mx);
  void implicit_mx();
  void null_mx();
  void resolve_targets();
  void on_address(size_t index, DnsAnswer answer);
  void assemble();
  CandidateHost host_from(const Target& t);
  void finish(CandidateStatus status, std::string reason);
  static void on_soon(evutil_socket_t, short, void* arg);

  DnsService& dns_;
  event_base* base_;
  const config::Route& route_;
  std::string name_;   // what we look up: recipient domain or route host
  bool route_host_;    // name_ comes from the route (kind host): failures are never permanent
  Done done_;
  std::mt19937 own_rng_;
  std::mt19937* rng_;
  Candidates result_;
  std::vector<Target> targets_;
  size_t outstanding_ = 0;
  std::vector<DnsLookup> lookups_;          // cancelled when we die
  base::EventPtr soon_;  // delivers a result computed without DNS
};

CandidateLookup::Impl::Impl(DnsService& dns, event_base* base, const config::Route& route,
                            const std::string& domain, Done done, std::mt19937* rng)
    : dns_(dns),
      base_(base),
      route_(route),
      name_(route.kind == config::RouteKind::Host ? dns_name(route.host) : domain),
      route_host_(route.kind == config::RouteKind::Host),
      done_(std::move(done)),
      own_rng_(std::random_device{}()),
      rng_(rng ? rng : &own_rng_) {
  if (!name_.empty() && name_.back() == '.' && name_.size() > 1) name_.pop_back();
  result_.lookup_name = name_;
}

void CandidateLookup::Impl::begin() {
  std::string literal = ip_literal(name_);
  if (!literal.empty()) return start_literal(literal);
  bool want_mx = route_.kind == config::RouteKind::Mx || route_.mx_lookup;
  if (!want_mx) {
    targets_.push_back(Target{name_, 0, {}, {}});
    return resolve_targets();
  }
  result_.mx_lookup = true;
  lookups_.push_back(dns_.lookup(name_, DnsType::MX, [this](DnsAnswer a) { on_mx(std::move(a)); }));
}

void CandidateLookup::Impl::start_literal(const std::string& address) {
  if (route_.kind == config::RouteKind::Host && route_.mx_lookup)
    result_.notes.push_back("mx_lookup does not apply to an IP literal: using " + address);
  CandidateHost h;
  h.name = address;
  h.port = route_.port;
  h.addresses.push_back(address);
  result_.hosts.push_back(std::move(h));
  result_.status = CandidateStatus::Ok;
  soon_.reset(evtimer_new(base_, on_soon, this));
  if (!soon_) throw std::bad_alloc();
  event_active(soon_.get(), EV_TIMEOUT, 0);
}

void CandidateLookup::Impl::on_soon(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  self->finish(self->result_.status, self->result_.reason);
}

void CandidateLookup::Impl::on_mx(DnsAnswer mx) {
  result_.mx_security = mx.security;
  switch (mx.status) {
    case DnsStatus::TempFail:
      return finish(CandidateStatus::TempFail, "MX lookup for " + name_ + " failed: " + mx.reason);
    case DnsStatus::NxDomain:
      return finish(CandidateStatus::PermFail, "domain " + name_ + " does not exist (NXDOMAIN)");
    case DnsStatus::NoData:
      return implicit_mx();
    case DnsStatus::Ok:
      break;
  }
  if (mx.mx.size() == 1 && mx.mx[0].exchange.empty()) return null_mx();
  order_mx(&mx.mx, *rng_);
  std::set<std::string> seen;
  for (const auto& r : mx.mx) {
    if (r.exchange.empty()) {
      result_.notes.push_back("ignored MX " + std::to_string(r.preference) +
                              " \".\": a null MX among other MX records (RFC 7505)");
    } else if (seen.insert(r.exchange).second && targets_.size() < kMaxHosts) {
      targets_.push_back(Target{r.exchange, r.preference, {}, {}});
    }
  }
  if (targets_.empty()) return null_mx();
  resolve_targets();
}

// Typed, so that the judge of a failed lookup (destination_plan.h) need not read the words.
void CandidateLookup::Impl::null_mx() {
  result_.null_mx = true;
  finish(CandidateStatus::PermFail, "null MX: domain accepts no mail");
}

void CandidateLookup::Impl::implicit_mx() {
  result_.implicit_mx = true;
  result_.notes.push_back("no MX records for " + name_ +
                          ": implicit MX, delivering to the domain's own address (RFC 5321 5.1)");
  targets_.push_back(Target{name_, 0, {}, {}});
  resolve_targets();
}

void CandidateLookup::Impl::resolve_targets() {
  outstanding_ = targets_.size() * 2;
  for (size_t i = 0; i < targets_.size(); ++i) {
    for (DnsType t : {DnsType::AAAA, DnsType::A}) {
      lookups_.push_back(dns_.lookup(targets_[i].name, t,
                                     [this, i](DnsAnswer a) { on_address(i, std::move(a)); }));
    }
  }
}

void CandidateLookup::Impl::on_address(size_t index, DnsAnswer answer) {
  Target& t = targets_[index];
  (answer.type == DnsType::AAAA ? t.aaaa : t.a) = std::move(answer);
  if (--outstanding_ == 0) assemble();
}

CandidateHost CandidateLookup::Impl::host_from(const Target& t) {
  CandidateHost h;
  h.name = t.name;
  h.preference = t.preference;
  h.port = route_.port;
  h.address_security = DnsSecurity::Secure;
  for (const DnsAnswer* a : {&t.aaaa, &t.a}) {
    if (a->status == DnsStatus::Ok) {
      h.addresses.insert(h.addresses.end(), a->addresses.begin(), a->addresses.end());
      h.address_security = weaker(h.address_security, a->security);
      if (h.expanded_name.empty() && !a->canonical_name.empty() && !same_name(a->canonical_name, t.name))
        h.expanded_name = lower(a->canonical_name);
    } else if (a->status == DnsStatus::TempFail) {
      h.notes.push_back(std::string(dns_type_name(a->type)) + " lookup failed: " + a->reason);
      if (a->security == DnsSecurity::Bogus) h.address_security = DnsSecurity::Bogus;
    }
  }
  return h;
}

void CandidateLookup::Impl::assemble() {
  bool temp = false;
  std::string why;
  for (const auto& t : targets_) {
    CandidateHost h = host_from(t);
    if (!h.addresses.empty()) {
      result_.hosts.push_back(std::move(h));
      continue;
    }
    temp = temp || t.aaaa.status == DnsStatus::TempFail || t.a.status == DnsStatus::TempFail;
    std::string detail = "AAAA: " + (t.aaaa.reason.empty() ? "no address" : t.aaaa.reason) +
                         "; A: " + (t.a.reason.empty() ? "no address" : t.a.reason);
    if (targets_.size() > 1 || result_.mx_lookup)
      result_.notes.push_back(t.name + " skipped: it does not resolve (" + detail + ")");
    why = detail;
  }
  if (!result_.hosts.empty()) return finish(CandidateStatus::Ok, "");
  if (result_.implicit_mx && !temp)
    return finish(CandidateStatus::PermFail, "domain " + name_ + " has no MX, AAAA or A records");
  if (result_.mx_lookup && !result_.implicit_mx)
    return finish(CandidateStatus::TempFail,
                  "none of the " + std::to_string(targets_.size()) + " MX hosts of " + name_ +
                      " has an address");
  finish(CandidateStatus::TempFail, "host " + name_ + " has no address (" + why + ")");
}

void CandidateLookup::Impl::finish(CandidateStatus status, std::string reason) {
  if (status == CandidateStatus::PermFail && route_host_) {
    status = CandidateStatus::TempFail;  // see the header: a broken route is not the recipient's fault
    reason = "route host: " + reason + " (deferred: fix the route or its DNS)";
  }
  result_.status = status;
  result_.reason = std::move(reason);
  if (status != CandidateStatus::Ok) result_.hosts.clear();
  Done done = std::move(done_);
  done(std::move(result_));  // may destroy us: nothing after this line
}

std::unique_ptr<CandidateLookup> CandidateLookup::start(DnsService& dns, event_base* base,
                                                        const config::Route& route,
                                                        const std::string& domain, Done done,
                                                        std::mt19937* rng) {
  auto impl = std::make_unique<Impl>(dns, base, route, domain, std::move(done), rng);
  Impl* raw = impl.get();
  auto lookup = std::make_unique<CandidateLookup>(Key(), std::move(impl));
  raw->begin();
  return lookup;
}

CandidateLookup::CandidateLookup(Key, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CandidateLookup::~CandidateLookup() = default;

}  // namespace router
