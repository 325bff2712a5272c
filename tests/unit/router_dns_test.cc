// router_dns_test.cc - RDATA parsers, and the resolver's own timer, cancellation and teardown.
//
// The resolver tests forward to a loopback UDP socket that is bound but never read: queries
// vanish, exactly like a dead forwarder, and our 1 s timer must end each lookup. Answers from a
// real server are covered by tests/integration/test_route_for.py.
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "router/dns/dns_resolver.h"
#include "router/base/event_handles.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace router;

namespace {

std::optional<MxRecord> mx(std::initializer_list<uint8_t> bytes) {
  std::vector<uint8_t> v(bytes);
  return parse_mx_rdata(v.data(), v.size());
}

// A UDP socket on 127.0.0.1 that never answers.
struct BlackHole {
  int fd = -1;
  int port = 0;
  BlackHole() {
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~BlackHole() { close(fd); }
  config::Dns dns() const {
    config::Dns d;
    d.servers = {"127.0.0.1@" + std::to_string(port)};
    d.timeout = 1;
    return d;
  }
};

void stop_after(event_base* base, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  event_base_loopexit(base, &tv);
}

}  // namespace

TEST_GROUP(RouterDnsParse){};

TEST(RouterDnsParse, Mx) {
  auto r = mx({0, 10, 3, 'M', 'x', '1', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0});
  CHECK(r.has_value());
  LONGS_EQUAL(10, r->preference);
  STRCMP_EQUAL("mx1.example", r->exchange.c_str());  // lower-cased
  r = mx({0, 0, 0});                              // RFC 7505 null MX: "MX 0 ."
  CHECK(r.has_value());
  STRCMP_EQUAL("", r->exchange.c_str());
  CHECK_FALSE(mx({0, 10}).has_value());                          // no name
  CHECK_FALSE(mx({0, 10, 3, 'a', 'b'}).has_value());             // label runs off the end
  CHECK_FALSE(mx({0, 10, 0xc0, 0x0c}).has_value());              // compression pointer
  CHECK_FALSE(mx({0, 10, 1, 'a', 0, 7}).has_value());            // trailing garbage
  r = mx({0, 5, 3, 'a', '.', 'b', 0});                           // a dot inside a label is escaped
  STRCMP_EQUAL("a\\046b", r->exchange.c_str());
}

TEST(RouterDnsParse, TxtTlsaAddresses) {
  std::vector<uint8_t> txt = {7, 'v', '=', 'S', 'T', 'S', 'v', '1', 5, ';', 'i', 'd', '=', '1'};
  STRCMP_EQUAL("v=STSv1;id=1", parse_txt_rdata(txt.data(), txt.size())->c_str());
  std::vector<uint8_t> bad_txt = {9, 'a'};
  CHECK_FALSE(parse_txt_rdata(bad_txt.data(), bad_txt.size()).has_value());

  std::vector<uint8_t> tlsa = {3, 1, 1, 0xab, 0xcd};
  auto t = parse_tlsa_rdata(tlsa.data(), tlsa.size());
  LONGS_EQUAL(3, t->usage);
  LONGS_EQUAL(1, t->selector);
  LONGS_EQUAL(1, t->matching_type);
  CHECK((t->data == std::vector<uint8_t>{0xab, 0xcd}));

  uint8_t v4[] = {192, 0, 2, 1};
  STRCMP_EQUAL("192.0.2.1", parse_address_rdata(v4, 4, DnsType::A)->c_str());
  uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  STRCMP_EQUAL("2001:db8::1", parse_address_rdata(v6, 16, DnsType::AAAA)->c_str());
  CHECK_FALSE(parse_address_rdata(v4, 4, DnsType::AAAA).has_value());
}

TEST_GROUP(RouterDnsResolver) {
  base::EventBasePtr base;
  void setup() override { base.reset(event_base_new()); }
  void teardown() override { base.reset(); }
};

TEST(RouterDnsResolver, RefusesABadForwarder) {
  config::Dns d;
  d.servers = {"not an address"};
  std::string err;
  CHECK(DnsResolver::create(base.get(), d, &err) == nullptr);
  CHECK_TEXT(err.find("dns.servers") != std::string::npos, err.c_str());
}

TEST(RouterDnsResolver, RefusesAMissingTrustAnchor) {
  config::Dns d;
  d.servers = {"127.0.0.1@53"};
  d.dnssec = true;
  d.trust_anchor = "/nonexistent/root.key";
  std::string err;
  CHECK(DnsResolver::create(base.get(), d, &err) == nullptr);
  CHECK_TEXT(err.find("dns.trust_anchor") != std::string::npos, err.c_str());
}

TEST(RouterDnsResolver, OwnTimerMakesADeadForwarderATempFail) {
  BlackHole hole;
  std::string err;
  auto dns = DnsResolver::create(base.get(), hole.dns(), &err);
  CHECK_TEXT(dns != nullptr, err.c_str());
  std::optional<DnsAnswer> got;
  auto lookup = dns->lookup("slow.example", DnsType::MX, [&](DnsAnswer a) {
    got = std::move(a);
    event_base_loopbreak(base.get());
  });
  CHECK_FALSE(got.has_value());  // never inside lookup()
  stop_after(base.get(), 5000);
  event_base_dispatch(base.get());
  CHECK(got.has_value());
  LONGS_EQUAL(static_cast<int>(DnsStatus::TempFail), static_cast<int>(got->status));
  STRCMP_EQUAL("timed out after 1s", got->reason.c_str());
  STRCMP_EQUAL("slow.example", got->name.c_str());
}

TEST(RouterDnsResolver, DestroyedHandleNeverCallsBack) {
  BlackHole hole;
  std::string err;
  auto dns = DnsResolver::create(base.get(), hole.dns(), &err);
  int cancelled_calls = 0, kept_calls = 0;
  {
    auto dropped = dns->lookup("a.example", DnsType::A, [&](DnsAnswer) { ++cancelled_calls; });
  }
  DnsLookup moved_from = dns->lookup("b.example", DnsType::A, [&](DnsAnswer) {
    ++kept_calls;
    event_base_loopbreak(base.get());
  });
  DnsLookup kept = std::move(moved_from);  // moving keeps the lookup alive
  auto cancelled = dns->lookup("c.example", DnsType::TXT, [&](DnsAnswer) { ++cancelled_calls; });
  cancelled.cancel();
  stop_after(base.get(), 5000);
  event_base_dispatch(base.get());
  LONGS_EQUAL(1, kept_calls);
  LONGS_EQUAL(0, cancelled_calls);
}

TEST(RouterDnsResolver, CallbackMayDestroyTheResolver) {
  BlackHole hole;
  std::string err;
  auto dns = DnsResolver::create(base.get(), hole.dns(), &err);
  int calls = 0;
  auto kill = [&](DnsAnswer) {
    ++calls;
    dns.reset();  // the other pending lookup must be cancelled, not called
    event_base_loopbreak(base.get());
  };
  auto one = dns->lookup("one.example", DnsType::AAAA, kill);
  auto two = dns->lookup("two.example", DnsType::AAAA, kill);
  stop_after(base.get(), 2500);
  event_base_dispatch(base.get());
  LONGS_EQUAL(1, calls);
  CHECK(dns == nullptr);
  // `one` and `two` outlive the resolver: destroying them now must be harmless.
}

TEST(RouterDnsResolver, DestroyWithQueriesInFlight) {
  BlackHole hole;
  std::string err;
  auto dns = DnsResolver::create(base.get(), hole.dns(), &err);
  int calls = 0;
  auto a = dns->lookup("x.example", DnsType::MX, [&](DnsAnswer) { ++calls; });
  auto b = dns->lookup("y.example", DnsType::TLSA, [&](DnsAnswer) { ++calls; });
  stop_after(base.get(), 100);  // let libunbound's thread send the queries
  event_base_dispatch(base.get());
  dns.reset();
  stop_after(base.get(), 1200);  // past the 1 s timers that no longer exist
  event_base_dispatch(base.get());
  LONGS_EQUAL(0, calls);
}

// Lookups of one name and type made while its query runs share it (issue 20: many destinations
// share MX hosts); each waiter gets the answer, a cancelled one never does, and another type or
// name is a query of its own.
TEST(RouterDnsResolver, ConcurrentLookupsOfOneNameShareOneQuery) {
  BlackHole hole;
  std::string err;
  auto dns = DnsResolver::create(base.get(), hole.dns(), &err);
  CHECK_TEXT(dns != nullptr, err.c_str());
  std::vector<std::string> got;
  int cancelled_calls = 0;
  auto take = [&](DnsAnswer a) {
    got.push_back(a.name + " " + a.reason);
    if (got.size() == 4) event_base_loopbreak(base.get());
  };
  auto l1 = dns->lookup("mx.shared.example", DnsType::A, take);
  auto l2 = dns->lookup("mx.shared.example", DnsType::A, take);
  auto l3 = dns->lookup("mx.shared.example", DnsType::A, [&](DnsAnswer) { ++cancelled_calls; });
  auto l4 = dns->lookup("mx.shared.example", DnsType::AAAA, take);
  auto l5 = dns->lookup("other.example", DnsType::A, take);
  l3.cancel();
  LONGS_EQUAL(3, dns->queries_started());
  stop_after(base.get(), 5000);
  event_base_dispatch(base.get());
  LONGS_EQUAL(4, got.size());
  LONGS_EQUAL(0, cancelled_calls);
  int shared = 0;
  for (const auto& g : got) shared += g == "mx.shared.example timed out after 1s";
  LONGS_EQUAL(3, shared);  // both A waiters and the AAAA one, each with its own name
}

// A waiter's callback that cancels a later waiter of the same query: that one is never called.
TEST(RouterDnsResolver, CallbackMayCancelAnotherWaiterOfItsQuery) {
  BlackHole hole;
  std::string err;
  auto dns = DnsResolver::create(base.get(), hole.dns(), &err);
  int first = 0, second = 0;
  DnsLookup l2;
  auto l1 = dns->lookup("mx.shared.example", DnsType::MX, [&](DnsAnswer) {
    ++first;
    l2.cancel();
    event_base_loopbreak(base.get());
  });
  l2 = dns->lookup("mx.shared.example", DnsType::MX, [&](DnsAnswer) { ++second; });
  LONGS_EQUAL(1, dns->queries_started());
  stop_after(base.get(), 5000);
  event_base_dispatch(base.get());
  LONGS_EQUAL(1, first);
  LONGS_EQUAL(0, second);
}
