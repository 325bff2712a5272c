// router_match_test.cc - address lists, ordered routes, "*", no route, IDNA, grouping.

#include "router/address_match.h"
#include "router/route_table.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using router::AddressMatcher;
using router::normalize_domain;
using router::parse_recipient;
using router::RouteTable;

namespace {

config::Route route(const std::string& name, std::vector<std::string> match,
                    config::RouteKind kind = config::RouteKind::Mx, const std::string& host = "") {
  config::Route r;
  r.name = name;
  r.match = std::move(match);
  r.kind = kind;
  r.host = host;
  return r;
}

config::Config sample_config() {
  config::Config c;
  c.address_lists = {
      {"partners", {"partner.example", ".bank.example", "CEO@Supplier.Example"}, 1},
      {"idn", {"bücher.example", ".xn--mnchen-3ya.example"}, 2},
      {"gw", {"gw-only.example"}, 3},
  };
  c.routes = {route("partners", {"partners"}), route("idn", {"idn"}),
              route("gateway", {"gw"}, config::RouteKind::Host, "gw.example.net"),
              route("default", {"*"})};
  return c;
}

std::string route_name(const RouteTable& t, const std::string& addr) {
  const config::Route* r = t.route_for(addr);
  return r ? r->name : "(none)";
}

}  // namespace

TEST_GROUP(RouterMatch){};

TEST(RouterMatch, NormalizeDomain) {
  struct Case {
    const char* in;
    const char* want;  // nullptr: invalid
  } cases[] = {
      {"Example.COM", "example.com"},
      {"example.com.", "example.com"},
      {"bücher.example", "xn--bcher-kva.example"},
      {"BÜCHER.example", "xn--bcher-kva.example"},    // UTS #46 maps upper case
      {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},  // A-label input stays, lower-cased
      {"münchen.example", "xn--mnchen-3ya.example"},
      {"_dmarc.example", "_dmarc.example"},            // ASCII is never rejected
      {"", nullptr},
      {".", nullptr},
      {"a\xff.example", nullptr},                      // not UTF-8
  };
  for (const auto& c : cases) {
    std::string err;
    auto got = normalize_domain(c.in, &err);
    std::string msg = std::string("normalize_domain(") + c.in + "): got " +
                      (got ? *got : "invalid: " + err) + ", want " + (c.want ? c.want : "invalid");
    if (c.want) {
      CHECK_TEXT(got && *got == c.want, msg.c_str());
    } else {
      CHECK_TEXT(!got && !err.empty(), msg.c_str());
    }
  }
}

TEST(RouterMatch, ParseRecipient) {
  auto r = parse_recipient("\"a@b\"@Example.COM");
  CHECK(r.has_value());
  STRCMP_EQUAL("\"a@b\"", r->local.c_str());
  STRCMP_EQUAL("example.com", r->domain.c_str());
  r = parse_recipient("user@[IPv6:2001:DB8::1]");
  CHECK(r.has_value());
  STRCMP_EQUAL("[ipv6:2001:db8::1]", r->domain.c_str());
  CHECK_FALSE(parse_recipient("postmaster").has_value());
  CHECK_FALSE(parse_recipient("@example.com").has_value());
  CHECK_FALSE(parse_recipient("user@").has_value());
}

TEST(RouterMatch, ListEntries) {
  std::vector<std::string> bad;
  AddressMatcher m({"partner.example", ".bank.example", "CEO@Supplier.Example", "x@\xff",
                    "boss@Bücher.example", "BOSS@xn--mnchen-3ya.example"},
                   &bad);
  LONGS_EQUAL(1, bad.size());
  struct Case {
    const char* addr;
    bool want;
  } cases[] = {
      {"a@partner.example", true},
      {"a@PARTNER.Example", true},           // domains compare case-insensitively
      {"a@sub.partner.example", false},      // a plain domain entry does not cover subdomains
      {"a@bank.example", false},             // ".bank.example" covers only its subdomains
      {"a@branch.bank.example", true},
      {"a@x.y.bank.example", true},
      {"a@notbank.example", false},          // suffix match is by label, not by string
      {"CEO@supplier.example", true},        // address: domain case-insensitive
      {"ceo@supplier.example", true},        // and the local part too (SPEC R-ROUTE)
      {"cEo@SUPPLIER.EXAMPLE", true},
      {"other@supplier.example", false},
      {"ceo2@supplier.example", false},
      {"Boss@bücher.example", true},         // U-label entry, U-label recipient, other case
      {"BOSS@XN--BCHER-KVA.example", true},  // U-label entry, A-label recipient
      {"boss@xn--mnchen-3ya.example", true}, // A-label entry, A-label recipient
      {"Boss@MÜNCHEN.example", true},        // A-label entry, U-label recipient
      {"a@partner.example.", true},          // trailing dot
  };
  for (const auto& c : cases) {
    auto r = parse_recipient(c.addr);
    CHECK_TEXT(r.has_value(), c.addr);
    std::string msg = std::string(c.addr) + ": got " + (m.matches(*r) ? "match" : "no match");
    CHECK_TEXT(m.matches(*r) == c.want, msg.c_str());
  }
}

TEST(RouterMatch, RoutesInOrderWithStar) {
  config::Config cfg = sample_config();
  RouteTable t(cfg);
  struct Case {
    const char* addr;
    const char* want;
  } cases[] = {
      {"a@partner.example", "partners"},
      {"a@x.bank.example", "partners"},
      {"CEO@supplier.example", "partners"},
      {"ceo@supplier.example", "partners"},        // no bypass of the route by letter case
      {"Ceo@Supplier.Example", "partners"},
      {"ceo2@supplier.example", "default"},
      {"a@bücher.example", "idn"},                 // UTF-8 recipient, UTF-8 entry
      {"a@xn--bcher-kva.example", "idn"},          // A-label recipient, UTF-8 entry
      {"a@BÜCHER.EXAMPLE", "idn"},
      {"a@x.münchen.example", "idn"},               // UTF-8 recipient, A-label ".entry"
      {"a@münchen.example", "default"},
      {"a@gw-only.example", "gateway"},
      {"a@elsewhere.example", "default"},
  };
  for (const auto& c : cases) {
    std::string got = route_name(t, c.addr);
    std::string msg = std::string(c.addr) + ": got " + got + ", want " + c.want;
    CHECK_TEXT(got == c.want, msg.c_str());
  }
}

TEST(RouterMatch, FirstMatchWinsEvenIfLaterIsMoreSpecific) {
  config::Config cfg;
  cfg.address_lists = {{"wide", {".example"}, 1}, {"narrow", {"a.example"}, 2}};
  cfg.routes = {route("wide", {"wide"}), route("narrow", {"narrow"})};
  STRCMP_EQUAL("wide", route_name(RouteTable(cfg), "x@a.example").c_str());
}

TEST(RouterMatch, NoRouteWithoutStar) {
  config::Config cfg = sample_config();
  cfg.routes.pop_back();  // drop "*"
  RouteTable t(cfg);
  POINTERS_EQUAL(nullptr, t.route_for("a@elsewhere.example"));
  POINTERS_EQUAL(nullptr, router::route_for(cfg, "a@elsewhere.example"));
  STRCMP_EQUAL("partners", router::route_for(cfg, "a@partner.example")->name.c_str());
}

TEST(RouterMatch, UnroutableAddressesHaveNoRouteEvenWithStar) {
  config::Config cfg = sample_config();
  RouteTable t(cfg);
  for (const char* a : {"postmaster", "a@", "@example.com", "a@b\xff.example"}) {
    auto m = t.match(a);
    CHECK_TEXT(m.route == nullptr, a);
    CHECK_TEXT(!m.error.empty(), a);
  }
}

TEST(RouterMatch, RouteNamingSeveralListsAndStarInList) {
  config::Config cfg;
  cfg.address_lists = {{"l1", {"one.example"}, 1}, {"l2", {"two.example"}, 2}};
  cfg.routes = {route("both", {"l1", "l2"}), route("rest", {"l1", "*"})};
  RouteTable t(cfg);
  STRCMP_EQUAL("both", route_name(t, "a@two.example").c_str());
  STRCMP_EQUAL("rest", route_name(t, "a@three.example").c_str());
}

TEST(RouterMatch, GroupsRecipientsByRouteAndNextHop) {
  config::Config cfg = sample_config();
  cfg.routes.pop_back();
  RouteTable t(cfg);
  std::vector<std::string> rcpts = {"a@partner.example", "b@gw-only.example", "c@x.bank.example",
                                    "d@Partner.Example", "e@nowhere.example", "f@gw-only.example"};
  auto g = router::group_by_route(t, rcpts);
  LONGS_EQUAL(3, g.groups.size());
  STRCMP_EQUAL("partners", g.groups[0].route->name.c_str());
  STRCMP_EQUAL("partner.example", g.groups[0].next_hop.c_str());
  CHECK((g.groups[0].recipients == std::vector<size_t>{0, 3}));
  STRCMP_EQUAL("gateway", g.groups[1].route->name.c_str());
  STRCMP_EQUAL("gw.example.net", g.groups[1].next_hop.c_str());  // host routes group by host
  CHECK((g.groups[1].recipients == std::vector<size_t>{1, 5}));
  STRCMP_EQUAL("x.bank.example", g.groups[2].next_hop.c_str());  // mx routes group by domain
  CHECK((g.unrouted == std::vector<size_t>{4}));
}

// IDNA2008 with UTS #46 non-transitional processing (libidn2): the edge cases a policy list
// depends on. got/want per case; nullptr: the domain is refused.
TEST(RouterMatch, IdnaEdgeCases) {
  struct Case {
    const char* in;
    const char* want;
    const char* why;
  } cases[] = {
      {"stra\xc3\x9f" "e.example", "xn--strae-oqa.example", "sharp s kept (transitional would give strasse)"},
      {"xn--strae-oqa.example", "xn--strae-oqa.example", "the A-label of strasse with sharp s is valid"},
      {"\xcf\x83\xcf\x82.example", "xn--3xab.example", "final sigma kept (transitional would map it to sigma)"},
      {"\xce\xa3\xce\x91\xce\xa3.example", "xn--mxa9ab.example", "capital sigma maps to small sigma"},
      {"\xd1\x80\xd0\xb0ypal.example", "xn--ypal-43d9g.example", "mixed-script label: valid, but not paypal"},
      {"xn--zz.example", nullptr, "invalid Punycode"},
      {"xn--.example", nullptr, "empty Punycode"},
      {"xn--abc-.example", nullptr, "Punycode with nothing after the delimiter"},
      {"xn--a.example", nullptr, "Punycode of a code point IDNA2008 forbids"},
      {"xn--ls8h.example", nullptr, "an emoji A-label: disallowed in IDNA2008"},
      {"\xf0\x9f\x92\xa9.example", nullptr, "an emoji U-label: disallowed in IDNA2008"},
      {"XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example", "A-label in capitals"},
      {"b\xc3\xbc" "cher.xn--mnchen-3ya.example", "xn--bcher-kva.xn--mnchen-3ya.example", "U- and A-labels mixed"},
      {"bu\xcc\x88" "cher.example", "xn--bcher-kva.example", "NFD input normalised to NFC"},
  };
  for (const auto& c : cases) {
    std::string err;
    auto got = normalize_domain(c.in, &err);
    std::string msg = std::string(c.why) + ": got " + (got ? *got : "refused: " + err) + ", want " +
                      (c.want ? c.want : "refused");
    if (c.want) {
      CHECK_TEXT(got && *got == c.want, msg.c_str());
    } else {
      CHECK_TEXT(!got && !err.empty(), msg.c_str());
    }
  }
  // A homograph never matches the list entry it imitates; U- and A-label forms match each other.
  AddressMatcher m({"paypal.example", "stra\xc3\x9f" "e.example"});
  CHECK_FALSE(m.matches(*parse_recipient("a@\xd1\x80\xd0\xb0ypal.example")));
  CHECK(m.matches(*parse_recipient("a@xn--strae-oqa.example")));
  CHECK_FALSE(m.matches(*parse_recipient("a@strasse.example")));
  STRCMP_EQUAL("b\xc3\xbc" "cher.example", router::domain_unicode("xn--bcher-kva.example").c_str());
  STRCMP_EQUAL("\xcf\x83\xcf\x82.example", router::domain_unicode("xn--3xab.example").c_str());
  STRCMP_EQUAL("plain.example", router::domain_unicode("plain.example").c_str());
  STRCMP_EQUAL("xn--zz.example", router::domain_unicode("xn--zz.example").c_str());  // shown as it is
}
