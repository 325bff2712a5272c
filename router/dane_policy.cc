// dane_policy.cc - TLSA state and the TLS level it gives a host (see the header).
#include "router/dane_policy.h"

namespace router {

const char* dane_result_name(DaneResult r) {
  switch (r) {
    case DaneResult::None: return "";
    case DaneResult::Verified: return "verified";
    case DaneResult::Failed: return "failed";
    case DaneResult::NoTlsa: return "no-tlsa";
    case DaneResult::Insecure: return "insecure";
    case DaneResult::Unusable: return "unusable";
    case DaneResult::Bogus: return "bogus";
  }
  return "";
}

DaneResult dane_result_of(DaneState s) {
  switch (s) {
    case DaneState::NotApplied:
    case DaneState::Usable: return DaneResult::None;
    case DaneState::Insecure: return DaneResult::Insecure;
    case DaneState::NoTlsa: return DaneResult::NoTlsa;
    case DaneState::Unusable: return DaneResult::Unusable;
    case DaneState::Bogus:
    case DaneState::LookupFailed: return DaneResult::Bogus;
  }
  return DaneResult::None;
}

std::vector<certs::DaneRecord> dane_records(const std::vector<TlsaRecord>& tlsa) {
  std::vector<certs::DaneRecord> out;
  for (const auto& t : tlsa) out.push_back({t.usage, t.selector, t.matching_type, t.data});
  return out;
}

DaneHost dane_state_from(const DaneHost& security, const DnsAnswer& tlsa) {
  DaneHost h = security;
  h.tlsa_security = tlsa.security;
  if (tlsa.security == DnsSecurity::Bogus) {
    h.state = DaneState::Bogus;
    h.reason = "TLSA answer for " + h.tlsa_name + " is bogus: " + tlsa.reason;
    return h;
  }
  switch (tlsa.status) {
    case DnsStatus::TempFail:
      h.state = DaneState::LookupFailed;
      h.reason = "TLSA lookup for " + h.tlsa_name + " failed: " + tlsa.reason;
      return h;
    case DnsStatus::NxDomain:
    case DnsStatus::NoData:
      // An insecure denial (a zone cut to an unsigned zone below) is no proof either way.
      h.state = tlsa.security == DnsSecurity::Secure ? DaneState::NoTlsa : DaneState::Insecure;
      h.reason = tlsa.security == DnsSecurity::Secure ? "no TLSA records at " + h.tlsa_name + " (secure denial)"
                                                     : "no TLSA records at " + h.tlsa_name + " (insecure answer)";
      return h;
    case DnsStatus::Ok:
      break;
  }
  h.records = dane_records(tlsa.tlsa);
  if (tlsa.security != DnsSecurity::Secure) {
    h.state = DaneState::Insecure;
    h.reason = "TLSA records at " + h.tlsa_name + " are not DNSSEC-signed: ignored";
    return h;
  }
  bool usable = false;
  for (const auto& r : h.records) usable = usable || certs::dane_usable(r);
  h.state = usable ? DaneState::Usable : DaneState::Unusable;
  h.reason = usable ? "secure TLSA records at " + h.tlsa_name
                    : "secure TLSA records at " + h.tlsa_name +
                          ", none usable for SMTP (only DANE-TA(2)/DANE-EE(3) count): TLS without authentication";
  return h;
}

bool dane_single_attempt(const config::Route& route) {
  return route.tls == config::TlsMode::DaneOnly ||
         (route.tls == config::TlsMode::Dane && route.dane_fallback == config::DaneFallback::Required);
}

HostTlsLevel dane_host_level(const config::Route& route, const DaneHost& host) {
  HostTlsLevel l;
  l.tls = route.tls;
  l.verify_ca = route.verify_ca;
  l.verify_hostname = route.verify_hostname;
  if (!config::is_dane(route.tls)) return l;
  const bool only = route.tls == config::TlsMode::DaneOnly;
  switch (host.state) {
    case DaneState::Usable:
      l.tls = config::TlsMode::Required;
      l.verify_ca = l.verify_hostname = false;  // the TLSA records decide, not the CA store
      l.dane_verify = true;
      return l;
    case DaneState::Unusable:
      // RFC 7672 2.2: as if there were no TLSA records, but TLS is mandatory: the fallback's
      // checks (none for "opportunistic": encrypted, not authenticated).
      if (only) break;
      l.tls = config::TlsMode::Required;
      if (route.dane_fallback == config::DaneFallback::Opportunistic) l.verify_ca = l.verify_hostname = false;
      return l;
    case DaneState::Bogus:
    case DaneState::LookupFailed:
      l.refuse = host.state == DaneState::Bogus ? certs::TlsProblem::DnssecBogus
                                                : certs::TlsProblem::TlsaLookupFailed;
      l.refuse_temporary = true;
      l.refuse_reason = host.reason;
      return l;
    case DaneState::NotApplied:
    case DaneState::Insecure:
    case DaneState::NoTlsa:
      if (only) break;
      if (route.dane_fallback == config::DaneFallback::Required) {
        l.tls = config::TlsMode::Required;
      } else {
        l.tls = config::TlsMode::Opportunistic;
      }
      return l;
  }
  l.refuse = certs::TlsProblem::DaneRequired;
  l.refuse_reason = host.reason.empty() ? "no secure usable TLSA records" : host.reason;
  return l;
}

}  // namespace router
