// route_for_cmd.cc - route-for: match the address, look up candidate hosts, print them.
//
// Failures are printed as one line on err and give exit code 1; nothing here throws on bad input.
#include "router/route_for_cmd.h"
#include "router/event_handles.h"

#include "router/mta_sts_enforce.h"
#include "router/mta_sts_fetch.h"

#include <unistd.h>

#include <event2/event.h>

#include <optional>

#include "router/route_table.h"

namespace router {
namespace {

const char* yes_no(bool b) { return b ? "yes" : "no"; }

const char* tls_mode_name(config::TlsMode m) {
  switch (m) {
    case config::TlsMode::None: return "none";
    case config::TlsMode::Opportunistic: return "opportunistic";
    case config::TlsMode::Required: return "required";
  }
  return "?";
}

void print_ciphers(const config::Route& route, std::ostream& out) {
  // The loader may fill in the default list or leave it empty; both mean the default.
  if (route.ciphers.empty() || route.ciphers == config::default_outbound_ciphers()) {
    out << "ciphers: default outbound list (" << config::default_outbound_ciphers().size()
        << " suites)\n";
    return;
  }
  out << "ciphers (" << route.ciphers.size() << "):";
  for (size_t i = 0; i < route.ciphers.size(); ++i) out << (i ? ", " : " ") << route.ciphers[i];
  out << "\n";
}

void print_host(size_t n, const CandidateHost& h, std::ostream& out) {
  out << "  " << n << ". " << h.name << " (pref " << h.preference << ") port " << h.port << ":";
  for (size_t i = 0; i < h.addresses.size(); ++i) out << (i ? ", " : " ") << h.addresses[i];
  out << "\n";
  for (const auto& note : h.notes) out << "     note: " << note << "\n";
}

}  // namespace

void print_route(const config::Route& route, std::ostream& out) {
  out << "route: " << route.name << " (kind ";
  if (route.kind == config::RouteKind::Mx)
    out << "mx)\n";
  else
    out << "host, host " << route.host << ", port " << route.port << ", mx_lookup "
        << yes_no(route.mx_lookup) << ")\n";
  out << "tls: " << tls_mode_name(route.tls) << ", verify_ca " << yes_no(route.verify_ca)
      << ", verify_hostname " << yes_no(route.verify_hostname) << ", min_tls_version "
      << (route.has_min_tls_version ? config::tls_version_name(route.min_tls_version) : "not set")
      << ", client_cert " << yes_no(route.client_cert) << "\n";
  print_ciphers(route, out);
}

void print_candidates(const Candidates& c, std::ostream& out) {
  out << "lookup: " << (c.mx_lookup ? "MX " : "AAAA/A ") << c.lookup_name;
  if (c.mx_lookup) out << " (MX answer " << dns_security_name(c.mx_security) << ")";
  out << "\n";
  if (c.status == CandidateStatus::Ok) {
    out << "candidate hosts:\n";
    for (size_t i = 0; i < c.hosts.size(); ++i) print_host(i + 1, c.hosts[i], out);
  } else {
    out << "result: " << candidate_status_name(c.status) << ": " << c.reason << "\n";
  }
  if (c.notes.empty()) return;
  out << "notes:\n";
  for (const auto& note : c.notes) out << "  - " << note << "\n";
}

namespace {

// The MTA-STS policy in force for this delivery, looked up as delivery does
// (with the relay's policy cache when it can be opened), in one block.
void print_sts(const config::Config& cfg, const config::Route& route, const std::string& domain,
               const Candidates& cand, std::ostream& out, DnsService& dns, event_base* base) {
  std::string policy_domain = cfg.mta_sts.enabled ? sts_policy_domain(route, domain) : "";
  if (policy_domain.empty()) {
    out << "mta-sts: not applicable (" << (cfg.mta_sts.enabled ? "the route's host is an IP literal" : "mta_sts disabled")
        << ")\n";
    return;
  }
  std::string why;
  certs::CtxPtr ctx = make_https_context(cfg.tls.ca_file, &why);
  if (!ctx) {
    out << "mta-sts: cannot check: " << why << "\n";
    return;
  }
  // Read the relay's cache if there is one; a look-up tool creates nothing.
  std::unique_ptr<StsCache> cache;
  if (access(sts_cache_dir(cfg.queue.path).c_str(), R_OK | W_OK) == 0) {
    cache = StsCache::open(sts_cache_dir(cfg.queue.path), &why);
  }
  StsOptions o;
  o.https_port = cfg.mta_sts.https_port;
  o.timeout = cfg.mta_sts.fetch_timeout;
  std::optional<PolicyResult> got;
  auto lookup = PolicyLookup::start(base, dns, ctx.get(), cache.get(), o, policy_domain, [&got, base](PolicyResult p) {
    got = std::move(p);
    event_base_loopbreak(base);
  });
  event_base_dispatch(base);
  if (!got) return;
  if (!got->policy) {
    out << "mta-sts: no policy for " << policy_domain << (got->error.empty() ? "" : " (" + got->error + ")") << "\n";
    return;
  }
  StsEnforcement e = apply_sts_policy(route, cand, *got);
  out << "mta-sts: " << e.summary << "\n";
  for (const auto& x : e.excluded) out << "  excluded by the policy: " << x << "\n";
}

}  // namespace

int run_route_for(const config::Config& cfg, const std::string& address, std::ostream& out,
                  std::ostream& err, DnsService& dns, event_base* base) {
  RouteMatch m = RouteTable(cfg).match(address);
  if (!m.error.empty()) {
    err << "route-for: " << address << ": " << m.error << "\n";
    return 1;
  }
  if (!m.route) {
    err << "route-for: " << address << ": no route matches (the relay refuses it at RCPT with "
        << "550 5.7.1)\n";
    return 1;
  }
  out << "address: " << address << " (domain " << m.recipient.domain << ")\n";
  print_route(*m.route, out);
  std::optional<Candidates> got;
  auto lookup = CandidateLookup::start(dns, base, *m.route, m.recipient.domain,
                                       [&got, base](Candidates c) {
                                         got = std::move(c);
                                         event_base_loopbreak(base);
                                       });
  event_base_dispatch(base);
  if (!got) {
    err << "route-for: " << address << ": the event loop ended before DNS answered\n";
    return 1;
  }
  print_candidates(*got, out);
  print_sts(cfg, *m.route, m.recipient.domain, *got, out, dns, base);
  if (got->status == CandidateStatus::Ok) return 0;
  err << "route-for: " << address << ": " << candidate_status_name(got->status) << ": "
      << got->reason << "\n";
  return 1;
}

int run_route_for(const config::Config& cfg, const std::string& address, std::ostream& out,
                  std::ostream& err) {
  router::EventBasePtr base(event_base_new());
  if (!base) {
    err << "route-for: cannot create an event loop\n";
    return 1;
  }
  std::string why;
  auto dns = DnsResolver::create(base.get(), cfg.dns, &why);  // destroyed before base
  if (!dns) {
    err << "route-for: " << why << "\n";
    return 1;
  }
  return run_route_for(cfg, address, out, err, *dns, base.get());
}

}  // namespace router
