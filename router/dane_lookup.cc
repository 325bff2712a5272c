// dane_lookup.cc - TLSA for every candidate host that qualifies (see the header).
#include "router/dane_lookup.h"

#include <event2/event.h>

#include "router/base/event_handles.h"

namespace router {

std::string tlsa_name(const std::string& host, int port) {
  std::string h = host;
  if (!h.empty() && h.back() == '.') h.pop_back();
  return "_" + std::to_string(port) + "._tcp." + h;
}

class DaneLookup::Impl {
 public:
  Impl(Candidates c, Done done) : c_(std::move(c)), done_(std::move(done)) {}

  void begin(DnsService& dns, event_base* base) {
    for (size_t i = 0; i < c_.hosts.size(); ++i) {
      CandidateHost& h = c_.hosts[i];
      DaneHost& d = h.dane;
      d.mx_looked_up = c_.mx_lookup;
      d.mx_security = c_.mx_security;
      d.address_security = h.address_security;
      if (!ip_literal(h.name).empty()) {
        d.state = DaneState::Insecure;
        d.reason = "an IP address has no TLSA records";
        continue;
      }
      const bool bogus = (c_.mx_lookup && c_.mx_security == DnsSecurity::Bogus) ||
                         h.address_security == DnsSecurity::Bogus;
      if (bogus || (c_.mx_lookup && c_.mx_security != DnsSecurity::Secure) ||
          h.address_security != DnsSecurity::Secure) {
        d.state = bogus ? DaneState::Bogus : DaneState::Insecure;
        d.reason = std::string(c_.mx_lookup ? "MX answer " : "") +
                   (c_.mx_lookup ? dns_security_name(c_.mx_security) : "") + (c_.mx_lookup ? ", " : "") +
                   "address answers " + dns_security_name(h.address_security) +
                   (bogus ? "" : ": DANE needs both DNSSEC-secure (RFC 7672 2.2)");
        continue;
      }
      ++outstanding_;
      look_up(dns, i, h.expanded_name.empty() ? h.name : h.expanded_name);
    }
    if (outstanding_ > 0) return;
    soon_.reset(evtimer_new(base, on_soon, this));
    if (!soon_) throw std::bad_alloc();
    event_active(soon_.get(), EV_TIMEOUT, 0);
  }

 private:
  static void on_soon(evutil_socket_t, short, void* arg) { static_cast<Impl*>(arg)->finish(); }

  // TLSA of host i with `base` as its base domain; the expanded name falls back to the host name.
  // `before`: what the expanded name's lookup found, kept in the reason.
  void look_up(DnsService& dns, size_t i, const std::string& base, const std::string& before = "") {
    DaneHost& d = c_.hosts[i].dane;
    d.base_domain = base;
    d.tlsa_name = tlsa_name(base, c_.hosts[i].port);
    lookups_.push_back(dns.lookup(d.tlsa_name, DnsType::TLSA, [this, &dns, i, before](DnsAnswer a) {
      CandidateHost& h = c_.hosts[i];
      DaneHost tried = dane_state_from(h.dane, a);
      const bool expanded = h.dane.base_domain != h.name;
      if (expanded && (tried.state == DaneState::NoTlsa || tried.state == DaneState::Insecure)) {
        return look_up(dns, i, h.name, tried.reason + ", so the host name " + h.name + " is the base domain");
      }
      if (expanded) tried.reason += " (" + h.expanded_name + " is the secure CNAME expansion of " + h.name + ")";
      if (!before.empty()) tried.reason = before + "; " + tried.reason;
      h.dane = std::move(tried);
      if (--outstanding_ == 0) finish();
    }));
  }

  void finish() {
    Done done = std::move(done_);
    done(std::move(c_));  // may destroy us: nothing after this line
  }

  Candidates c_;
  Done done_;
  size_t outstanding_ = 0;
  std::vector<DnsLookup> lookups_;
  base::EventPtr soon_;
};

std::unique_ptr<DaneLookup> DaneLookup::start(DnsService& dns, event_base* base, Candidates c, Done done) {
  auto impl = std::make_unique<Impl>(std::move(c), std::move(done));
  Impl* raw = impl.get();
  auto lookup = std::make_unique<DaneLookup>(std::move(impl));
  raw->begin(dns, base);
  return lookup;
}

DaneLookup::DaneLookup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DaneLookup::~DaneLookup() = default;

}  // namespace router
