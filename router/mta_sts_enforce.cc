// mta_sts_enforce.cc - policy + route -> hosts and TLS options (see the header).
#include "router/mta_sts_enforce.h"

#include "router/address_match.h"

namespace router {

std::string sts_policy_domain(const config::Route& route, const std::string& recipient_domain) {
  if (route.kind == config::RouteKind::Mx) return normalise_domain(recipient_domain);
  if (!ip_literal(route.host).empty()) return "";
  return normalise_domain(dns_name(route.host));
}

StsEnforcement apply_sts_policy(const config::Route& route, const Candidates& candidates,
                                const PolicyResult& policy) {
  StsEnforcement e;
  e.candidates = candidates;
  e.route = route;
  e.policy_domain = policy.domain;
  e.bounce_on_tls_failure = route.tls == config::TlsMode::Required || dane_single_attempt(route);
  if (!policy.policy || policy.mode() == StsMode::None) {
    e.summary = policy.policy ? "MTA-STS policy of " + policy.domain + " is mode none"
                              : "no MTA-STS policy for " + policy.domain;
    if (!policy.error.empty()) e.summary += " (" + policy.error + ")";
    return e;
  }
  const StsPolicy& p = *policy.policy;
  e.enforce = p.mode == StsMode::Enforce;
  e.testing = p.mode == StsMode::Testing;
  e.summary = std::string("MTA-STS ") + sts_mode_name(p.mode) + " (" + policy_source_name(policy.source) +
              ", id " + policy.id + ", mx";
  for (const auto& m : p.mx) e.summary += " " + m;
  e.summary += ")";
  std::vector<CandidateHost> kept;
  for (const auto& h : candidates.hosts) {
    if (mx_matches_policy(h.name, p)) {
      kept.push_back(h);
    } else if (h.dane.state == DaneState::Usable) {
      // RFC 8461 2: a host with secure usable TLSA records is delivered to by DANE, whatever the
      // policy's mx patterns say (DANE is checked in the session; MTA-STS never overrides it).
      kept.push_back(h);
      e.dane_kept.push_back(h.name);
    } else {
      e.excluded.push_back(h.name);
    }
  }
  if (!e.enforce) return e;
  // Enforce: the stricter of route and policy, option by option. A DANE route keeps DANE for
  // hosts with secure TLSA records (RFC 8461 2: DANE wins); the policy raises its fallback.
  if (config::is_dane(route.tls)) {
    e.route.dane_fallback = config::DaneFallback::Required;
  } else {
    e.route.tls = config::TlsMode::Required;
  }
  e.route.verify_ca = true;
  e.route.verify_hostname = true;
  if (!e.route.has_min_tls_version || e.route.min_tls_version < config::TlsVersion::V1_2) {
    e.route.has_min_tls_version = true;
    e.route.min_tls_version = config::TlsVersion::V1_2;
  }
  if (candidates.status != CandidateStatus::Ok) return e;
  e.candidates.hosts = std::move(kept);
  for (const auto& x : e.excluded) {
    e.candidates.notes.push_back(x + " skipped: not named by the MTA-STS policy of " + policy.domain);
  }
  for (const auto& x : e.dane_kept) {
    e.candidates.notes.push_back(x + " kept although not named by the MTA-STS policy of " + policy.domain +
                                 ": it has secure usable TLSA records, and DANE takes precedence (RFC 8461 2)");
  }
  if (e.candidates.hosts.empty()) {
    e.candidates.status = CandidateStatus::TempFail;
    std::string names;
    for (const auto& x : e.excluded) names += (names.empty() ? "" : ", ") + x;
    e.candidates.reason = "MTA-STS policy of " + policy.domain + " (enforce) names none of the MX hosts (" +
                          names + ")";
  }
  return e;
}

std::optional<certs::TlsFailure> check_sts_session(const certs::TlsFacts& facts) {
  if (!facts.established) return certs::tls_failure(certs::TlsProblem::HandshakeFailed, "no TLS session");
  if (facts.version != "TLS1_2" && facts.version != "TLS1_3") {
    return certs::tls_failure(certs::TlsProblem::VersionTooOld,
                              "MTA-STS needs TLS 1.2 or higher; the session is " + facts.version);
  }
  return certs::check_peer(facts, true, true);
}

const char* tlsrpt_result_type(certs::TlsProblem p) {
  switch (p) {
    case certs::TlsProblem::NotOffered: return "starttls-not-supported";
    case certs::TlsProblem::HostnameMismatch:
    case certs::TlsProblem::HostnameOnlyInCn: return "certificate-host-mismatch";
    case certs::TlsProblem::Expired: return "certificate-expired";
    case certs::TlsProblem::UnknownCa:
    case certs::TlsProblem::NoCertificate:
      return "certificate-not-trusted";
    case certs::TlsProblem::NotYetValid:
    case certs::TlsProblem::BadCertificate:
    case certs::TlsProblem::VersionTooOld:
    case certs::TlsProblem::NoSharedCipher:
    case certs::TlsProblem::PeerRejectedUs:
    case certs::TlsProblem::ConnectionLost:
    case certs::TlsProblem::HandshakeFailed:
    case certs::TlsProblem::NoTls13Suite:
      return "validation-failure";
    case certs::TlsProblem::DaneMismatch: return "tlsa-invalid";
    case certs::TlsProblem::DaneRequired: return "dane-required";
    // RFC 8460 4.3.2.1: "dnssec-invalid: This indicates that no valid records were returned from
    // the recursive resolver." Both cases are that: a bogus answer (validation failed) and a TLSA
    // lookup that ended in SERVFAIL or a timeout (a validating resolver answers SERVFAIL when
    // validation fails; either way no record it could vouch for came back). "tlsa-invalid" is for
    // records that were returned and are unusable or do not match; "dane-required" for a host that
    // has no DNSSEC-validated TLSA records at all while the route requires DANE.
    case certs::TlsProblem::DnssecBogus:
    case certs::TlsProblem::TlsaLookupFailed: return "dnssec-invalid";
  }
  return "validation-failure";
}

}  // namespace router
