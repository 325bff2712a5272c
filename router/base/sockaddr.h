// sockaddr.h - socket addresses from the numeric IP text that DNS answers, the config and
// the candidate hosts carry ("192.0.2.1", "2001:db8::1").
//
// How it fails: to_sockaddr() returns false for text that is not a numeric IPv4 or IPv6
// address (a host name, "[IP]" brackets, garbage); nothing else can fail.
#pragma once

#include <sys/socket.h>

#include <string>

namespace base {

struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
  int family() const { return ss.ss_family; }
};

// Numeric `ip` and `port` into *out.
bool to_sockaddr(const std::string& ip, int port, SockAddr* out);

}  // namespace base
