// mta_sts_policy_test.cc - MTA-STS parsers (RFC 8461 cases), MX matching, enforcement, cache,
// HTTP response parsing. Table-driven; failures print got/want.
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "router/mta_sts/mta_sts_cache.h"
#include "router/mta_sts_enforce.h"
#include "router/https/https_client.h"
#include "router/mta_sts/mta_sts_policy.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace router;

namespace {

struct PolicyCase {
  const char* name;
  const char* text;
  bool ok;
  const char* error_part;  // substring of the error when !ok
};

const PolicyCase kPolicyCases[] = {
    {"RFC example, LF", "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n", true, ""},
    {"CRLF lines", "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 86400\r\n", true, ""},
    {"mixed CRLF/LF, no final newline", "version: STSv1\r\nmode: none\nmax_age: 0", true, ""},
    {"extension field ignored", "version: STSv1\nmode: testing\nfoo: bar\nmx: a.example\nmax_age: 5\n", true, ""},
    {"blank lines skipped", "\nversion: STSv1\n\nmode: testing\nmx: a.example\nmax_age: 5\n\n", true, ""},
    {"spaces around value", "version:   STSv1  \nmode:\tenforce\nmx:  a.example \nmax_age:  60\n", true, ""},
    {"bad version", "version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 60\n", false, "not STSv1"},
    {"missing version", "mode: enforce\nmx: a.example\nmax_age: 60\n", false, "version missing"},
    {"missing max_age", "version: STSv1\nmode: enforce\nmx: a.example\n", false, "max_age missing"},
    {"max_age too large", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n", false, "max_age"},
    {"max_age at the limit", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557600\n", true, ""},
    {"max_age not a number", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\n", false, "max_age"},
    {"max_age 11 digits", "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 00000000060\n", false, "max_age"},
    {"unknown mode", "version: STSv1\nmode: strict\nmx: a.example\nmax_age: 60\n", false, "mode 'strict'"},
    {"mode case matters", "version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 60\n", false, "mode"},
    {"missing mode", "version: STSv1\nmx: a.example\nmax_age: 60\n", false, "mode missing"},
    {"duplicate mode", "version: STSv1\nmode: testing\nmode: enforce\nmx: a.example\nmax_age: 60\n", false, "more than once"},
    {"duplicate max_age", "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 60\nmax_age: 70\n", false, "more than once"},
    {"duplicate version", "version: STSv1\nversion: STSv1\nmode: testing\nmx: a.example\nmax_age: 60\n", false, "more than once"},
    {"no mx in enforce", "version: STSv1\nmode: enforce\nmax_age: 60\n", false, "no mx"},
    {"bad mx pattern", "version: STSv1\nmode: enforce\nmx: *.com.\nmax_age: 60\n", false, "mx"},
    {"wildcard in the middle", "version: STSv1\nmode: enforce\nmx: a.*.example.com\nmax_age: 60\n", false, "mx"},
    {"not key: value", "version: STSv1\nmode enforce\nmx: a.example\nmax_age: 60\n", false, "line 2"},
    {"over 64 KiB", nullptr, false, "64 KiB"},
};

}  // namespace

TEST_GROUP(MtaStsPolicy){};

TEST(MtaStsPolicy, ParserCases) {
  for (const auto& c : kPolicyCases) {
    std::string text = c.text ? c.text : "version: STSv1\nmode: none\nmax_age: 1\n" + std::string(70000, '\n');
    StsPolicyParse p = parse_sts_policy(text);
    std::string msg = std::string(c.name) + ": got " + (p.policy ? "ok" : "error '" + p.error + "'") + ", want " +
                      (c.ok ? "ok" : std::string("error with '") + c.error_part + "'");
    CHECK_TEXT(p.policy.has_value() == c.ok, msg.c_str());
    if (!c.ok) CHECK_TEXT(p.error.find(c.error_part) != std::string::npos, msg.c_str());
  }
}

TEST(MtaStsPolicy, ParsedFields) {
  auto p = parse_sts_policy("version: STSv1\r\nmode: enforce\r\nmx: MAIL.Example.com.\r\nmx: *.example.net\r\nmax_age: 604800\r\n");
  CHECK(p.policy.has_value());
  CHECK(p.policy->mode == StsMode::Enforce);
  LONGS_EQUAL(604800, p.policy->max_age);
  LONGS_EQUAL(2, p.policy->mx.size());
  STRCMP_EQUAL("mail.example.com", p.policy->mx[0].c_str());
  STRCMP_EQUAL("*.example.net", p.policy->mx[1].c_str());
  // The canonical form parses back to the same policy.
  auto again = parse_sts_policy(format_sts_policy(*p.policy));
  CHECK(again.policy.has_value());
  CHECK(again.policy->mx == p.policy->mx);
  LONGS_EQUAL(p.policy->max_age, again.policy->max_age);
}

TEST(MtaStsPolicy, WildcardMatching) {
  struct Case {
    const char* host;
    const char* pattern;
    bool want;
  } cases[] = {
      {"mail.example.com", "mail.example.com", true},
      {"MAIL.Example.COM.", "mail.example.com", true},
      {"a.example.com", "*.example.com", true},
      {"a.b.example.com", "*.example.com", false},  // exactly one label (RFC 8461 4.1)
      {"example.com", "*.example.com", false},
      {"aexample.com", "*.example.com", false},
      {"mx1.wild.test.example", "*.wild.test.example", true},
      {"mail.example.com", "example.com", false},
      {"mail.example.com", "*.mail.example.com", false},
      {"x.example.org", "*.example.com", false},
  };
  for (const auto& c : cases) {
    bool got = mx_pattern_matches(c.host, c.pattern);
    std::string msg = std::string(c.host) + " vs " + c.pattern + ": got " + (got ? "match" : "no match");
    CHECK_TEXT(got == c.want, msg.c_str());
  }
  auto p = parse_sts_policy("version: STSv1\nmode: enforce\nmx: mx1.test.example\nmx: *.wild.test.example\nmax_age: 60\n");
  CHECK(mx_matches_policy("mx1.test.example", *p.policy));
  CHECK(mx_matches_policy("a.wild.test.example", *p.policy));
  CHECK_FALSE(mx_matches_policy("mx2.test.example", *p.policy));
}

TEST(MtaStsPolicy, TxtRecords) {
  struct Case {
    std::vector<std::string> txt;
    const char* want_id;  // nullptr: error
  } cases[] = {
      {{"v=STSv1; id=20160831085700Z;"}, "20160831085700Z"},
      {{"v=STSv1; id=20190425085700"}, "20190425085700"},
      {{"v=STSv1;id=abc"}, "abc"},
      {{"v=STSv1; id=abc; ext=foo"}, "abc"},
      {{"v=spf1 -all", "v=STSv1; id=x1"}, "x1"},          // other records are ignored
      {{"v=STSv1; id=a", "v=STSv1; id=b"}, nullptr},      // two records
      {{"v=STSv1"}, nullptr},                              // no id
      {{"v=STSv1; id="}, nullptr},
      {{"v=STSv1; id=abc-def"}, nullptr},                  // not alphanumeric
      {{"v=STSv1; id=123456789012345678901234567890123"}, nullptr},  // 33 characters
      {{"v=STSv1; id=a; id=b"}, nullptr},
      {{"id=abc; v=STSv1"}, nullptr},                      // v must come first
      {{}, nullptr},
  };
  for (const auto& c : cases) {
    std::string err;
    auto id = parse_sts_txt(c.txt, &err);
    std::string msg = (c.txt.empty() ? "(none)" : c.txt.back()) + ": got " + (id ? *id : "error " + err);
    if (c.want_id) {
      CHECK_TEXT(id.has_value(), msg.c_str());
      STRCMP_EQUAL_TEXT(c.want_id, id->c_str(), msg.c_str());
    } else {
      CHECK_TEXT(!id.has_value() && !err.empty(), msg.c_str());
    }
  }
}

namespace {

Candidates three_hosts() {
  Candidates c;
  c.status = CandidateStatus::Ok;
  c.lookup_name = "test.example";
  for (const char* n : {"mx1.test.example", "mx2.test.example", "a.wild.test.example"}) {
    CandidateHost h;
    h.name = n;
    h.addresses = {"127.0.0.1"};
    c.hosts.push_back(h);
  }
  return c;
}

PolicyResult policy(const char* text) {
  PolicyResult r;
  r.domain = "test.example";
  r.source = PolicySource::Fetched;
  r.id = "1";
  r.policy = parse_sts_policy(text).policy;
  return r;
}

}  // namespace

TEST(MtaStsPolicy, EnforceFiltersAndTightens) {
  config::Route route;
  route.name = "default";
  route.tls = config::TlsMode::Opportunistic;
  auto e = apply_sts_policy(route, three_hosts(),
                            policy("version: STSv1\nmode: enforce\nmx: mx1.test.example\nmx: *.wild.test.example\nmax_age: 60\n"));
  CHECK(e.enforce);
  LONGS_EQUAL(2, e.candidates.hosts.size());
  STRCMP_EQUAL("mx1.test.example", e.candidates.hosts[0].name.c_str());
  STRCMP_EQUAL("a.wild.test.example", e.candidates.hosts[1].name.c_str());
  LONGS_EQUAL(1, e.excluded.size());
  CHECK(e.route.tls == config::TlsMode::Required);
  CHECK(e.route.verify_ca && e.route.verify_hostname);
  CHECK(e.route.has_min_tls_version && e.route.min_tls_version == config::TlsVersion::V1_2);
  CHECK_FALSE(e.bounce_on_tls_failure);  // MTA-STS failures defer

  // A route that already asks for more keeps it (the stricter wins).
  route.tls = config::TlsMode::Required;
  route.has_min_tls_version = true;
  route.min_tls_version = config::TlsVersion::V1_3;
  e = apply_sts_policy(route, three_hosts(), policy("version: STSv1\nmode: enforce\nmx: mx1.test.example\nmax_age: 60\n"));
  CHECK(e.route.min_tls_version == config::TlsVersion::V1_3);
  CHECK(e.bounce_on_tls_failure);
}

TEST(MtaStsPolicy, EnforceWithNoMatchingHostDefers) {
  config::Route route;
  auto e = apply_sts_policy(route, three_hosts(), policy("version: STSv1\nmode: enforce\nmx: other.example\nmax_age: 60\n"));
  CHECK(e.candidates.status == CandidateStatus::TempFail);
  CHECK(e.candidates.hosts.empty());
  CHECK(e.candidates.reason.find("names none of the MX hosts") != std::string::npos);
}

// RFC 8461 2: an MX host with secure usable TLSA records is delivered to by DANE even when the
// enforce policy's mx patterns leave it out; secure but unusable records do not count (RFC 7672 2.2).
TEST(MtaStsPolicy, EnforceKeepsHostsWithUsableTlsa) {
  config::Route route;
  route.tls = config::TlsMode::Dane;
  Candidates c = three_hosts();
  c.hosts[1].dane.state = DaneState::Usable;    // mx2: not named by the policy
  c.hosts[2].dane.state = DaneState::Unusable;  // a.wild: not named either
  auto e = apply_sts_policy(route, c, policy("version: STSv1\nmode: enforce\nmx: mx1.test.example\nmax_age: 60\n"));
  LONGS_EQUAL(2, e.candidates.hosts.size());
  STRCMP_EQUAL("mx2.test.example", e.candidates.hosts[1].name.c_str());
  LONGS_EQUAL(1, e.dane_kept.size());
  LONGS_EQUAL(1, e.excluded.size());
  STRCMP_EQUAL("a.wild.test.example", e.excluded[0].c_str());
  CHECK(e.candidates.status == CandidateStatus::Ok);
  // The kept host's session is DANE's: TLSA records only, whatever the policy raised.
  HostTlsLevel l = dane_host_level(e.route, e.candidates.hosts[1].dane);
  CHECK(l.dane_verify && !l.verify_ca && !l.verify_hostname);
}

TEST(MtaStsPolicy, TestingAndNoneChangeNothing) {
  config::Route route;
  auto e = apply_sts_policy(route, three_hosts(), policy("version: STSv1\nmode: testing\nmx: other.example\nmax_age: 60\n"));
  CHECK(e.testing && !e.enforce);
  LONGS_EQUAL(3, e.candidates.hosts.size());
  LONGS_EQUAL(3, e.excluded.size());  // would have been excluded: reported, not enforced
  CHECK(e.route.tls == route.tls);
  e = apply_sts_policy(route, three_hosts(), policy("version: STSv1\nmode: none\nmax_age: 60\n"));
  CHECK(!e.testing && !e.enforce);
  PolicyResult none;
  none.domain = "test.example";
  e = apply_sts_policy(route, three_hosts(), none);
  CHECK(!e.enforce && e.candidates.hosts.size() == 3);
}

TEST(MtaStsPolicy, PolicyDomain) {
  config::Route mx;
  mx.kind = config::RouteKind::Mx;
  STRCMP_EQUAL("example.org", sts_policy_domain(mx, "Example.ORG").c_str());
  config::Route host;
  host.kind = config::RouteKind::Host;
  host.host = "smtp.Provider.example";
  STRCMP_EQUAL("smtp.provider.example", sts_policy_domain(host, "x.example").c_str());
  host.host = "[192.0.2.1]";
  STRCMP_EQUAL("", sts_policy_domain(host, "x.example").c_str());
}

TEST(MtaStsPolicy, SessionCheck) {
  certs::TlsFacts f;
  f.established = true;
  f.version = "TLS1_1";
  f.has_certificate = f.ca_ok = f.hostname_checked = f.hostname_ok = true;
  auto bad = check_sts_session(f);
  CHECK(bad && bad->problem == certs::TlsProblem::VersionTooOld);
  f.version = "TLS1_2";
  CHECK_FALSE(check_sts_session(f).has_value());
  f.hostname_ok = false;
  bad = check_sts_session(f);
  CHECK(bad.has_value());
  STRCMP_EQUAL("certificate-host-mismatch", tlsrpt_result_type(bad->problem));
  STRCMP_EQUAL("starttls-not-supported", tlsrpt_result_type(certs::TlsProblem::NotOffered));
  STRCMP_EQUAL("certificate-expired", tlsrpt_result_type(certs::TlsProblem::Expired));
  STRCMP_EQUAL("certificate-not-trusted", tlsrpt_result_type(certs::TlsProblem::UnknownCa));
}

TEST(MtaStsPolicy, CacheRoundTrip) {
  char tmpl[] = "/tmp/smarthost-sts-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string err;
  {
    auto cache = StsCache::open(sts_cache_dir(dir + "/queue"), &err);
    CHECK_TEXT(cache != nullptr, err.c_str());
    CHECK_FALSE(cache->get("test.example").has_value());
    CachedPolicy c;
    c.id = "abc1";
    c.fetched = 1000;
    c.expires = 2000;
    c.policy = *parse_sts_policy("version: STSv1\nmode: enforce\nmx: mx1.test.example\nmax_age: 1000\n").policy;
    CHECK(cache->put("Test.Example.", c, &err));
    auto got = cache->get("test.example");
    CHECK(got.has_value());
    STRCMP_EQUAL("abc1", got->id.c_str());
    LONGS_EQUAL(2000, got->expires);
    CHECK(got->policy.mode == StsMode::Enforce);
    LONGS_EQUAL(1, cache->list().size());
    CHECK(cache->remove("test.example"));
    CHECK_FALSE(cache->get("test.example").has_value());
  }
  CHECK_FALSE(decode_cached_policy("garbage").has_value());
  CHECK_FALSE(decode_cached_policy("sts-cache 1\nid x\n\nversion: STSv1\n").has_value());
  std::string cmd = "rm -rf '" + dir + "'";
  CHECK(system(cmd.c_str()) == 0);
}

TEST(MtaStsPolicy, HttpResponses) {
  struct Case {
    const char* raw;
    bool at_eof;
    bool ok;
    bool complete;
    int status;
    const char* body;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello", false, true, true, 200, "hello"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", false, true, false, 200, "hello"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true, false, false, 200, ""},
      {"HTTP/1.0 200 OK\r\n\r\nuntil eof", true, true, true, 200, "until eof"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", false, true, true, 200, "hello world"},
      {"HTTP/1.1 301 Moved\r\nLocation: https://evil.example/\r\nContent-Length: 0\r\n\r\n", false, true, true, 301, ""},
      {"SSH-2.0-OpenSSH\r\n\r\n", false, false, false, 0, ""},
      {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, false, false, 200, ""},
  };
  for (const auto& c : cases) {
    HttpsResponse r;
    bool complete = false;
    std::string why;
    bool ok = parse_http_response(c.raw, c.at_eof, &r, &complete, &why);
    std::string msg = std::string(c.raw).substr(0, 40) + ": got ok=" + std::to_string(ok) + " complete=" +
                      std::to_string(complete) + " status=" + std::to_string(r.status) + " why=" + why;
    CHECK_TEXT(ok == c.ok, msg.c_str());
    if (!ok) continue;
    CHECK_TEXT(complete == c.complete, msg.c_str());
    LONGS_EQUAL_TEXT(c.status, r.status, msg.c_str());
    if (complete) STRCMP_EQUAL_TEXT(c.body, r.body.c_str(), msg.c_str());
  }
}

// RFC 8461 10.2: a policy is fetched anew ahead of its expiry (a quarter of max_age, a day at most).
TEST(MtaStsPolicy, RefreshAheadOfExpiry) {
  router::CachedPolicy c;
  c.fetched = 1000000;
  c.expires = c.fetched + 86400;  // max_age one day: refresh in its last 6 h
  CHECK_FALSE(router::sts_refresh_due(c, c.fetched));
  CHECK_FALSE(router::sts_refresh_due(c, c.expires - 21601));
  CHECK(router::sts_refresh_due(c, c.expires - 21600));
  c.expires = c.fetched + 86400 * 365;  // a year: the last day only
  CHECK_FALSE(router::sts_refresh_due(c, c.expires - 86401));
  CHECK(router::sts_refresh_due(c, c.expires - 86400));
}
