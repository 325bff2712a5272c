// cidr.h - IPv4/IPv6 address ranges for the allowlist and inbound TLS rules.
//
// Addresses are kept as 16-byte IPv6; IPv4 is stored IPv4-mapped
// (::ffff:a.b.c.d), so a v4 range matches a client that arrives on a dual
// stack socket as ::ffff:a.b.c.d and the reverse.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct sockaddr;

namespace config {

struct IpAddr {
  std::array<uint8_t, 16> bytes{};
  bool is_v4() const;  // IPv4-mapped
  bool is_loopback() const;  // 127.0.0.0/8 or ::1
  std::string str() const;  // "1.2.3.4" or "2001:db8::1"
};

// Parses a numeric IPv4 or IPv6 address; nullopt when it is not one.
std::optional<IpAddr> parse_ip(const std::string& text);
// The peer address of an accepted socket; nullopt for non-IP families.
std::optional<IpAddr> ip_from_sockaddr(const sockaddr* sa);

struct Cidr {
  IpAddr net;
  int prefix = 128;  // in IPv6 terms (IPv4 /24 is stored as /120)
  std::string text;  // as written, for messages
  bool contains(const IpAddr& ip) const;
};

// Parses "a.b.c.d/n", "x::y/n" or a single address; on failure returns nullopt
// and sets *error to what is wrong.
std::optional<Cidr> parse_cidr(const std::string& text, std::string* error);

bool any_contains(const std::vector<Cidr>& ranges, const IpAddr& ip);

}  // namespace config
