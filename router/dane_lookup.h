// dane_lookup.h - the TLSA lookups of a DANE route's candidate hosts (RFC 7672 2.2, SPEC R-DANE).
//
// For each host: an IP literal or a host whose MX answer (kind mx, or mx_lookup) or address
// answers are not DNSSEC-secure gets DaneState::Insecure (a bogus one: Bogus) without a lookup;
// the others get TLSA at _PORT._tcp.HOST, PORT being the port the relay connects to, and the
// state dane_state_from() gives. The lookups run side by side.
//
// CNAMEs (RFC 7672 2.2.2, RFC 7671 7): when the host's address answers came through a CNAME
// chain and are secure (libunbound calls an answer secure only when every record of the chain
// validated), the TLSA base domain is first the expanded name, then, when that has no secure
// TLSA records (secure denial, or an insecure answer), the host name itself. The first secure
// TLSA RRset decides; a bogus or failed lookup at the expanded name decides too (no fallback
// around a DNS problem). An insecure chain makes the address answers insecure: no TLSA lookup
// at all (RFC 7672 2.2), so an expanded name of an insecure chain is never a base domain.
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
