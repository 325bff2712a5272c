// route_tester.h - `smarthost test-route`: would mail on this route be
// delivered, and over what TLS? (R-TESTER; the "Test TLS connection" button of
// seeds 000 and 003.)
//
// NAME
//   run_test_route - probe every candidate host of a route as a delivery would
//
// DESCRIPTION
//   The tester shares every step with delivery: candidate hosts and the
//   MTA-STS policy come from router::DestinationPlanner (the relay's policy
//   cache is read if it exists, never created), the TLS client context from
//   relay::Runtime, and the conversation from relay::SmtpClientSession in
//   probe mode (a job with no recipients: connect, banner, EHLO, STARTTLS
//   per the route's policy, handshake, certs::check_peer, then QUIT instead
//   of MAIL FROM; every candidate host is visited and traced). The route
//   verdict is what that session settled for the probe job
//   (DeliveryJob::probe_result), through the same funnel that settles real recipients; hosts that cannot be used are
//   judged by the planner's judge (router::judge_plan), as for a delivery.
//   So the tester cannot disagree with a delivery made at the same moment.
//
//   MTA-STS (R-MTASTS) comes from the same destination planner: the report's
//   `mta_sts` block says which policy applied and the route options in force.
//
// DIAGNOSTICS
//   run_test_route returns 0 when deliveries would succeed, 1 when they would
//   bounce or be deferred or the test could not run (resolver, TLS files;
//   one line on err), 2 for a usage error (unknown route, kind "mx" without
//   a domain, a domain that is not a valid name). Nothing here throws on bad
//   input or bad peers.
#pragma once

#include <ostream>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "relay/delivery/delivery_job.h"
#include "router/candidate_hosts.h"
#include "router/delivery_outcome.h"

namespace relay {

// One of a host's checks: CA, host name, minimum TLS version, cipher.
enum class CheckResult { Pass, Fail, NotChecked };
const char* check_result_name(CheckResult r);  // "pass", "fail", "not_checked"

struct Check {
  CheckResult result = CheckResult::NotChecked;
  bool enforced = false;  // failing it stops delivery on this route
  std::string detail;     // plain words: "certificate expired", "TLS1_3, route minimum 1.2"
};

// What one connection attempt means for delivery on this route.
struct HostVerdict {
  Check ca, hostname, min_version, cipher;
  bool would_deliver = false;  // this host would have been given the mail
  std::string summary;         // "would take the mail over TLS1_3", "would not take the mail: ..."
};

// The checks of one traced attempt under the route's policy. Pure.
HostVerdict host_verdict(const config::Route& route, const HostTrace& trace);

enum class RouteOutcome { Deliver, Bounce, Defer };
const char* route_outcome_name(RouteOutcome o);  // "deliver", "bounce", "defer"

// The MTA-STS verdict for the tested domain, as the destination planner found
// and applied the policy (router/destination_plan.h).
struct MtaStsVerdict {
  bool checked = false;
  std::string result = "not_checked";  // "enforce", "testing", "none", "failed", "not_applicable"
  std::string reason;
};

struct RouteTestReport {
  config::Route route;
  std::string domain;                  // normalised; may be empty for kind "host"
  router::Candidates candidates;
  MtaStsVerdict mta_sts;
  std::vector<HostTrace> hosts;        // one per connection attempt, in order
  std::vector<HostVerdict> verdicts;   // parallel to hosts
  RouteOutcome outcome = RouteOutcome::Defer;
  std::string status;                  // RFC 3463, as a delivery would record it
  std::string reason;                  // why not delivered, in words; empty on success
  router::FailureKind failure = router::FailureKind::None;  // typed reason, as a delivery would record it
  certs::TlsProblem tls_problem = certs::TlsProblem::HandshakeFailed;  // when failure is Tls
  std::string via;                     // "host[ip]:port" that would take the mail
  std::string tls_version;             // of that host; empty: plaintext
  std::string verdict_line;            // "deliveries on this route would ..."
  std::vector<std::string> remedies;   // what the admin can do (seed 000)
  std::vector<std::string> notes;      // remarks on a success (plaintext, unverified, hosts skipped)
  int exit_code() const { return outcome == RouteOutcome::Deliver ? 0 : 1; }
};

// Fills outcome, status, reason, via, tls_version, verdict_line, remedies and
// notes of `rep` (route, domain, candidates, hosts and verdicts already set)
// from what the probe session settled. `settled` with outcome Pending (the
// session never settled) is judged a deferral. Pure.
void judge_probe(const router::Outcome& settled, RouteTestReport* rep);
// Same for a destination plan whose hosts cannot be used: `judged` is the
// planner's verdict (router::judge_plan), the one a delivery settles with.
void judge_lookup_failure(const router::Outcome& judged, RouteTestReport* rep);

struct TestRouteOptions {
  std::string domain;        // --domain
  bool json = false;         // --json
  bool all = false;          // --all: every route (mx routes: every domain their lists name)
  uint64_t timeout = 30;     // --timeout: seconds for the connect, the banner and each reply
};

// `smarthost test-route -c FILE ROUTE [--domain D] [--json] [--timeout S]`:
// runs its own event loop and resolver, prints the report (text, coloured
// only when `out` is std::cout on a terminal, where each step is also printed
// as it happens; or one JSON document) and returns the exit code. With
// opts.all, ROUTE is empty and every route is tested in turn.
int run_test_route(const config::Config& cfg, const std::string& route, const TestRouteOptions& opts,
                   std::ostream& out, std::ostream& err);

// The tests --all makes: (route, domain) pairs in route order; an mx route
// gets one per domain its address lists name (the domain of an address
// entry too; a ".sub" pattern names no single domain); an mx route without
// any ("*" only) gets a pair with an empty domain, reported as not tested.
std::vector<std::pair<std::string, std::string>> all_route_tests(const config::Config& cfg);

// `smarthost check-config --test-routes`: tests every route of kind "host",
// one verdict line each; 0 when every one would deliver, else 1.
int run_test_routes(const config::Config& cfg, std::ostream& out, std::ostream& err);

}  // namespace relay
