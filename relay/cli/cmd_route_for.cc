// cmd_route_for.cc - route-for: match the address, plan the destination as delivery does, print it.
//
// Failures are printed as one line on err and give exit code 1; nothing here throws on bad input.
#include "relay/cli/cmd_route_for.h"
#include "router/route_text.h"
#include "router/base/event_handles.h"
#include "router/base/utf8_text.h"

#include "router/destination_plan.h"

#include <event2/event.h>

#include <optional>

#include "router/route_table.h"

namespace relay {
using namespace router;

namespace {

// The MTA-STS policy in force for this delivery, as the destination planner applied it, in one block.
void print_sts(const config::Config& cfg, const config::Route& route, const std::string& domain, const ToolSts& sts,
               const DestinationPlan& plan, std::ostream& out) {
  std::string policy_domain = cfg.mta_sts.enabled ? sts_policy_domain(route, domain) : "";
  if (policy_domain.empty()) {
    out << "mta-sts: not applicable (" << (cfg.mta_sts.enabled ? "the route's host is an IP literal" : "mta_sts disabled")
        << ")\n";
    return;
  }
  if (!sts.https_ctx) {
    out << "mta-sts: cannot check: " << sts.error << "\n";
    return;
  }
  if (!plan.policy.policy) {
    out << "mta-sts: no policy for " << policy_domain << (plan.policy.error.empty() ? "" : " (" + plan.policy.error + ")")
        << "\n";
    return;
  }
  out << "mta-sts: " << plan.sts.summary << "\n";
  for (const auto& x : plan.sts.excluded) out << "  excluded by the policy: " << x << "\n";
  for (const auto& x : plan.sts.dane_kept)
    out << "  not named by the policy, kept: " << x << " has secure usable TLSA records, and DANE takes precedence (RFC 8461 2)\n";
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
  out << "address: " << base::printable_utf8(address) << " (domain " << domain_both_forms(m.recipient.domain) << ")\n";
  print_route(*m.route, out);
  ToolSts sts = open_tool_sts(cfg);
  std::optional<DestinationPlan> got;
  auto planner = DestinationPlanner::start(dns, base, *m.route, m.recipient.domain, sts.services(cfg),
                                           [&got, base](DestinationPlan p) {
                                             got = std::move(p);
                                             event_base_loopbreak(base);
                                           });
  event_base_dispatch(base);
  if (!got) {
    err << "route-for: " << address << ": the event loop ended before DNS answered\n";
    return 1;
  }
  print_candidates(got->candidates, out);
  print_sts(cfg, *m.route, m.recipient.domain, sts, *got, out);
  const Candidates& found = got->candidates;  // as looked up: the exit code says whether DNS worked
  if (found.status == CandidateStatus::Ok) return 0;
  err << "route-for: " << address << ": " << candidate_status_name(found.status) << ": "
      << found.reason << "\n";
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
