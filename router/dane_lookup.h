// dane_lookup.h - the TLSA lookups of a DANE route's candidate hosts (RFC 7672 2.2, SPEC R-DANE).
//
// For each host: an IP literal or a host whose MX answer (kind mx, or mx_lookup) or address
// answers are not DNSSEC-secure gets DaneState::Insecure (a bogus one: Bogus) without a lookup;
// the others get TLSA at _PORT._tcp.HOST, PORT being the port the relay connects to, and the
// state dane_state_from() gives. The lookups run side by side.
//
// How it fails: never outright; a failed lookup is DaneState::LookupFailed on that host. `done`
// runs once, from the event loop (never inside start()); destroying the object cancels it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "router/candidate_hosts.h"

namespace router {

class DaneLookup {
 public:
  using Done = std::function<void(Candidates)>;
  // Nothing to look up (no host qualifies) still answers from the event loop.
  static std::unique_ptr<DaneLookup> start(DnsService& dns, event_base* base, Candidates c, Done done);
  ~DaneLookup();
  DaneLookup(const DaneLookup&) = delete;
  DaneLookup& operator=(const DaneLookup&) = delete;

  class Impl;
  explicit DaneLookup(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// The TLSA owner name for a host and port: "_25._tcp.mx.example".
std::string tlsa_name(const std::string& host, int port);

}  // namespace router
