// cmd_route_for.cc - route-for: match the address, look up candidate hosts, print them.
//
// Failures are printed as one line on err and give exit code 1; nothing here throws on bad input.
#include "relay/cli/cmd_route_for.h"
#include "router/route_text.h"
#include "router/base/event_handles.h"

#include "router/mta_sts_enforce.h"
#include "router/https/https_client.h"

#include <unistd.h>

#include <event2/event.h>

#include <optional>

#include "router/route_table.h"

namespace relay {
using namespace router;

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
  base::EventBasePtr base(event_base_new());
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

}  // namespace relay
