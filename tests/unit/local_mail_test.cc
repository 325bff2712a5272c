// local_mail_test.cc - the one injector for mail the relay writes itself: the envelope it
// builds, routes per recipient, refusal of a route-less recipient, sync and async writes.
#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include <string>

#include "relay/queue/local_mail.h"
#include "router/route_table.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;

namespace {

config::Config routed_config() {
  config::Config c;
  c.address_lists = {{"senders", {"sender.example"}, 1}};
  config::Route r;
  r.name = "bounces";
  r.match = {"senders"};
  r.kind = config::RouteKind::Host;
  r.host = "127.0.0.1";
  c.routes = {r};
  return c;
}

const char kText[] = "Subject: x\r\n\r\nhello\r\n";

}  // namespace

TEST_GROUP(LocalMail) {
  std::string dir;
  std::unique_ptr<QueueStore> q;
  config::Config cfg = routed_config();
  void setup() override {
    char tmpl[] = "/tmp/smarthost-lm-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string err;
    q = QueueStore::open(dir + "/q", 16, &err);
    CHECK_TEXT(q != nullptr, err.c_str());
  }
  void teardown() override {
    q.reset();
    std::string cmd = "rm -rf '" + dir + "'";
    CHECK(system(cmd.c_str()) == 0);
  }
};

TEST(LocalMail, SyncBuildsOneEnvelopeWithRoutesAndOrigin) {
  router::RouteTable routes(cfg);
  int64_t before = time(nullptr);
  Injected in = inject_local_mail(*q, routes, LocalMail{Origin::Dsn, "", {"alice@sender.example"}, kText});
  CHECK(in.ok());
  CHECK_EQUAL(16u, in.id.size());
  Envelope e;
  CHECK(q->get_envelope(in.id, &e) == StoreStatus::Ok);
  CHECK(e.origin == Origin::Dsn);
  STRCMP_EQUAL("", e.sender.c_str());
  CHECK_EQUAL(sizeof kText - 1, e.size);
  STRCMP_EQUAL("127.0.0.1", e.client_ip.c_str());
  STRCMP_EQUAL("localhost", e.helo.c_str());
  CHECK(e.arrival_us / 1000000 >= before);
  CHECK_EQUAL(1u, e.recipients.size());
  STRCMP_EQUAL("alice@sender.example", e.recipients[0].address.c_str());
  STRCMP_EQUAL("bounces", e.recipients[0].route.c_str());
  CHECK(e.recipients[0].state == RcptState::Pending);
  CHECK(e.recipients[0].next_attempt >= before && e.recipients[0].next_attempt <= time(nullptr));
  std::string body;
  CHECK(q->get_body(in.id, &body) == StoreStatus::Ok);
  STRCMP_EQUAL(kText, body.c_str());
}

TEST(LocalMail, ARecipientWithoutARouteRefusesTheWholeMessage) {
  router::RouteTable routes(cfg);
  LocalMail mail{Origin::TlsReport, "tlsrpt@relay.example", {"a@sender.example", "b@elsewhere.example"}, kText};
  Injected in = inject_local_mail(*q, routes, mail);
  CHECK(!in.ok());
  STRCMP_EQUAL("b@elsewhere.example", in.no_route.c_str());
  STRCMP_EQUAL("", in.id.c_str());
  CHECK_EQUAL(0u, q->list().size());
}

TEST(LocalMail, AsyncGivesTheIdAtOnceAndTheAnswerOnTheLoop) {
  router::RouteTable routes(cfg);
  event_base* base = event_base_new();
  std::string err;
  CHECK(q->attach(base, &err));
  Injected answer;
  bool called = false;
  Injected in = inject_local_mail_async(*q, routes, LocalMail{Origin::TlsReport, "r@x", {"a@sender.example"}, kText},
                                        [&](const Injected& a) {
                                          answer = a;
                                          called = true;
                                          event_base_loopbreak(base);
                                        });
  CHECK(!called);  // never from inside the call
  CHECK_EQUAL(16u, in.id.size());
  timeval limit{10, 0};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
  CHECK(called && answer.ok());
  STRCMP_EQUAL(in.id.c_str(), answer.id.c_str());
  Envelope e;
  CHECK(q->get_envelope(in.id, &e) == StoreStatus::Ok);
  CHECK(e.origin == Origin::TlsReport);
  STRCMP_EQUAL("r@x", e.sender.c_str());

  bool refused_called = false;
  Injected refused = inject_local_mail_async(*q, routes, LocalMail{Origin::Dsn, "", {"nobody@nowhere.example"}, kText},
                                             [&](const Injected&) { refused_called = true; });
  STRCMP_EQUAL("nobody@nowhere.example", refused.no_route.c_str());
  for (int i = 0; i < 3; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
  CHECK(!refused_called);
  CHECK_EQUAL(1u, q->list().size());
  q.reset();
  event_base_free(base);
}
