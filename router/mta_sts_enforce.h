// mta_sts_enforce.h - what an MTA-STS policy changes for one delivery (RFC 8461 sections 4 and 5).
//
// apply_sts_policy() takes a route, its candidate hosts and the PolicyResult of the policy domain
// and returns the hosts a delivery may use plus the effective TLS options:
//   enforce: only hosts whose name matches a policy mx pattern stay, and (DANE routes) hosts with
//            secure usable TLSA records, which DANE serves instead (RFC 8461 2); the route becomes at least
//            tls = required, verify_ca, verify_hostname, min_tls_version 1.2 (the stricter of the
//            route and the policy wins, option by option). Failures must DEFER (4.7.x), not
//            bounce, unless the route itself says tls = "required" (RFC 8461 5.1: the policy is
//            looked up again - a new TXT id means a new fetch - before the next attempt).
//            No host left: the candidates become TempFail with the reason in words.
//   testing: nothing is filtered or enforced; the session checks the same things, reports the
//            failures to TLS-RPT (testing_failures) and delivers anyway.
//   none / no policy: the route as it is.
// check_sts_session() is the policy's check of an established session; tlsrpt_result_type() maps
// a TLS failure to its RFC 8460 result-type.
//
// How it fails: pure functions over values; they cannot fail.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "config/config.h"
#include "router/candidate_hosts.h"
#include "router/mta_sts/mta_sts_lookup.h"

namespace router {

// The policy domain of a delivery: the recipient domain for kind "mx"; the smart host's own name
// for kind "host" (RFC 8461 3.4: a configured smart host's domain is the policy domain; with
// mx_lookup its MX hosts are matched against the policy, else the host itself); "" for a host
// given as an IP literal (no MTA-STS).
std::string sts_policy_domain(const config::Route& route, const std::string& recipient_domain);

struct StsEnforcement {
  Candidates candidates;           // enforce: filtered; else unchanged
  config::Route route;             // effective options (a copy; name unchanged)
  bool enforce = false;            // policy in mode enforce is applied
  bool testing = false;            // policy in mode testing: check and report only
  bool bounce_on_tls_failure = false;  // only when the route itself has tls = "required"
  std::string policy_domain;
  std::vector<std::string> excluded;  // hosts not named by the policy (removed under enforce)
  std::vector<std::string> dane_kept;  // not named, but kept: secure usable TLSA (RFC 8461 2)
  std::string summary;             // one line for logs / route-for: "MTA-STS enforce (fetched, id X): ..."
};

StsEnforcement apply_sts_policy(const config::Route& route, const Candidates& candidates,
                                const PolicyResult& policy);

// The policy's requirements on an established session (section 4.2): TLS 1.2 or higher and a
// certificate that is CA-verified and names the MX host. nullopt when they are met.
std::optional<certs::TlsFailure> check_sts_session(const certs::TlsFacts& facts);

// RFC 8460 4.3 result-type for a TLS failure: "starttls-not-supported", "certificate-host-mismatch",
// "certificate-expired", "certificate-not-trusted" or "validation-failure"; for DANE (4.3.2)
// "tlsa-invalid", "dnssec-invalid" or "dane-required".
const char* tlsrpt_result_type(certs::TlsProblem p);

// Result-type for an MX host excluded by an enforce policy (no dedicated type in RFC 8460):
// "validation-failure", with the host as receiving-mx-hostname.
constexpr const char* kTlsrptMxMismatch = "validation-failure";

}  // namespace router
