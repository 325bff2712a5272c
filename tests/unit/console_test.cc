// console_test.cc - the console's pure parts: the failed-login limit and sessions, password
// hashes, metric text, and the policy impact preview over a history.
#include <CppUTest/TestHarness.h>

#include <stdlib.h>

#include <string>

#include "relay/console/console_api.h"
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
