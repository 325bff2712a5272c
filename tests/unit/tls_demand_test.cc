// tls_demand_test.cc - a message's own TLS demand (router/tls_demand.h): which demand a message
// has, the route it is delivered under, and the TLS-Required header as written in the wild.
#include <CppUTest/TestHarness.h>

#include "router/tls_demand.h"

using namespace router;

TEST_GROUP(TlsDemand){};

TEST(TlsDemand, RequireTlsWinsOverTheHeader) {
  using H = config::TlsRequiredHeader;
  CHECK(tls_demand(true, true, H::Honour) == TlsDemand::RequireTls);
  CHECK(tls_demand(true, false, H::Ignore) == TlsDemand::RequireTls);
  CHECK(tls_demand(false, true, H::Honour) == TlsDemand::TlsOptional);
  CHECK(tls_demand(false, true, H::Ignore) == TlsDemand::Route);
  CHECK(tls_demand(false, false, H::Honour) == TlsDemand::Route);
}

TEST(TlsDemand, RequireTlsMakesAnyRouteRequiredAndVerified) {
  for (auto mode : {config::TlsMode::None, config::TlsMode::Opportunistic, config::TlsMode::Required}) {
    config::Route r;
    r.name = "x";
    r.tls = mode;
    config::Route got = route_for_demand(r, TlsDemand::RequireTls);
    CHECK(got.tls == config::TlsMode::Required);
    CHECK(got.verify_ca);
    CHECK(got.verify_hostname);
    STRCMP_EQUAL("x", got.name.c_str());
  }
  CHECK_FALSE(sts_as_testing(TlsDemand::RequireTls));
}

// A DANE match is verified TLS (SPEC R-REQUIRETLS): DANE stays for hosts with usable TLSA
// records, and every other host needs PKIX with the name (under dane-only: none may go).
TEST(TlsDemand, RequireTlsKeepsDaneWithARequiredVerifiedFallback) {
  for (auto mode : {config::TlsMode::Dane, config::TlsMode::DaneOnly}) {
    config::Route r;
    r.tls = mode;
    config::Route got = route_for_demand(r, TlsDemand::RequireTls);
    CHECK(got.tls == mode);  // dane-only stays dane-only: no TLSA is still the admin's TLS failure
    CHECK(got.dane_fallback == config::DaneFallback::Required);
    CHECK(got.verify_ca);
    CHECK(got.verify_hostname);
    CHECK(route_for_demand(r, TlsDemand::TlsOptional).tls == config::TlsMode::Opportunistic);
  }
}

TEST(TlsDemand, TlsOptionalRelaxesRequiredOnly) {
  config::Route r;
  r.tls = config::TlsMode::Required;
  r.verify_ca = r.verify_hostname = true;
  CHECK(route_for_demand(r, TlsDemand::TlsOptional).tls == config::TlsMode::Opportunistic);
  r.tls = config::TlsMode::None;
  CHECK(route_for_demand(r, TlsDemand::TlsOptional).tls == config::TlsMode::None);
  CHECK(sts_as_testing(TlsDemand::TlsOptional));
  r.tls = config::TlsMode::Required;
  CHECK(route_for_demand(r, TlsDemand::Route).tls == config::TlsMode::Required);
}

TEST(TlsDemand, HeaderFoundOnlyInTheHeaderSection) {
  CHECK(says_tls_required_no("Subject: a\r\nTLS-Required: No\r\n\r\nbody\r\n"));
  CHECK(says_tls_required_no("tls-required:no\r\n\r\n"));
  CHECK(says_tls_required_no("TLS-Required:\r\n   No  \r\nX: y\r\n\r\n"));  // folded
  CHECK_FALSE(says_tls_required_no("TLS-Required: Yes\r\n\r\n"));
  CHECK_FALSE(says_tls_required_no("TLS-Required: Nope\r\n\r\n"));
  CHECK_FALSE(says_tls_required_no("X-TLS-Required: No\r\n\r\n"));
  CHECK_FALSE(says_tls_required_no("Subject: a\r\n\r\nTLS-Required: No\r\n"));
  CHECK_FALSE(says_tls_required_no(""));
}
