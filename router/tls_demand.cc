// tls_demand.cc - a message's own TLS demand (see tls_demand.h).
#include "router/tls_demand.h"

#include <strings.h>

namespace router {

const char* tls_demand_name(TlsDemand d) {
  switch (d) {
    case TlsDemand::Route: return "route";
    case TlsDemand::RequireTls: return "requiretls";
    case TlsDemand::TlsOptional: return "tls-optional";
  }
  return "route";
}

TlsDemand tls_demand(bool require_tls, bool tls_required_no, config::TlsRequiredHeader policy) {
  // RFC 8689 4.1: with REQUIRETLS on MAIL, a TLS-Required header is ignored.
  if (require_tls) return TlsDemand::RequireTls;
  if (tls_required_no && policy == config::TlsRequiredHeader::Honour) return TlsDemand::TlsOptional;
  return TlsDemand::Route;
}

config::Route route_for_demand(const config::Route& route, TlsDemand demand) {
  config::Route r = route;
  switch (demand) {
    case TlsDemand::Route:
      break;
    case TlsDemand::RequireTls:
      // RFC 8689 4.2.1 step 3: the certificate is checked as RFC 6125 says, names included. A
      // DANE route keeps DANE for hosts with usable TLSA records (a DANE match is verified TLS,
      // SPEC R-REQUIRETLS); every other host needs PKIX with the name (dane_fallback required).
      // dane-only stays so: a host without usable TLSA records is the admin's TLS failure.
      if (config::is_dane(r.tls)) {
        r.dane_fallback = config::DaneFallback::Required;
      } else {
        r.tls = config::TlsMode::Required;
      }
      r.verify_ca = true;
      r.verify_hostname = true;
      break;
    case TlsDemand::TlsOptional:
      if (r.tls == config::TlsMode::Required || config::is_dane(r.tls)) r.tls = config::TlsMode::Opportunistic;
      break;
  }
  return r;
}

bool sts_as_testing(TlsDemand demand) { return demand == TlsDemand::TlsOptional; }

bool says_tls_required_no(const std::string& message) {
  static const char kName[] = "TLS-Required:";
  const size_t n = sizeof kName - 1;
  size_t at = 0;
  while (at < message.size()) {
    size_t eol = message.find("\r\n", at);
    if (eol == std::string::npos) eol = message.size();
    if (eol == at) return false;  // the empty line: end of the header section
    if (eol - at >= n && strncasecmp(message.data() + at, kName, n) == 0) {
      // The value, unfolded: continuation lines belong to it.
      std::string v = message.substr(at + n, eol - at - n);
      size_t next = eol + 2;
      while (next < message.size() && (message[next] == ' ' || message[next] == '\t')) {
        size_t e2 = message.find("\r\n", next);
        if (e2 == std::string::npos) e2 = message.size();
        v += message.substr(next, e2 - next);
        next = e2 + 2;
      }
      size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
      if (b != std::string::npos && strcasecmp(v.substr(b, e - b + 1).c_str(), "No") == 0) return true;
    }
    at = eol + 2;
  }
  return false;
}

}  // namespace router
