// router_destination_plan_test.cc - the destination planner and its judge of hosts that cannot be
// used: NXDOMAIN, null MX, SERVFAIL, a route host's broken DNS, an enforce policy that names no host.
//
// DNS comes from router::StaticDns on a real event loop. MTA-STS needs HTTPS, so the planner runs
// here without an HTTPS context (no policy lookup); the "enforce left no host" rule is tested on the
// pure judge_plan() over apply_sts_policy().
#include <event2/event.h>

#include <memory>
#include <optional>
#include <string>

#include "router/base/event_handles.h"
#include "router/destination_plan.h"
#include "router/dns/dns_static.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace router;

namespace {

void check_eq(const std::string& what, const std::string& got, const std::string& want) {
  if (got != want) FAIL((what + ": got \"" + got + "\", want \"" + want + "\"").c_str());
}

// "bounced 5.1.2 no-such-domain", or "usable" when the judge found nothing wrong.
std::string verdict(const std::optional<Outcome>& o) {
  if (!o) return "usable";
  return std::string(disposition_name(o->disposition)) + " " + o->status + " " + failure_kind_name(o->kind);
}

}  // namespace

TEST_GROUP(RouterDestinationPlan) {
  base::EventBasePtr base;
  std::unique_ptr<StaticDns> dns;
  config::Route mx_route;

  void setup() override {
    base.reset(event_base_new());
    dns = std::make_unique<StaticDns>(base.get());
    mx_route.name = "default";
    mx_route.kind = config::RouteKind::Mx;
    mx_route.port = 25;
  }
  void teardown() override {
    dns.reset();
    base.reset();
  }

  DestinationPlan plan(const config::Route& route, const std::string& domain) {
    std::optional<DestinationPlan> got;
    PlanServices services;  // no HTTPS context: MTA-STS is not looked up
    auto planner = DestinationPlanner::start(*dns, base.get(), route, domain, services,
                                             [&](DestinationPlan p) { got = std::move(p); });
    CHECK_FALSE(got.has_value());  // never inside start()
    event_base_dispatch(base.get());
    CHECK(got.has_value());
    return *got;
  }
};

TEST(RouterDestinationPlan, JudgesEveryLookupFailure) {
  dns->add_mx("nullmx.example", {{0, ""}});
  dns->add_mx("ok.example", {{10, "mx.ok.example"}});
  dns->add_a("mx.ok.example", {"192.0.2.1"});
  dns->fail("servfail.example", DnsType::MX, DnsStatus::TempFail, "SERVFAIL");
  dns->add_name("empty.example");
  struct Case {
    const char* domain;
    const char* want;
  } cases[] = {
      {"nonexistent.example", "bounced 5.1.2 no-such-domain"},
      {"empty.example", "bounced 5.1.2 no-such-domain"},  // no MX, AAAA or A
      {"nullmx.example", "bounced 5.1.10 null-mx"},
      {"servfail.example", "deferred 4.4.3 dns"},
      {"ok.example", "usable"},
  };
  for (const auto& c : cases) {
    DestinationPlan p = plan(mx_route, c.domain);
    check_eq(c.domain, verdict(p.failure), c.want);
    if (p.failure) check_eq(std::string(c.domain) + " reason", p.failure->reason, p.candidates.reason);
  }
}

TEST(RouterDestinationPlan, UsablePlanCarriesHostsAndRoute) {
  dns->add_mx("ok.example", {{10, "mx.ok.example"}});
  dns->add_a("mx.ok.example", {"192.0.2.1"});
  mx_route.max_connections = 7;
  DestinationPlan p = plan(mx_route, "ok.example");
  CHECK_FALSE(p.failure.has_value());
  LONGS_EQUAL(1, p.sts.candidates.hosts.size());
  check_eq("host", p.sts.candidates.hosts[0].name, "mx.ok.example");
  LONGS_EQUAL(7, p.sts.route.max_connections);
  check_eq("policy domain", p.policy.domain, "");  // MTA-STS did not apply
  CHECK(dns->asked() == (std::vector<std::string>{"MX ok.example", "AAAA mx.ok.example", "A mx.ok.example"}));
}

// A route host's null MX is the route's fault, not the recipient's: it defers.
TEST(RouterDestinationPlan, RouteHostNullMxDefers) {
  dns->add_mx("relay.example", {{0, ""}});
  config::Route host;
  host.name = "relay";
  host.kind = config::RouteKind::Host;
  host.host = "relay.example";
  host.mx_lookup = true;
  DestinationPlan p = plan(host, "");
  CHECK(p.candidates.null_mx);
  check_eq("route host null MX", verdict(p.failure), "deferred 4.4.3 dns");
}

TEST(RouterDestinationPlan, DestroyingThePlannerCancelsIt) {
  dns->add_a("ok.example", {"192.0.2.1"});
  bool ran = false;
  auto planner = DestinationPlanner::start(*dns, base.get(), mx_route, "ok.example", PlanServices{},
                                           [&](DestinationPlan) { ran = true; });
  planner.reset();
  event_base_dispatch(base.get());
  CHECK_FALSE(ran);
}

TEST(RouterDestinationPlan, EnforcePolicyWithNoHostLeftDefers475) {
  Candidates found;
  found.status = CandidateStatus::Ok;
  CandidateHost h;
  h.name = "mx1.example";
  h.addresses = {"192.0.2.1"};
  found.hosts = {h};
  PolicyResult policy;
  policy.domain = "example";
  policy.source = PolicySource::Fetched;
  policy.id = "1";
  policy.policy = StsPolicy{StsMode::Enforce, {"mx9.example"}, 86400};
  StsEnforcement e = apply_sts_policy(mx_route, found, policy);
  auto judged = judge_plan(e);
  check_eq("enforce, no host named", verdict(judged), "deferred 4.7.5 mta-sts");
  CHECK(judged->reason.find("names none of the MX hosts") != std::string::npos);
  policy.policy->mode = StsMode::Testing;  // testing filters nothing
  check_eq("testing", verdict(judge_plan(apply_sts_policy(mx_route, found, policy))), "usable");
}

// A temporary DNS failure under an enforce policy is still a DNS failure, not the policy's.
TEST(RouterDestinationPlan, EnforcePolicyWithDnsTroubleDefers443) {
  Candidates failed;
  failed.status = CandidateStatus::TempFail;
  failed.reason = "MX lookup for example failed: SERVFAIL";
  PolicyResult policy;
  policy.domain = "example";
  policy.source = PolicySource::Cached;
  policy.policy = StsPolicy{StsMode::Enforce, {"mx9.example"}, 86400};
  check_eq("enforce, DNS failed", verdict(judge_plan(apply_sts_policy(mx_route, failed, policy))),
           "deferred 4.4.3 dns");
}
