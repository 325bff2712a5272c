// router_route_for_test.cc - the text `smarthost route-for` prints, and its exit codes.
#include <event2/event.h>

#include <memory>
#include <sstream>

#include "config/config.h"
#include "router/base/event_handles.h"
#include "router/dns/dns_static.h"
#include "relay/cli/cmd_route_for.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace router;

namespace {

config::Config sample() {
  config::Config c;
  c.address_lists = {{"partners", {"partner.test.example"}, 1}};
  config::Route partners;
  partners.name = "partners";
  partners.match = {"partners"};
  partners.tls = config::TlsMode::Required;
  partners.verify_ca = partners.verify_hostname = true;
  partners.has_min_tls_version = true;
  partners.min_tls_version = config::TlsVersion::V1_2;
  partners.ciphers = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
  config::Route gw;
  gw.name = "gateway";
  gw.match = {"*"};
  gw.kind = config::RouteKind::Host;
  gw.host = "[192.0.2.50]";
  gw.port = 2525;
  c.routes = {partners, gw};
  return c;
}

}  // namespace

TEST_GROUP(RouterRouteFor) {
  base::EventBasePtr base;
  std::unique_ptr<StaticDns> dns;
  std::ostringstream out, err;
  void setup() override {
    base.reset(event_base_new());
    dns = std::make_unique<StaticDns>(base.get());
  }
  void teardown() override {
    dns.reset();
    base.reset();
  }
  int run(const config::Config& cfg, const std::string& addr) {
    return relay::run_route_for(cfg, addr, out, err, *dns, base.get());
  }
};

TEST(RouterRouteFor, MxRoute) {
  dns->add_mx("partner.test.example", {{20, "mx2.test.example"}, {10, "mx1.test.example"},
                                       {30, "gone.test.example"}});
  dns->add_aaaa("mx1.test.example", {"2001:db8::1"});
  dns->add_a("mx1.test.example", {"192.0.2.1"});
  dns->add_a("mx2.test.example", {"192.0.2.2"});
  LONGS_EQUAL(0, run(sample(), "User@Partner.Test.Example"));
  STRCMP_EQUAL(
      "address: User@Partner.Test.Example (domain partner.test.example)\n"
      "route: partners (kind mx)\n"
      "tls: required, verify_ca yes, verify_hostname yes, min_tls_version 1.2, client_cert no\n"
      "ciphers (2): TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384\n"
      "lookup: MX partner.test.example (MX answer insecure)\n"
      "candidate hosts:\n"
      "  1. mx1.test.example (pref 10) port 25: 2001:db8::1, 192.0.2.1\n"
      "  2. mx2.test.example (pref 20) port 25: 192.0.2.2\n"
      "notes:\n"
      "  - gone.test.example skipped: it does not resolve (AAAA: name does not exist (NXDOMAIN); "
      "A: name does not exist (NXDOMAIN))\n"
      "mta-sts: no policy for partner.test.example\n",
      out.str().c_str());
  STRCMP_EQUAL("", err.str().c_str());
}

TEST(RouterRouteFor, HostRouteWithLiteral) {
  LONGS_EQUAL(0, run(sample(), "someone@anywhere.example"));
  STRCMP_EQUAL(
      "address: someone@anywhere.example (domain anywhere.example)\n"
      "route: gateway (kind host, host [192.0.2.50], port 2525, mx_lookup no)\n"
      "tls: opportunistic, verify_ca no, verify_hostname no, min_tls_version not set, "
      "client_cert no\n"
      "ciphers: default outbound list (13 suites)\n"
      "lookup: AAAA/A [192.0.2.50]\n"
      "candidate hosts:\n"
      "  1. 192.0.2.50 (pref 0) port 2525: 192.0.2.50\n"
      "mta-sts: not applicable (the route's host is an IP literal)\n",
      out.str().c_str());
  CHECK(dns->asked().empty());  // an IP literal needs no DNS
}

TEST(RouterRouteFor, NullMxFailsWithOneLine) {
  dns->add_mx("partner.test.example", {{0, ""}});
  LONGS_EQUAL(1, run(sample(), "a@partner.test.example"));
  STRCMP_EQUAL("route-for: a@partner.test.example: permanent failure: null MX: domain accepts "
               "no mail\n",
               err.str().c_str());
  CHECK(out.str().find("result: permanent failure: null MX") != std::string::npos);
}

TEST(RouterRouteFor, NoRoute) {
  config::Config cfg = sample();
  cfg.routes.pop_back();
  LONGS_EQUAL(1, run(cfg, "a@elsewhere.example"));
  STRCMP_EQUAL("route-for: a@elsewhere.example: no route matches (the relay refuses it at RCPT "
               "with 550 5.7.1)\n",
               err.str().c_str());
  STRCMP_EQUAL("", out.str().c_str());
}

TEST(RouterRouteFor, BadAddress) {
  LONGS_EQUAL(1, run(sample(), "postmaster"));
  STRCMP_EQUAL("route-for: postmaster: 'postmaster' has no domain\n", err.str().c_str());
}

TEST(RouterRouteFor, OwnLoopAndResolverWithLiteralHost) {
  // The public entry point builds its own event_base and libunbound resolver; a literal host
  // needs no DNS, so this runs without any server.
  config::Config cfg = sample();
  cfg.dns.servers = {"127.0.0.1@9"};
  std::ostringstream o, e;
  LONGS_EQUAL(0, relay::run_route_for(cfg, "x@y.example", o, e));
  CHECK(o.str().find("  1. 192.0.2.50 (pref 0) port 2525: 192.0.2.50\n") != std::string::npos);
}
