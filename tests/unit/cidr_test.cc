// cidr_test.cc - allowlist ranges: IPv4, IPv6 and IPv4-mapped IPv6.
#include <CppUTest/TestHarness.h>

#include "config/cidr.h"

using config::parse_cidr;
using config::parse_ip;

TEST_GROUP(Cidr){};

TEST(Cidr, MatchTable) {
  struct Case {
    const char* range;
    const char* ip;
    bool want;
  } cases[] = {
      {"127.0.0.0/8", "127.0.0.1", true},
      {"127.0.0.0/8", "127.255.255.254", true},
      {"127.0.0.0/8", "128.0.0.1", false},
      {"127.0.0.1/32", "127.0.0.2", false},
      {"127.0.0.1", "127.0.0.1", true},
      {"209.85.128.0/17", "209.85.200.1", true},
      {"209.85.128.0/17", "209.85.127.255", false},
      {"127.0.0.0/8", "::ffff:127.0.0.9", true},  // v4-mapped client on a v6 socket
      {"::ffff:10.0.0.0/104", "10.1.2.3", true},  // v4-mapped range, v4 client
      {"2001:4860:4000::/36", "2001:4860:4fff::1", true},
      {"2001:4860:4000::/36", "2001:4860:5000::1", false},
      {"::1/128", "::1", true},
      {"::1/128", "127.0.0.1", false},
      {"0.0.0.0/0", "8.8.8.8", true},
      {"0.0.0.0/0", "2001:db8::1", false},
      {"::/0", "2001:db8::1", true},
  };
  for (const auto& c : cases) {
    std::string err;
    auto r = parse_cidr(c.range, &err);
    CHECK_TEXT(r.has_value(), err.c_str());
    auto ip = parse_ip(c.ip);
    CHECK_TEXT(ip.has_value(), c.ip);
    std::string msg = std::string(c.range) + " contains " + c.ip + ": got " +
                      (r->contains(*ip) ? "true" : "false");
    CHECK_TEXT(r->contains(*ip) == c.want, msg.c_str());
  }
}

TEST(Cidr, RejectsBadRanges) {
  const char* bad[] = {"", "1.2.3", "1.2.3.4/33", "::1/129", "1.2.3.4/", "1.2.3.4/x",
                       "10.0.0.1/8", "example.com", "1.2.3.4/-1"};
  for (const char* b : bad) {
    std::string err;
    auto r = parse_cidr(b, &err);
    CHECK_TEXT(!r.has_value(), b);
    CHECK_TEXT(!err.empty(), b);
  }
}

TEST(Cidr, PrintsAddresses) {
  STRCMP_EQUAL("192.0.2.1", parse_ip("192.0.2.1")->str().c_str());
  STRCMP_EQUAL("2001:db8::1", parse_ip("2001:db8::1")->str().c_str());
}
