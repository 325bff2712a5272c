// dane_policy.h - what DANE (RFC 7672, SPEC R-DANE) means for one candidate host of a route with
// tls = "dane" or "dane-only": the TLSA state the planner found, and the TLS level it gives the
// host.
//
// The planner (destination_plan) looks TLSA up at _PORT._tcp.HOST only when the MX answer (for
// MX-based routes) and the host's address answers are DNSSEC-secure (RFC 7672 2.2), and stores
// the outcome in CandidateHost::dane. dane_host_level() then decides, per host:
//   usable secure TLSA      -> TLS mandatory, the certificate checked against the TLSA records
//                              only (no PKIX); failure: bounce for dane-only and dane with
//                              dane_fallback "required", defer for dane + "opportunistic"
//   secure TLSA, all unusable -> as if none, but TLS mandatory (RFC 7672 2.2): unauthenticated
//                              with fallback "opportunistic", the route's checks with "required";
//                              dane-only: a TLS failure at once ("dane-required")
//   no TLSA / not secure    -> dane: the dane_fallback level (as tls = "opportunistic", or as
//                              tls = "required" with the route's verify_ca/verify_hostname);
//                              dane-only: a TLS failure ("dane-required")
//   bogus answer, TLSA lookup failure -> the host is not tried: defer, never plaintext
// The words in DaneResult are the ones the delivery log (dane=) and test-route print.
//
// How it fails: pure functions over values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "certs/dane_match.h"
#include "certs/tls_summary.h"
#include "config/config.h"
#include "router/dns/dns_resolver.h"

namespace router {

// The TLSA side of a host as the planner found it.
enum class DaneState {
  NotApplied,  // the route does not use DANE
  Insecure,    // MX or address answers not DNSSEC-secure: no TLSA lookup (RFC 7672 2.2)
  NoTlsa,      // secure denial: no TLSA records
  Usable,      // secure TLSA records, at least one usable
  Unusable,    // secure TLSA records, none usable
  Bogus,       // an answer failed DNSSEC validation
  LookupFailed,  // the TLSA lookup failed (SERVFAIL, timeout): nothing is known
};

// The verdict words (SPEC R-DANE): "verified", "failed", "no-tlsa", "insecure", "unusable",
// "bogus"; "" for NotApplied.
enum class DaneResult { None, Verified, Failed, NoTlsa, Insecure, Unusable, Bogus };
const char* dane_result_name(DaneResult r);
// The result a host has before any session: Usable -> None (the session decides), LookupFailed
// -> Bogus (no TLSA answer that DNSSEC can vouch for).
DaneResult dane_result_of(DaneState s);

struct DaneHost {
  DaneState state = DaneState::NotApplied;
  std::string tlsa_name;                   // "_25._tcp.mx.example"; empty: not looked up
  std::string base_domain;                 // the TLSA base domain: the host name or its secure
                                           // CNAME expansion (RFC 7672 2.2.2); SNI with DANE
  DnsSecurity mx_security = DnsSecurity::Insecure;       // kind mx / mx_lookup only
  DnsSecurity address_security = DnsSecurity::Insecure;
  DnsSecurity tlsa_security = DnsSecurity::Insecure;
  bool mx_looked_up = false;
  std::vector<certs::DaneRecord> records;  // as published, unusable ones included
  std::string reason;                      // why the state is what it is, in words
};

// The state for a host given the answers (used by the planner, and by tests).
DaneHost dane_state_from(const DaneHost& security, const DnsAnswer& tlsa);

// How a session treats one host.
struct HostTlsLevel {
  config::TlsMode tls = config::TlsMode::Opportunistic;  // None, Opportunistic or Required only
  bool verify_ca = false;
  bool verify_hostname = false;
  bool dane_verify = false;    // check the certificate against the TLSA records, nothing else
  // Set: do not connect; the host fails at once with this problem (Defer when temporary).
  std::optional<certs::TlsProblem> refuse;
  bool refuse_temporary = false;
  std::string refuse_reason;
};

// Whether a DANE route's TLS failures bounce at once (single attempt): dane-only, and dane with
// dane_fallback "required"; dane + "opportunistic" defers. The route's level decides for all its
// hosts (SPEC R-DANE), except that a host skipped for a bogus/failed DNS answer makes it a deferral.
bool dane_single_attempt(const config::Route& route);
HostTlsLevel dane_host_level(const config::Route& route, const DaneHost& host);

// The records in the form certs::dane_match takes.
std::vector<certs::DaneRecord> dane_records(const std::vector<TlsaRecord>& tlsa);

}  // namespace router
