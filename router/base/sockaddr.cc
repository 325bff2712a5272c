// sockaddr.cc - numeric IP text to socket addresses (see sockaddr.h).
#include "router/base/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

namespace base {

bool to_sockaddr(const std::string& ip, int port, SockAddr* out) {
  *out = SockAddr{};
  auto* s6 = reinterpret_cast<sockaddr_in6*>(&out->ss);
  auto* s4 = reinterpret_cast<sockaddr_in*>(&out->ss);
  if (inet_pton(AF_INET, ip.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(port));
    out->len = sizeof *s4;
    return true;
  }
  *out = SockAddr{};
  if (inet_pton(AF_INET6, ip.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    out->len = sizeof *s6;
    return true;
  }
  return false;
}

}  // namespace base
