// route_tester_test.cc - the route tester's judgements: per-host checks from a
// trace, the route verdict from what the probe session settled or from a
// failed candidate lookup, and the stable names of the JSON report. The
// conversation itself is the client session's, tested with real peers in
// tests/integration/test_route_tester.py.
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "relay/tester/route_tester.h"
#include "relay/tester/route_tester_report.h"
#include "router/destination_plan.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;

namespace {

config::Route route(config::TlsMode mode, bool verify = true) {
  config::Route r;
  r.name = "dest";
  r.kind = config::RouteKind::Host;
  r.host = "mail.test.example";
  r.port = 2525;
  r.tls = mode;
  r.verify_ca = r.verify_hostname = verify;
  return r;
}

HostTrace connected() {
  HostTrace t;
  t.host = "mail.test.example";
  t.address = "127.0.0.1";
  t.port = 2525;
  t.connected = true;
  t.banner = "220 mx ESMTP";
  t.ehlo = {"PIPELINING", "STARTTLS"};
  t.starttls_offered = true;
  return t;
}

// A finished TLS 1.3 handshake with the given certificate outcome.
HostTrace tls(bool ca_ok, bool name_ok) {
  HostTrace t = connected();
  t.tls_attempted = t.handshake_ok = true;
  auto& f = t.facts;
  f.established = f.has_certificate = true;
  f.version = "TLS1_3";
  f.cipher = "TLS_AES_256_GCM_SHA384";
  f.bits = 256;
  f.ca_ok = ca_ok;
  f.ca_error = ca_ok ? "" : "certificate expired";
  f.peer_name = "mail.test.example";
  f.hostname_checked = true;
  f.hostname_ok = name_ok;
  f.verdict = ca_ok ? (name_ok ? certs::Verdict::Verified : certs::Verdict::Trusted) : certs::Verdict::Untrusted;
  return t;
}

std::string name(CheckResult r) { return check_result_name(r); }

void check_eq(const std::string& what, const std::string& got, const std::string& want) {
  if (got != want) FAIL((what + ": got \"" + got + "\", want \"" + want + "\"").c_str());
}

bool any_contains(const std::vector<std::string>& items, const std::string& word) {
  for (const auto& s : items)
    if (s.find(word) != std::string::npos) return true;
  return false;
}

RouteTestReport report(const config::Route& r, std::vector<HostTrace> hosts) {
  RouteTestReport rep;
  rep.route = r;
  rep.candidates.status = router::CandidateStatus::Ok;
  rep.hosts = std::move(hosts);
  for (const auto& t : rep.hosts) rep.verdicts.push_back(host_verdict(r, t));
  return rep;
}

}  // namespace

TEST_GROUP(RouteTester){};

TEST(RouteTester, HostVerdictTable) {
  HostTrace expired_required = tls(false, true);
  expired_required.error = "certificate expired (mail.test.example[127.0.0.1]:2525)";
  expired_required.status = "5.7.5";
  HostTrace passed = tls(true, true);
  passed.policy_ok = true;
  HostTrace wrong_name_opp = tls(true, false);
  wrong_name_opp.policy_ok = true;
  HostTrace unreachable;
  unreachable.host = "mx1";
  unreachable.error = "connect to mx1[::1]:25 failed: Connection refused";
  HostTrace no_starttls = connected();
  no_starttls.starttls_offered = false;
  no_starttls.error = "TLS unavailable: ...";
  HostTrace old_version = connected();
  old_version.tls_attempted = true;
  old_version.handshake_error = "TLS version too old: wolfSSL error";
  old_version.handshake_problem = certs::TlsProblem::VersionTooOld;
  old_version.error = "TLS version too old (...)";

  struct Case {
    const char* name;
    config::Route route;
    HostTrace trace;
    const char *ca, *hostname, *min_version, *cipher;
    bool enforced, would_deliver;
    const char* summary_start;
  } cases[] = {
      {"verified, required", route(config::TlsMode::Required), passed, "pass", "pass", "pass", "pass", true, true,
       "would take the mail over TLS1_3"},
      {"expired, required", route(config::TlsMode::Required), expired_required, "fail", "pass", "pass", "pass", true,
       false, "would not take the mail: certificate expired"},
      {"wrong name, opportunistic", route(config::TlsMode::Opportunistic), wrong_name_opp, "pass", "fail", "pass",
       "pass", false, true, "would take the mail over TLS1_3"},
      {"unreachable", route(config::TlsMode::Required), unreachable, "not_checked", "not_checked", "not_checked",
       "not_checked", true, false, "unreachable: connect to"},
      {"no STARTTLS", route(config::TlsMode::Required), no_starttls, "not_checked", "not_checked", "not_checked",
       "not_checked", true, false, "would not take the mail: TLS unavailable"},
      {"old version", route(config::TlsMode::Required), old_version, "not_checked", "not_checked", "fail",
       "not_checked", true, false, "would not take the mail: TLS version too old"},
  };
  for (const auto& c : cases) {
    HostVerdict v = host_verdict(c.route, c.trace);
    std::string n = c.name;
    check_eq(n + " ca", name(v.ca.result), c.ca);
    check_eq(n + " hostname", name(v.hostname.result), c.hostname);
    check_eq(n + " min_version", name(v.min_version.result), c.min_version);
    check_eq(n + " cipher", name(v.cipher.result), c.cipher);
    check_eq(n + " enforced", v.ca.enforced ? "yes" : "no", c.enforced ? "yes" : "no");
    check_eq(n + " would_deliver", v.would_deliver ? "yes" : "no", c.would_deliver ? "yes" : "no");
    check_eq(n + " summary", v.summary.substr(0, strlen(c.summary_start)), c.summary_start);
  }
}

// What a probe session settled, as the client session types it.
router::Outcome settled(router::Disposition d, const char* status, const std::string& reason = "",
                        router::FailureKind kind = router::FailureKind::None,
                        certs::TlsProblem problem = certs::TlsProblem::HandshakeFailed) {
  router::Outcome o;
  o.disposition = d;
  o.status = status;
  o.reason = reason;
  o.kind = kind;
  o.tls_problem = problem;
  return o;
}

TEST(RouteTester, SentUsesTheFirstHostThatWouldTakeTheMail) {
  HostTrace down;
  down.host = "mx1.test.example";
  down.address = "::1";
  down.port = 25;
  down.error = "connect to mx1.test.example[::1]:25 failed: Connection refused";
  HostTrace ok = tls(true, true);
  ok.policy_ok = true;
  RouteTestReport rep = report(route(config::TlsMode::Required), {down, ok, ok});
  judge_probe(settled(router::Disposition::Sent, "2.0.0"), &rep);
  CHECK(rep.outcome == RouteOutcome::Deliver);
  LONGS_EQUAL(0, rep.exit_code());
  check_eq("via", rep.via, "mail.test.example[127.0.0.1]:2525");
  check_eq("line", rep.verdict_line,
           "deliveries on this route would succeed over TLS1_3 (host mail.test.example[127.0.0.1]:2525)");
  CHECK(any_contains(rep.notes, "next host"));
  CHECK(rep.remedies.empty());
}

TEST(RouteTester, PlaintextSuccessIsNoted) {
  HostTrace plain = connected();
  plain.starttls_offered = false;
  plain.policy_ok = true;
  RouteTestReport rep = report(route(config::TlsMode::Opportunistic, false), {plain});
  judge_probe(settled(router::Disposition::Sent, "2.0.0"), &rep);
  check_eq("line", rep.verdict_line,
           "deliveries on this route would succeed without TLS (plaintext) (host mail.test.example[127.0.0.1]:2525)");
  CHECK(rep.tls_version.empty());
  CHECK(any_contains(rep.notes, "unencrypted"));
}

TEST(RouteTester, BouncedGetsSeed000Remedies) {
  HostTrace t = tls(true, false);
  t.status = "5.7.5";
  t.error = "certificate host name mismatch (mail.test.example[127.0.0.1]:2525: certificate does not name x)";
  RouteTestReport rep = report(route(config::TlsMode::Required), {t});
  router::Outcome o = settled(router::Disposition::Bounce, "5.7.5", t.error, router::FailureKind::Tls,
                              certs::TlsProblem::HostnameMismatch);
  o.advice = "advice";
  judge_probe(o, &rep);
  CHECK(rep.outcome == RouteOutcome::Bounce);
  LONGS_EQUAL(1, rep.exit_code());
  check_eq("line", rep.verdict_line, "deliveries on this route would bounce: " + t.error);
  CHECK(any_contains(rep.remedies, "host name that is in the server's certificate"));
  CHECK(any_contains(rep.remedies, "trusted certificate authority"));
  CHECK(any_contains(rep.remedies, "third-party mail relay service"));
  CHECK(any_contains(rep.remedies, "verify_hostname = false on route \"dest\". The cost:"));
  CHECK(!any_contains(rep.remedies, "smarthost test-route"));
}

TEST(RouteTester, DeferredAndUnsettled) {
  RouteTestReport rep = report(route(config::TlsMode::Required), {});
  judge_probe(settled(router::Disposition::Defer, "4.4.1", "connect to x failed", router::FailureKind::Connect), &rep);
  CHECK(rep.outcome == RouteOutcome::Defer);
  check_eq("line", rep.verdict_line, "deliveries on this route would be deferred: connect to x failed");
  CHECK(any_contains(rep.remedies, "max_lifetime"));
  RouteTestReport none = report(route(config::TlsMode::Required), {});
  judge_probe(router::Outcome{}, &none);
  CHECK(none.outcome == RouteOutcome::Defer);
  check_eq("status", none.status, "4.4.1");
}

TEST(RouteTester, LookupFailuresAsTheSchedulerJudgesThem) {
  RouteTestReport rep = report(route(config::TlsMode::Required), {});
  router::StsEnforcement plan;
  plan.candidates.status = router::CandidateStatus::PermFail;
  plan.candidates.null_mx = true;
  plan.candidates.reason = "null MX: domain accepts no mail";
  judge_lookup_failure(*router::judge_plan(plan), &rep);
  CHECK(rep.outcome == RouteOutcome::Bounce);
  check_eq("status", rep.status, "5.1.10");
  CHECK(rep.failure == router::FailureKind::NullMx);
  // Typed, not read from the words: a reason that mentions null MX is not one.
  plan.candidates.null_mx = false;
  plan.candidates.reason = "domain null-mx.example does not exist (NXDOMAIN)... null MX";
  judge_lookup_failure(*router::judge_plan(plan), &rep);
  check_eq("status", rep.status, "5.1.2");
  plan.candidates.status = router::CandidateStatus::TempFail;
  plan.candidates.null_mx = false;
  plan.candidates.reason = "no host resolves";
  judge_lookup_failure(*router::judge_plan(plan), &rep);
  CHECK(rep.outcome == RouteOutcome::Defer);
  check_eq("status", rep.status, "4.4.3");
}

TEST(RouteTester, JsonNamesAndColour) {
  HostTrace ok = tls(true, true);
  ok.policy_ok = true;
  RouteTestReport rep = report(route(config::TlsMode::Required), {ok});
  judge_probe(settled(router::Disposition::Sent, "2.0.0"), &rep);
  std::ostringstream js;
  print_test_report_json(rep, js);
  for (const char* field : {"\"route\": \"dest\"", "\"mta_sts\": {", "\"result\": \"not_checked\"", "\"hosts\": [",
                            "\"checks\": {", "\"min_version\": {", "\"would_deliver\": true", "\"verdict\": {",
                            "\"result\": \"deliver\"", "\"tls_version\": \"TLS1_3\"", "\"exit_code\": 0"}) {
    if (js.str().find(field) == std::string::npos) FAIL((std::string("JSON lacks ") + field + "\n" + js.str()).c_str());
  }
  std::ostringstream plain, colour;
  print_test_report(rep, false, plain);
  print_test_report(rep, true, colour);
  CHECK(plain.str().find('\x1b') == std::string::npos);
  CHECK(colour.str().find("\x1b[32m") != std::string::npos);
  CHECK(plain.str().find("verdict: " + rep.verdict_line + "\n") != std::string::npos);
}
