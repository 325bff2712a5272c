// console_test.cc - the console's pure parts: the failed-login limit and sessions, password
// hashes, metric text, the policy impact preview over a history, the remote certificate expiry
// watch and the TLS reports page.
#include <CppUTest/TestHarness.h>

#include <stdlib.h>

#include <string>

#include "config/config.h"
#include "relay/console/cert_expiry_watch.h"
#include "relay/console/console_api.h"
#include "relay/console/console_pages.h"
#include "relay/console/login_guard.h"
#include "relay/console/metrics.h"
#include "relay/core/password_hash.h"

using namespace relay;

TEST_GROUP(LoginGuard){};

TEST(LoginGuard, FiveFailuresInFiveMinutesBlockThatAddressForFiveMinutes) {
  LoginGuard g;
  const int64_t t = 1000000;
  for (int i = 0; i < 4; ++i) CHECK_FALSE(g.failed("192.0.2.1", t + i));
  CHECK_EQUAL(0, g.blocked_for("192.0.2.1", t + 4));
  CHECK_TRUE(g.failed("192.0.2.1", t + 4));
  CHECK_EQUAL(300, g.blocked_for("192.0.2.1", t + 4));
  CHECK_EQUAL(0, g.blocked_for("192.0.2.2", t + 4));  // per address, never per account
  CHECK(g.blocked_for("192.0.2.1", t + 303) > 0);
  CHECK_EQUAL(0, g.blocked_for("192.0.2.1", t + 304));
}

TEST(LoginGuard, FailuresSpreadOverMoreThanFiveMinutesDoNotBlock) {
  LoginGuard g;
  const int64_t t = 1000000;
  for (int i = 0; i < 20; ++i) CHECK_FALSE(g.failed("192.0.2.1", t + i * 76));
  CHECK_EQUAL(0, g.blocked_for("192.0.2.1", t + 20 * 76));
}

TEST(LoginGuard, SessionsCarryTheirOwnCsrfTokenAndExpire) {
  LoginGuard g;
  std::string a = g.open("admin", 1000), b = g.open("admin", 1000);
  CHECK_EQUAL(64u, a.size());
  CHECK(a != b);
  const auto* s = g.find(a, 1001);
  CHECK(s != nullptr);
  STRCMP_EQUAL("admin", s->user.c_str());
  CHECK(s->csrf != a && s->csrf.size() == 64);
  CHECK(g.find(b, 1001)->csrf != s->csrf);
  CHECK(g.find("nope", 1001) == nullptr);
  CHECK(g.find(a, 1000 + LoginGuard::kSessionSeconds) == nullptr);
  g.close(b);
  CHECK(g.find(b, 1001) == nullptr);
}

TEST_GROUP(PasswordHash){};

TEST(PasswordHash, YescryptHashesMatchOnlyTheirPassword) {
  std::string h = make_password_hash("s3cret pass");
  CHECK_TEXT(h.rfind("$y$", 0) == 0, h.c_str());
  CHECK(password_matches("s3cret pass", h));
  CHECK_FALSE(password_matches("s3cret pas", h));
  CHECK_FALSE(password_matches("", h));
  CHECK_FALSE(password_matches("s3cret pass", "$y$garbage"));
  CHECK_FALSE(password_matches("x", ""));
  CHECK(make_password_hash("s3cret pass") != h);  // salted
}

TEST_GROUP(Metrics){};

TEST(Metrics, CountersMoveWithEventsAndLabelsAreBounded) {
  Metrics m;
  HistoryEvent acc;
  acc.kind = HistoryKind::Accepted;
  m.event(acc);
  HistoryEvent d;
  d.kind = HistoryKind::Delivery;
  d.route = "partners";
  d.status = "sent";
  d.tls_version = "TLS1_3";
  d.rcpt = "someone@example.com";
  m.event(d);
  m.event(d);
  d.status = "deferred";
  d.tls_version = "";
  d.tls_problem = "hostname-mismatch";
  m.event(d);
  m.inbound_session("");
  Metrics::Gauges g;
  g.queue_by_state = {{"queued", 3}};
  g.inbound = 2;
  std::string t = m.render(g);
  CHECK(t.find("smarthost_messages_accepted_total 1\n") != std::string::npos);
  CHECK(t.find("smarthost_deliveries_total{route=\"partners\",status=\"sent\",tls_version=\"TLS1_3\"} 2\n") !=
        std::string::npos);
  CHECK(t.find("smarthost_deliveries_total{route=\"partners\",status=\"deferred\",tls_version=\"none\"} 1\n") !=
        std::string::npos);
  CHECK(t.find("smarthost_tls_failures_total{route=\"partners\",reason=\"hostname-mismatch\"} 1\n") !=
        std::string::npos);
  CHECK(t.find("smarthost_inbound_sessions_total{tls_version=\"none\"} 1\n") != std::string::npos);
  CHECK(t.find("smarthost_queue_messages{state=\"queued\"} 3\n") != std::string::npos);
  CHECK(t.find("smarthost_connections{direction=\"inbound\"} 2\n") != std::string::npos);
  CHECK(t.find("@") == std::string::npos);
  STRCMP_EQUAL("other", tls_label("SSLv3").c_str());
}

TEST_GROUP(PolicyPreview) {
  std::string dir;
  void setup() override {
    char tmpl[] = "/tmp/smarthost-p-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  void teardown() override {
    std::string cmd = "rm -rf '" + dir + "'";
    CHECK(system(cmd.c_str()) == 0);
  }
};

TEST(PolicyPreview, NamesTheHostsEachCandidateSettingWouldHaveFailed) {
  std::string err;
  auto h = HistoryStore::open(dir + "/history", 30, 16, &err);
  CHECK_TEXT(h != nullptr, err.c_str());
  struct Row {
    const char* host;
    const char* tls;
    const char* verify;
  } rows[] = {{"good.example", "TLS1_3", "Verified"},
              {"wrongname.example", "TLS1_3", "Trusted"},
              {"selfsigned.example", "TLS1_2", "Untrusted"},
              {"plain.example", "", ""}};
  int64_t t = 1800000000LL * 1000000;
  for (const auto& r : rows) {
    HistoryEvent e;
    e.time_us = t++;
    e.kind = HistoryKind::Delivery;
    e.id = "Q";
    e.route = "partners";
    e.relay = std::string(r.host) + "[192.0.2.1]:25";
    e.remote_host = r.host;
    e.status = "sent";
    e.tls_version = r.tls;
    e.verify = r.verify;
    h->record(e);
  }
  HistoryEvent other;  // another route's delivery never counts
  other.time_us = t++;
  other.kind = HistoryKind::Delivery;
  other.route = "default";
  other.relay = "x[192.0.2.2]:25";
  other.remote_host = "x.example";
  h->record(other);
  h->flush(t);
  struct Case {
    const char* setting;
    const char* value;
    const char* want;  // failing hosts, space separated
  } cases[] = {{"verify_hostname", "", "plain.example selfsigned.example wrongname.example "},
               {"verify_ca", "", "plain.example selfsigned.example "},
               {"required", "", "plain.example "},
               {"min_tls_version", "1.3", "plain.example selfsigned.example "},
               {"min_tls_version", "1.2", "plain.example "}};
  for (const auto& c : cases) {
    auto p = policy_preview(*h, "partners", c.setting, c.value, 0);
    std::string got;
    for (const auto& f : p.failing_hosts) got += f + " ";
    STRCMP_EQUAL_TEXT(c.want, got.c_str(), c.setting);
    CHECK_EQUAL(4u, p.deliveries);
    CHECK_EQUAL(4u, p.hosts.size());
  }
  CHECK(!policy_preview(*h, "partners", "verify_everything", "", 0).error.empty());
  CHECK(!policy_preview(*h, "partners", "min_tls_version", "1.0", 0).error.empty());
}

TEST_GROUP(CertExpiryWatch){};

namespace {

constexpr int64_t kNowS = 1800000000;
constexpr int64_t kDay = 86400;

config::Route route(const char* name, config::TlsMode tls) {
  config::Route r;
  r.name = name;
  r.tls = tls;
  return r;
}

HistoryEvent seen(const char* route, const char* host, int64_t not_after, int64_t at_s, const char* fp = "f1") {
  HistoryEvent e;
  e.kind = HistoryKind::Delivery;
  e.time_us = at_s * 1000000;
  e.route = route;
  e.remote_host = host;
  e.relay = std::string(host) + "[192.0.2.1]:25";
  e.status = "sent";
  e.tls_version = "TLS1_3";
  e.cert_subject = std::string("CN=") + host;
  e.cert_sha256 = fp;
  e.cert_not_after = not_after;
  return e;
}

std::string hosts(const std::vector<ExpiryWarning>& w) {
  std::string out;
  for (const auto& x : w) out += x.route + "/" + x.host + " ";
  return out;
}

}  // namespace

TEST(CertExpiryWatch, WarnsForRequiredRoutesWithin14DaysSoonestFirst) {
  config::Config cfg;
  cfg.admin.history_days = 30;
  cfg.routes = {route("bank", config::TlsMode::Required), route("partners", config::TlsMode::Opportunistic)};
  CertExpiryWatch w;
  w.event(seen("bank", "mx.soon.example", kNowS + 5 * kDay, kNowS - 60));
  w.event(seen("bank", "mx.later.example", kNowS + 365 * kDay, kNowS - 60));
  w.event(seen("bank", "mx.edge.example", kNowS + 14 * kDay, kNowS - 60));  // exactly 14 days: no warning
  w.event(seen("bank", "mx.gone.example", kNowS - 2 * kDay, kNowS - 60));   // expired: warns too
  w.event(seen("partners", "mx.soon.example", kNowS + 5 * kDay, kNowS - 60));  // opportunistic: no
  w.event(seen("bank", "mx.old.example", kNowS + 1 * kDay, kNowS - 31 * kDay));  // beyond history_days
  STRCMP_EQUAL("bank/mx.gone.example bank/mx.soon.example ", hosts(w.warnings(cfg, kNowS)).c_str());
  auto n = w.count_by_route(cfg, kNowS);
  LONGS_EQUAL(1, n.size());
  LONGS_EQUAL(2, n["bank"]);
  // A reload that makes the route opportunistic ends its warnings; the metric keeps no row.
  cfg.routes[0].tls = config::TlsMode::Opportunistic;
  CHECK(w.warnings(cfg, kNowS).empty());
  CHECK(w.count_by_route(cfg, kNowS).empty());
}

TEST(CertExpiryWatch, ARenewedCertificateEndsTheWarningAndSeedsNeverOverrideNewerEvents) {
  config::Config cfg;
  cfg.routes = {route("bank", config::TlsMode::Required)};
  CertExpiryWatch w;
  w.event(seen("bank", "mx.bank.example", kNowS + 3 * kDay, kNowS - 100, "old"));
  STRCMP_EQUAL("bank/mx.bank.example ", hosts(w.warnings(cfg, kNowS)).c_str());
  w.event(seen("bank", "mx.bank.example", kNowS + 90 * kDay, kNowS - 10, "new"));
  CHECK(w.warnings(cfg, kNowS).empty());
  // The history scan started before the renewal finishes after it: the newer event stays.
  CertExpiryWatch::Table old_scan = {{{"bank", "mx.bank.example"}, {(kNowS - 100) * 1000000, "CN=x", "old", kNowS + 3 * kDay}},
                                     {{"bank", "mx2.bank.example"}, {(kNowS - 100) * 1000000, "CN=y", "y", kNowS + 2 * kDay}}};
  w.seed(old_scan);
  STRCMP_EQUAL("bank/mx2.bank.example ", hosts(w.warnings(cfg, kNowS)).c_str());
  // Events without a certificate (plaintext, no handshake) change nothing.
  HistoryEvent plain = seen("bank", "mx2.bank.example", 0, kNowS);
  w.event(plain);
  LONGS_EQUAL(1, w.warnings(cfg, kNowS).size());
}

TEST(CertExpiryWatch, TheMetricNamesEachRequiredRoute) {
  Metrics m;
  Metrics::Gauges g;
  g.expiring_certs = {{"bank", 2}, {"default", 0}};
  std::string t = m.render(g);
  CHECK(t.find("# TYPE smarthost_remote_certificates_expiring gauge\n") != std::string::npos);
  CHECK(t.find("smarthost_remote_certificates_expiring{route=\"bank\"} 2\n") != std::string::npos);
  CHECK(t.find("smarthost_remote_certificates_expiring{route=\"default\"} 0\n") != std::string::npos);
}

TEST(CertExpiryWatch, RemoteCertificatesAreListedOncePerFingerprintSoonestFirst) {
  char tmpl[] = "/tmp/smarthost-c-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string err;
  {
    auto h = HistoryStore::open(dir + "/history", 30, 16, &err);
    CHECK_TEXT(h != nullptr, err.c_str());
    h->record(seen("bank", "mx1.bank.example", kNowS + 300 * kDay, kNowS - 50, "year"));
    h->record(seen("bank", "mx2.bank.example", kNowS + 300 * kDay, kNowS - 40, "year"));
    h->record(seen("partners", "mx1.bank.example", kNowS + 300 * kDay, kNowS - 30, "year"));
    h->record(seen("bank", "mx.soon.example", kNowS + 5 * kDay, kNowS - 20, "soon"));
    h->flush(kNowS * 1000000);
    auto certs = remote_certificates(*h, 0);
    LONGS_EQUAL(2, certs.size());
    STRCMP_EQUAL("soon", certs[0].sha256.c_str());
    STRCMP_EQUAL("year", certs[1].sha256.c_str());
    LONGS_EQUAL(2, certs[1].hosts.size());
    CHECK(certs[1].routes == (std::set<std::string>{"bank", "partners"}));
    auto table = scan_history(*h, 0);
    LONGS_EQUAL(4, table.size());
  }
  std::string cmd = "rm -rf '" + dir + "'";
  CHECK(system(cmd.c_str()) == 0);
}

TEST_GROUP(TlsReportsPage){};

TEST(TlsReportsPage, SessionsAndFailuresPerPolicyDomainPerDayFromTheTlsrptStore) {
  char tmpl[] = "/tmp/smarthost-r-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string err;
  {
    auto s = TlsrptStore::open(dir + "/tlsrpt", &err);
    CHECK_TEXT(s != nullptr, err.c_str());
    TlsrptPolicy sts;
    sts.type = "sts";
    sts.id = "1";
    TlsrptPolicy none;  // no-policy-found
    FailureDetail expired;
    expired.result_type = "certificate-expired";
    FailureDetail mismatch;
    mismatch.result_type = "certificate-host-mismatch";
    const int64_t today = kNowS, yesterday = kNowS - kDay, long_ago = kNowS - 40 * kDay;
    for (int i = 0; i < 3; ++i) s->record_success("partner.example", sts, "mx.partner.example", today);
    s->record_failure("partner.example", sts, expired, today);
    s->record_failure("partner.example", sts, expired, today);
    s->record_failure("partner.example", none, mismatch, today);  // a second policy, same domain and day
    s->record_success("other.example", none, "mx.other.example", today);
    s->record_success("partner.example", sts, "mx.partner.example", yesterday);
    s->record_success("old.example", sts, "mx.old.example", long_ago);  // outside the 30 days
    auto rows = tls_report_rows(*s, kNowS, 30);
    LONGS_EQUAL(3, rows.size());
    STRCMP_EQUAL("other.example", rows[0].domain.c_str());  // today, by domain
    STRCMP_EQUAL("partner.example", rows[1].domain.c_str());
    STRCMP_EQUAL(utc_day(today).c_str(), rows[1].day.c_str());
    LONGS_EQUAL(3, rows[1].successes);
    LONGS_EQUAL(3, rows[1].failures);
    LONGS_EQUAL(2, rows[1].failure_types["certificate-expired"]);
    LONGS_EQUAL(1, rows[1].failure_types["certificate-host-mismatch"]);
    CHECK(rows[1].policies == (std::set<std::string>{"no-policy-found", "sts"}));
    STRCMP_EQUAL(utc_day(yesterday).c_str(), rows[2].day.c_str());
    LONGS_EQUAL(1, rows[2].successes);
    LONGS_EQUAL(0, rows[2].failures);

    config::Config cfg;
    PageContext ctx{&cfg, nullptr, "", "admin", kNowS};
    std::string page = page_tls_reports(ctx, rows);
    CHECK_TEXT(page.find("<td>partner.example</td><td>no-policy-found, sts</td><td>3</td><td class=\"bad\">3</td>"
                         "<td>certificate-expired (2), certificate-host-mismatch (1)</td>") != std::string::npos,
               page.c_str());
    CHECK(page.find("old.example") == std::string::npos);
  }
  std::string cmd = "rm -rf '" + dir + "'";
  CHECK(system(cmd.c_str()) == 0);
}
