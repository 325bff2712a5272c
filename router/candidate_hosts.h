// candidate_hosts.h - the ordered hosts, with addresses, that a delivery on a route must try.
//
// kind "mx":   the recipient domain's MX hosts by preference, random order among equal
//              preferences (RFC 5321 section 5.1); no MX but the name exists -> implicit MX to
//              the domain itself, preference 0; a lone "MX 0 ." (RFC 7505 null MX) -> permanent
//              failure "null MX: domain accepts no mail" with null_mx set; NXDOMAIN -> permanent failure.
// kind "host": the route's host (name, IP literal, or "[IP]"), or with mx_lookup = true the MX
//              hosts of that name, exactly as kind "mx" would treat them.
// Every host name is resolved to AAAA and A (both families kept, IPv6 first). A host that does not
// resolve is skipped and described in its notes; when no host resolves the result is TempFail.
// Every host gets the route's port.
//
// How it fails: all outcomes are a Candidates value. Problems with a `host` route's own host name
// (NXDOMAIN, null MX, no address) are TempFail, not PermFail: the recipient's address is fine, the
// route or its DNS is broken, and deferring gives the admin time to fix it instead of bouncing
// every message. DNS timeouts and SERVFAIL are always TempFail.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "config/config.h"
#include "router/dane_policy.h"
#include "router/dns/dns_resolver.h"

struct event;
struct event_base;

namespace router {

enum class CandidateStatus { Ok, TempFail, PermFail };
const char* candidate_status_name(CandidateStatus s);  // "ok", "temporary failure", "permanent failure"

struct CandidateHost {
  std::string name;         // host name, or the IP literal itself
  std::string expanded_name;  // the address answers' owner after CNAMEs, when not `name` (DANE's
                              // TLSA base domain when the chain is secure: dane_lookup.h)
  int preference = 0;       // MX preference; 0 for implicit MX and fixed hosts
  int port = 25;
  std::vector<std::string> addresses;  // IPv6 first, then IPv4
  std::vector<std::string> notes;      // e.g. "A lookup failed: timed out after 10s"
  DnsSecurity address_security = DnsSecurity::Insecure;  // weakest of the answered lookups
                                                         // (a bogus failed one included)
  DaneHost dane;  // DANE routes: the TLSA state the planner found (destination_plan.h)
};

struct Candidates {
  CandidateStatus status = CandidateStatus::TempFail;
  std::string reason;                  // not Ok: one line for logs, DSNs and route-for
  std::string lookup_name;             // the domain or host name whose MX/addresses were looked up
  bool mx_lookup = false;              // MX records were asked for
  bool implicit_mx = false;            // no MX: the domain itself stands in (RFC 5321 5.1)
  bool null_mx = false;                // RFC 7505 null MX found: the name accepts no mail (for a
                                       // route host the status is still TempFail, see above)
  DnsSecurity mx_security = DnsSecurity::Insecure;
  std::vector<CandidateHost> hosts;    // in the order a delivery tries them; only resolved hosts
  std::vector<std::string> notes;      // skipped MX targets and other remarks, in words
};

// Sorts by preference; records of equal preference end up in random order.
void order_mx(std::vector<MxRecord>* records, std::mt19937& rng);

// An IP literal ("192.0.2.1", "2001:db8::1", "[192.0.2.1]", "[IPv6:2001:db8::1]") in numeric
// form, or "" when `host` is a name.
std::string ip_literal(const std::string& host);

// One asynchronous candidate-host lookup. `done` runs once, from the event loop, never inside
// start(); destroying the object first cancels everything and `done` never runs. `done` may
// destroy the object. `dns` and `base` must outlive it.
class CandidateLookup {
 public:
  using Done = std::function<void(Candidates)>;
  // `domain` is the recipient domain in normalised (A-label) form; unused for kind "host".
  static std::unique_ptr<CandidateLookup> start(DnsService& dns, event_base* base,
                                                const config::Route& route,
                                                const std::string& domain, Done done,
                                                std::mt19937* rng = nullptr);
  ~CandidateLookup();
  CandidateLookup(const CandidateLookup&) = delete;
  CandidateLookup& operator=(const CandidateLookup&) = delete;

  class Impl;
  struct Key {  // only start() can make one
   private:
    friend class CandidateLookup;
    Key() = default;
  };
  CandidateLookup(Key, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace router
