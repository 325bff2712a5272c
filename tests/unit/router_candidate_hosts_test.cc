// router_candidate_hosts_test.cc - MX ordering, implicit and null MX, host routes, failures.
//
// DNS comes from router::StaticDns, which answers from a table on a real event loop.
#include <event2/event.h>

#include <memory>
#include <optional>
#include <set>

#include "router/candidate_hosts.h"
#include "router/base/event_handles.h"
#include "router/dns/dns_static.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace router;

namespace {

std::string names(const Candidates& c) {
  std::string s;
  for (const auto& h : c.hosts) s += (s.empty() ? "" : " ") + h.name + "/" + std::to_string(h.preference);
  return s;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

TEST_GROUP(RouterCandidates) {
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

  Candidates run(const config::Route& route, const std::string& domain,
                 std::mt19937* rng = nullptr) {
    std::optional<Candidates> got;
    auto lookup = CandidateLookup::start(*dns, base.get(), route, domain,
                                         [&](Candidates c) { got = std::move(c); }, rng);
    CHECK_FALSE(got.has_value());  // never inside start()
    event_base_dispatch(base.get());  // StaticDns leaves no events behind: returns when done
    CHECK(got.has_value());
    return *got;
  }
};

TEST(RouterCandidates, OrderMxByPreferenceAndShuffleTies) {
  std::mt19937 rng(1);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::vector<MxRecord> v = {{30, "c"}, {10, "a1"}, {20, "b"}, {10, "a2"}};
    order_mx(&v, rng);
    CHECK_EQUAL(10, v[0].preference);
    CHECK_EQUAL(10, v[1].preference);
    STRCMP_EQUAL("b", v[2].exchange.c_str());
    STRCMP_EQUAL("c", v[3].exchange.c_str());
    seen.insert(v[0].exchange + "," + v[1].exchange);
  }
  LONGS_EQUAL(2, seen.size());  // both orders of the equal-preference pair occurred
}

TEST(RouterCandidates, MxByPreferenceWithBothFamilies) {
  dns->add_mx("multi.example", {{20, "mx2.example"}, {10, "mx1.example"}, {30, "mx3.example"}});
  dns->add_aaaa("mx1.example", {"2001:db8::1"});
  dns->add_a("mx1.example", {"192.0.2.1"});
  dns->add_a("mx2.example", {"192.0.2.2", "192.0.2.22"});
  dns->add_aaaa("mx3.example", {"2001:db8::3"});  // AAAA only
  Candidates c = run(mx_route, "multi.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::Ok), static_cast<int>(c.status));
  STRCMP_EQUAL("mx1.example/10 mx2.example/20 mx3.example/30", names(c).c_str());
  STRCMP_EQUAL("2001:db8::1, 192.0.2.1", join(c.hosts[0].addresses).c_str());
  STRCMP_EQUAL("192.0.2.2, 192.0.2.22", join(c.hosts[1].addresses).c_str());
  STRCMP_EQUAL("2001:db8::3", join(c.hosts[2].addresses).c_str());
  CHECK(c.mx_lookup);
  CHECK_FALSE(c.implicit_mx);
  LONGS_EQUAL(0, c.notes.size());
}

TEST(RouterCandidates, EqualPreferencesComeInBothOrders) {
  dns->add_mx("tie.example", {{10, "a.example"}, {10, "b.example"}, {5, "first.example"}});
  for (const char* h : {"a.example", "b.example", "first.example"}) dns->add_a(h, {"192.0.2.9"});
  std::set<std::string> orders;
  for (int i = 0; i < 40 && orders.size() < 2; ++i) orders.insert(names(run(mx_route, "tie.example")));
  CHECK(orders.count("first.example/5 a.example/10 b.example/10") == 1);
  CHECK(orders.count("first.example/5 b.example/10 a.example/10") == 1);
}

TEST(RouterCandidates, ImplicitMx) {
  dns->add_a("plain.example", {"192.0.2.7"});
  Candidates c = run(mx_route, "plain.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::Ok), static_cast<int>(c.status));
  STRCMP_EQUAL("plain.example/0", names(c).c_str());
  CHECK(c.implicit_mx);
  CHECK(join(c.notes).find("implicit MX") != std::string::npos);
}

TEST(RouterCandidates, NoMxNoAddressIsPermanent) {
  dns->add_name("empty.example");
  Candidates c = run(mx_route, "empty.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::PermFail), static_cast<int>(c.status));
  STRCMP_EQUAL("domain empty.example has no MX, AAAA or A records", c.reason.c_str());
}

TEST(RouterCandidates, NullMxIsPermanent) {
  dns->add_mx("nullmx.example", {{0, ""}});
  Candidates c = run(mx_route, "nullmx.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::PermFail), static_cast<int>(c.status));
  STRCMP_EQUAL("null MX: domain accepts no mail", c.reason.c_str());
  CHECK(c.null_mx);  // typed: nobody has to find "null MX" in the reason
  CHECK(c.hosts.empty());
  CHECK(dns->asked() == std::vector<std::string>{"MX nullmx.example"});
}

TEST(RouterCandidates, NullMxAmongOthersIsIgnored) {
  dns->add_mx("mixed.example", {{0, ""}, {10, "mx.example"}});
  dns->add_a("mx.example", {"192.0.2.1"});
  Candidates c = run(mx_route, "mixed.example");
  STRCMP_EQUAL("mx.example/10", names(c).c_str());
  CHECK(join(c.notes).find("null MX among other MX records") != std::string::npos);
}

TEST(RouterCandidates, NxDomainIsPermanentTimeoutIsTemporary) {
  Candidates c = run(mx_route, "nonexistent.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::PermFail), static_cast<int>(c.status));
  STRCMP_EQUAL("domain nonexistent.example does not exist (NXDOMAIN)", c.reason.c_str());
  CHECK(!c.null_mx);

  dns->fail("slow.example", DnsType::MX, DnsStatus::TempFail, "timed out after 2s");
  c = run(mx_route, "slow.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::TempFail), static_cast<int>(c.status));
  STRCMP_EQUAL("MX lookup for slow.example failed: timed out after 2s", c.reason.c_str());
}

TEST(RouterCandidates, UnresolvableTargetIsSkippedAndReported) {
  dns->add_mx("partial.example", {{10, "missing.example"}, {20, "ok.example"}, {30, "slow.example"}});
  dns->add_a("ok.example", {"192.0.2.5"});
  dns->add_a("slow.example", {"192.0.2.6"});
  dns->fail("slow.example", DnsType::AAAA, DnsStatus::TempFail, "timed out after 2s");
  Candidates c = run(mx_route, "partial.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::Ok), static_cast<int>(c.status));
  STRCMP_EQUAL("ok.example/20 slow.example/30", names(c).c_str());
  STRCMP_EQUAL("missing.example skipped: it does not resolve (AAAA: name does not exist "
               "(NXDOMAIN); A: name does not exist (NXDOMAIN))",
               join(c.notes).c_str());
  STRCMP_EQUAL("AAAA lookup failed: timed out after 2s", join(c.hosts[1].notes).c_str());
}

TEST(RouterCandidates, NoTargetResolvesIsTemporary) {
  dns->add_mx("broken.example", {{10, "gone1.example"}, {20, "gone2.example"}});
  Candidates c = run(mx_route, "broken.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::TempFail), static_cast<int>(c.status));
  STRCMP_EQUAL("none of the 2 MX hosts of broken.example has an address", c.reason.c_str());
  LONGS_EQUAL(2, c.notes.size());
}

TEST(RouterCandidates, HostRouteByNameAndLiteral) {
  config::Route r;
  r.kind = config::RouteKind::Host;
  r.host = "gw.example.net";
  r.port = 2525;
  dns->add_a("gw.example.net", {"198.51.100.1"});
  Candidates c = run(r, "ignored.example");
  STRCMP_EQUAL("gw.example.net/0", names(c).c_str());
  LONGS_EQUAL(2525, c.hosts[0].port);
  CHECK_FALSE(c.mx_lookup);

  for (const char* lit : {"192.0.2.44", "[192.0.2.44]"}) {
    r.host = lit;
    c = run(r, "ignored.example");
    STRCMP_EQUAL("192.0.2.44/0", names(c).c_str());
    STRCMP_EQUAL("192.0.2.44", join(c.hosts[0].addresses).c_str());
  }
  r.host = "[IPv6:2001:DB8::5]";
  c = run(r, "ignored.example");
  STRCMP_EQUAL("2001:db8::5", join(c.hosts[0].addresses).c_str());
  CHECK(dns->asked() == std::vector<std::string>({"AAAA gw.example.net", "A gw.example.net"}));
}

TEST(RouterCandidates, HostRouteWithMxLookup) {
  config::Route r;
  r.kind = config::RouteKind::Host;
  r.host = "relay.example.net";
  r.mx_lookup = true;
  r.port = 587;
  dns->add_mx("relay.example.net", {{10, "in1.example.net"}, {5, "in0.example.net"}});
  dns->add_a("in1.example.net", {"198.51.100.11"});
  dns->add_a("in0.example.net", {"198.51.100.10"});
  Candidates c = run(r, "recipient.example");
  STRCMP_EQUAL("in0.example.net/5 in1.example.net/10", names(c).c_str());
  LONGS_EQUAL(587, c.hosts[1].port);
  STRCMP_EQUAL("relay.example.net", c.lookup_name.c_str());
}

TEST(RouterCandidates, HostRouteFailuresAreNeverPermanent) {
  config::Route r;
  r.kind = config::RouteKind::Host;
  r.host = "typo.example.net";
  Candidates c = run(r, "recipient.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::TempFail), static_cast<int>(c.status));
  r.mx_lookup = true;
  c = run(r, "recipient.example");
  LONGS_EQUAL(static_cast<int>(CandidateStatus::TempFail), static_cast<int>(c.status));
  STRCMP_EQUAL("route host: domain typo.example.net does not exist (NXDOMAIN) (deferred: fix the "
               "route or its DNS)",
               c.reason.c_str());
}

TEST(RouterCandidates, DestroyingTheLookupCancelsIt) {
  dns->add_mx("multi.example", {{10, "mx1.example"}});
  bool called = false;
  auto lookup = CandidateLookup::start(*dns, base.get(), mx_route, "multi.example",
                                       [&](Candidates) { called = true; });
  lookup.reset();
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  CHECK_FALSE(called);
}

TEST(RouterCandidates, DoneMayDestroyTheLookup) {
  dns->add_mx("multi.example", {{10, "mx1.example"}, {20, "mx2.example"}});
  dns->add_a("mx1.example", {"192.0.2.1"});
  std::unique_ptr<CandidateLookup> lookup;
  int calls = 0;
  lookup = CandidateLookup::start(*dns, base.get(), mx_route, "multi.example", [&](Candidates) {
    ++calls;
    lookup.reset();
  });
  event_base_dispatch(base.get());
  LONGS_EQUAL(1, calls);
  CHECK(lookup == nullptr);
}
