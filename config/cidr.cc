// cidr.cc - parsing and matching of IP address ranges (see cidr.h).
#include "config/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace config {

namespace {
constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

bool IpAddr::is_v4() const { return std::memcmp(bytes.data(), kMappedPrefix, 12) == 0; }

bool IpAddr::is_loopback() const {
  if (is_v4()) return bytes[12] == 127;
  static const uint8_t kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(bytes.data(), kOne, 16) == 0;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

std::optional<IpAddr> parse_ip(const std::string& text) {
  IpAddr ip;
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    std::memcpy(ip.bytes.data(), kMappedPrefix, 12);
    std::memcpy(ip.bytes.data() + 12, &v4, 4);
    return ip;
  }
  if (inet_pton(AF_INET6, text.c_str(), ip.bytes.data()) == 1) return ip;
  return std::nullopt;
}

std::optional<IpAddr> ip_from_sockaddr(const sockaddr* sa) {
  IpAddr ip;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(ip.bytes.data(), kMappedPrefix, 12);
    std::memcpy(ip.bytes.data() + 12, &in->sin_addr, 4);
    return ip;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(ip.bytes.data(), &in6->sin6_addr, 16);
    return ip;
  }
  return std::nullopt;
}

bool Cidr::contains(const IpAddr& ip) const {
  int full = prefix / 8;
  if (std::memcmp(net.bytes.data(), ip.bytes.data(), full) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (net.bytes[full] & mask) == (ip.bytes[full] & mask);
}

std::optional<Cidr> parse_cidr(const std::string& text, std::string* error) {
  std::string addr = text;
  std::string len;
  auto slash = text.find('/');
  if (slash != std::string::npos) {
    addr = text.substr(0, slash);
    len = text.substr(slash + 1);
  }
  auto ip = parse_ip(addr);
  if (!ip) {
    *error = "'" + text + "' is not an IPv4 or IPv6 address or CIDR range";
    return std::nullopt;
  }
  // An IPv4 range written as IPv4 counts its prefix in IPv4 bits.
  bool v4_text = addr.find(':') == std::string::npos;
  int max = v4_text ? 32 : 128;
  int prefix = max;
  if (slash != std::string::npos) {
    if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(len) > max) {
      *error = "'" + text + "' has a bad prefix length (0.." + std::to_string(max) + " allowed)";
      return std::nullopt;
    }
    prefix = std::stoi(len);
  }
  Cidr c;
  c.net = *ip;
  c.prefix = v4_text ? prefix + 96 : prefix;
  c.text = text;
  // Host bits set below the prefix are almost always a typo for another range.
  for (int bit = c.prefix; bit < 128; ++bit) {
    if (c.net.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      *error = "'" + text + "' has host bits set beyond /" + std::to_string(prefix);
      return std::nullopt;
    }
  }
  return c;
}

bool any_contains(const std::vector<Cidr>& ranges, const IpAddr& ip) {
  for (const auto& r : ranges) {
    if (r.contains(ip)) return true;
  }
  return false;
}

}  // namespace config
