// route_text.cc - route and candidate-host blocks in words (see route_text.h).
#include "router/route_text.h"

#include "router/address_match.h"
#include "router/base/utf8_text.h"

namespace router {
namespace {

const char* yes_no(bool b) { return b ? "yes" : "no"; }

void print_ciphers(const config::Route& route, std::ostream& out) {
  // The loader may fill in the default list or leave it empty; both mean the default.
  if (route.ciphers.empty() || route.ciphers == config::default_outbound_ciphers()) {
    out << "ciphers: default outbound list (" << config::default_outbound_ciphers().size()
        << " suites)\n";
    return;
  }
  out << "ciphers (" << route.ciphers.size() << "):";
  for (size_t i = 0; i < route.ciphers.size(); ++i) out << (i ? ", " : " ") << route.ciphers[i];
  out << "\n";
}

// A DANE route's host: the planner's TLSA state in test-route's words, and the records.
void print_dane(const DaneHost& d, std::ostream& out) {
  if (d.state == DaneState::NotApplied) return;
  const char* word = d.state == DaneState::Usable ? "usable" : dane_result_name(dane_result_of(d.state));
  out << "     dane: " << word << ": " << d.reason << "\n";
  for (const auto& r : d.records) out << "     tlsa: " << certs::dane_record_text(r) << "\n";
}

void print_host(size_t n, const CandidateHost& h, std::ostream& out) {
  out << "  " << n << ". " << h.name << " (pref " << h.preference << ") port " << h.port << ":";
  for (size_t i = 0; i < h.addresses.size(); ++i) out << (i ? ", " : " ") << h.addresses[i];
  out << "\n";
  for (const auto& note : h.notes) out << "     note: " << note << "\n";
  print_dane(h.dane, out);
}

}  // namespace

void print_route(const config::Route& route, std::ostream& out) {
  out << "route: " << route.name << " (kind ";
  if (route.kind == config::RouteKind::Mx)
    out << "mx)\n";
  else
    out << "host, host " << route.host << ", port " << route.port << ", mx_lookup "
        << yes_no(route.mx_lookup) << ")\n";
  out << "tls: " << config::tls_mode_name(route.tls);
  // The DANE level (SPEC R-DANE): what a host without secure usable TLSA records gets.
  if (route.tls == config::TlsMode::Dane)
    out << " (hosts without secure usable TLSA records: dane_fallback "
        << (route.dane_fallback == config::DaneFallback::Required ? "required" : "opportunistic") << ")";
  if (route.tls == config::TlsMode::DaneOnly) out << " (hosts without secure usable TLSA records: not tried)";
  out << ", verify_ca " << yes_no(route.verify_ca)
      << ", verify_hostname " << yes_no(route.verify_hostname) << ", min_tls_version "
      << (route.has_min_tls_version ? config::tls_version_name(route.min_tls_version) : "not set")
      << ", client_cert " << yes_no(route.client_cert) << "\n";
  print_ciphers(route, out);
}

std::string domain_both_forms(const std::string& domain) {
  std::string u = domain_unicode(domain);
  return u == domain ? domain : domain + " (U-label " + base::printable_utf8(u) + ")";
}

void print_candidates(const Candidates& c, std::ostream& out) {
  out << "lookup: " << (c.mx_lookup ? "MX " : "AAAA/A ") << c.lookup_name;
  if (c.mx_lookup) out << " (MX answer " << dns_security_name(c.mx_security) << ")";
  out << "\n";
  if (c.status == CandidateStatus::Ok) {
    out << "candidate hosts:\n";
    for (size_t i = 0; i < c.hosts.size(); ++i) print_host(i + 1, c.hosts[i], out);
  } else {
    out << "result: " << candidate_status_name(c.status) << ": " << c.reason << "\n";
  }
  if (c.notes.empty()) return;
  out << "notes:\n";
  for (const auto& note : c.notes) out << "  - " << note << "\n";
}

}  // namespace router
