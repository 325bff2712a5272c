// route_tester_report.cc - text and JSON output of the route tester (see
// route_tester_report.h). Only formatting: every judgement is made in
// route_tester.cc.
#include "relay/tester/route_tester_report.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "relay/core/json_dump.h"
#include "router/address_match.h"
#include "router/base/utf8_text.h"
#include "router/route_text.h"

namespace relay {

namespace {

// ---- text -----------------------------------------------------------------

constexpr size_t kLabel = 16;  // "  cipher check  " and the indent under it
constexpr size_t kWidth = 100;

struct Paint {
  bool on;
  std::string operator()(const char* code, const std::string& s) const {
    return on ? std::string("\x1b[") + code + "m" + s + "\x1b[0m" : s;
  }
  std::string bold(const std::string& s) const { return (*this)("1", s); }
  std::string good(const std::string& s) const { return (*this)("32", s); }
  std::string bad(const std::string& s) const { return (*this)("31", s); }
  std::string warn(const std::string& s) const { return (*this)("33", s); }
};

// Words re-flowed to `width`, continuation lines indented by `indent` spaces.
std::string wrap(const std::string& text, size_t first_col, size_t indent) {
  std::istringstream in(text);
  std::string word, out;
  size_t col = first_col;
  bool first = true;
  while (in >> word) {
    if (!first && col + 1 + word.size() > kWidth) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (!first) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    first = false;
  }
  return out;
}

void line(std::ostream& out, const std::string& label, const std::string& value) {
  std::string head = "  " + label;
  if (head.size() < kLabel) head.resize(kLabel, ' ');
  else head += ' ';
  out << head << value << "\n";
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string check_text(const Check& c, const Paint& p) {
  std::string mark = c.result == CheckResult::Pass   ? p.good("pass")
                     : c.result == CheckResult::Fail ? (c.enforced ? p.bad("FAIL") : p.warn("fail"))
                                                     : p.warn("n/a ");
  std::string tail = c.result == CheckResult::NotChecked ? "" : c.enforced ? " (enforced)" : " (not enforced on this route)";
  return mark + "  " + wrap(c.detail + tail, kLabel + 6, kLabel + 6);
}

void print_chain(const certs::TlsFacts& f, std::ostream& out) {
  for (size_t i = 0; i < f.chain.size(); ++i) {
    const auto& c = f.chain[i];
    std::string n = "[" + std::to_string(i + 1) + "] ";
    std::string pad(n.size(), ' ');
    line(out, i == 0 ? "certificate" : "", n + "subject  " + c.subject);
    if (!c.san.empty()) line(out, "", pad + "san      " + wrap(join(c.san, ", "), kLabel + pad.size() + 9, kLabel + pad.size() + 9));
    line(out, "", pad + "issuer   " + c.issuer);
    line(out, "", pad + "valid    " + c.not_before + " to " + c.not_after);
  }
  if (f.chain.empty()) line(out, "certificate", f.has_certificate ? "(not readable)" : "none presented");
}

void print_tls(const HostTrace& t, const HostVerdict& v, const Paint& p, std::ostream& out) {
  if (!t.tls_attempted) {
    line(out, "handshake", "not attempted");
  } else if (!t.handshake_ok) {
    line(out, "handshake", p.bad("failed") + ": " + wrap(t.handshake_error, kLabel + 8, kLabel));
  } else {
    const auto& f = t.facts;
    line(out, "handshake", p.good("ok") + " (" + certs::verdict_name(f.verdict) + ")");
    line(out, "tls version", f.version);
    line(out, "cipher", f.cipher + " (" + std::to_string(f.bits) + " bits)");
    print_chain(f, out);
  }
  line(out, "ca", check_text(v.ca, p));
  line(out, "host name", check_text(v.hostname, p));
  line(out, "min version", check_text(v.min_version, p));
  line(out, "cipher check", check_text(v.cipher, p));
}

// DANE routes: the DNSSEC status of the answers, the TLSA records, which matched and why the
// others did not, and the verdict word a delivery logs as dane=.
void print_dane(const HostTrace& t, const Paint& p, std::ostream& out) {
  if (t.dane_result.empty()) return;
  line(out, "dnssec", t.dane_dns);
  if (!t.dane_state.empty()) line(out, "dane", wrap(t.dane_state, kLabel, kLabel));
  for (size_t i = 0; i < t.dane_records.size(); ++i) {
    const bool hit = t.dane_records[i] == t.dane_matched;
    line(out, i == 0 ? "tlsa" : "", wrap(t.dane_records[i] + (hit ? "  (matched)" : ""), kLabel, kLabel));
  }
  for (const auto& n : t.dane_notes) line(out, "", wrap(n, kLabel, kLabel));
  const bool good = t.dane_result == "verified";
  line(out, "dane result", good ? p.good(t.dane_result) : p.warn(t.dane_result));
}

void print_host(size_t n, const HostTrace& t, const HostVerdict& v, const Paint& p, std::ostream& out) {
  out << "\n"
      << p.bold("host " + std::to_string(n) + ": " + t.host + "[" + t.address + "]:" + std::to_string(t.port)) << " (preference "
      << t.preference << (t.plaintext_retry ? ", plaintext retry" : "") << ")\n";
  char ms[32];
  snprintf(ms, sizeof ms, "%.2f ms", t.connect_ms);
  print_dane(t, p, out);
  line(out, "connect", t.connected ? p.good("ok") + " in " + ms : p.bad("failed") + ": " + wrap(t.error, kLabel + 8, kLabel));
  if (!t.connected) {
    line(out, "verdict", p.bad(v.summary));
    return;
  }
  // The peer's own words: shown, never obeyed (no raw control characters to the terminal).
  line(out, "banner", t.banner.empty() ? "(none)" : base::printable_utf8(t.banner));
  line(out, "ehlo", t.ehlo.empty() ? "(no extensions, or HELO)"
                                   : wrap(base::printable_utf8(join(t.ehlo, ", ")), kLabel, kLabel));
  line(out, "starttls", t.starttls_offered ? "offered" : p.warn("not offered"));
  if (t.connected && !t.banner.empty()) {
    // What internationalised and 8-bit mail would meet here (SPEC R-INTL).
    line(out, "smtputf8", t.smtputf8_offered ? "offered" : p.warn("not offered: mail that needs it would bounce (5.6.7)"));
    line(out, "8bitmime", t.eightbitmime_offered ? "offered" : p.warn("not offered: 8-bit mail would bounce (5.6.3)"));
    // RFC 8689: few servers offer it yet, so its absence is information, not a warning.
    line(out, "requiretls", t.requiretls_offered ? "offered" : "not offered: mail sent with REQUIRETLS would bounce (5.7.30)");
  }
  print_tls(t, v, p, out);
  if (!t.error.empty() && t.error != t.handshake_error) line(out, "error", wrap(base::printable_utf8(t.error), kLabel, kLabel));
  if (!v.would_deliver && !t.advice.empty()) line(out, "advice", wrap(t.advice, kLabel, kLabel));
  line(out, "verdict", v.would_deliver ? p.good(v.summary) : p.bad(wrap(v.summary, kLabel, kLabel)));
}

void print_list(const char* title, const std::vector<std::string>& items, std::ostream& out) {
  if (items.empty()) return;
  out << title << "\n";
  for (const auto& s : items) out << "  - " << wrap(s, 4, 4) << "\n";
}

// ---- JSON -----------------------------------------------------------------

using Json = nlohmann::ordered_json;

Json str_or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

Json policy_json(const config::Route& r) {
  return {{"tls", config::tls_mode_name(r.tls)},
          {"verify_ca", r.verify_ca},
          {"verify_hostname", r.verify_hostname},
          {"min_tls_version", r.has_min_tls_version ? config::tls_version_name(r.min_tls_version) : "1.1"},
          {"ciphers", r.ciphers.empty() ? config::default_outbound_ciphers() : r.ciphers},
          {"client_cert", r.client_cert}};
}

Json lookup_json(const router::Candidates& c) {
  Json hosts = Json::array();
  for (const auto& h : c.hosts) {
    hosts.push_back({{"host", h.name}, {"preference", h.preference}, {"port", h.port},
                     {"addresses", h.addresses}, {"notes", h.notes}});
  }
  return {{"status", router::candidate_status_name(c.status)}, {"name", c.lookup_name},
          {"mx_lookup", c.mx_lookup}, {"implicit_mx", c.implicit_mx}, {"reason", c.reason},
          {"candidates", std::move(hosts)}, {"notes", c.notes}};
}

Json check_json(const Check& c) {
  return {{"result", check_result_name(c.result)}, {"enforced", c.enforced}, {"detail", c.detail}};
}

Json tls_json(const HostTrace& t) {
  if (!t.handshake_ok) return nullptr;
  const auto& f = t.facts;
  Json chain = Json::array();
  for (const auto& c : f.chain) {
    chain.push_back({{"subject", c.subject}, {"issuer", c.issuer}, {"san", c.san},
                     {"not_before", c.not_before}, {"not_after", c.not_after}});
  }
  return {{"version", f.version}, {"cipher", f.cipher}, {"bits", f.bits},
          {"verdict", certs::verdict_name(f.verdict)}, {"has_certificate", f.has_certificate},
          {"ca_ok", f.ca_ok}, {"ca_error", f.ca_error}, {"peer_name", f.peer_name},
          {"hostname_checked", f.hostname_checked}, {"hostname_ok", f.hostname_ok},
          {"spki_sha256", f.spki_sha256}, {"chain", std::move(chain)}};
}

// SPEC R-DANE: {secure, records, matched, result}; null when the route does not use DANE.
Json dane_json(const HostTrace& t) {
  if (t.dane_result.empty()) return nullptr;
  return {{"secure", t.dane_secure}, {"records", t.dane_records},
          {"matched", t.dane_matched.empty() ? Json(nullptr) : Json(t.dane_matched)},
          {"result", t.dane_result}, {"dns", t.dane_dns}, {"state", t.dane_state},
          {"notes", t.dane_notes}};
}

Json host_json(const HostTrace& t, const HostVerdict& v) {
  Json checks = {{"ca", check_json(v.ca)}, {"hostname", check_json(v.hostname)},
                 {"min_version", check_json(v.min_version)}, {"cipher", check_json(v.cipher)}};
  return {{"host", t.host}, {"address", t.address}, {"port", t.port}, {"preference", t.preference},
          {"plaintext_retry", t.plaintext_retry}, {"connected", t.connected},
          {"connect_ms", std::round(t.connect_ms * 100) / 100},  // two decimals, as the text output
          {"banner", t.banner}, {"ehlo", t.ehlo},
          {"starttls_offered", t.starttls_offered}, {"tls_attempted", t.tls_attempted},
          {"smtputf8_offered", t.smtputf8_offered}, {"eightbitmime_offered", t.eightbitmime_offered},
          {"requiretls_offered", t.requiretls_offered},
          {"handshake_ok", t.handshake_ok}, {"handshake_error", t.handshake_error},
          {"tls", tls_json(t)}, {"checks", std::move(checks)},
          {"policy_ok", t.policy_ok}, {"policy_error", t.policy_error},
          {"would_deliver", v.would_deliver}, {"summary", v.summary},
          {"status", t.status}, {"error", t.error}, {"advice", t.advice}, {"dane", dane_json(t)}};
}

Json mta_sts_json(const MtaStsVerdict& m) {
  return {{"checked", m.checked}, {"result", m.result}, {"reason", m.reason}};
}

Json verdict_json(const RouteTestReport& rep) {
  return {{"result", route_outcome_name(rep.outcome)}, {"would_deliver", rep.outcome == RouteOutcome::Deliver},
          {"status", rep.status}, {"reason", rep.reason},
          {"host", str_or_null(rep.via)}, {"tls_version", str_or_null(rep.tls_version)},
          {"text", rep.verdict_line}, {"remedies", rep.remedies}, {"notes", rep.notes}};
}

}  // namespace

void print_test_report(const RouteTestReport& rep, bool colour, std::ostream& out) {
  Paint p{colour};
  router::print_route(rep.route, out);
  if (!rep.domain.empty()) out << "domain: " << router::domain_both_forms(rep.domain) << "\n";
  router::print_candidates(rep.candidates, out);
  out << "mta-sts: " << (rep.mta_sts.checked ? rep.mta_sts.result : "not checked") << " (" << rep.mta_sts.reason
      << ")\n";
  for (size_t i = 0; i < rep.hosts.size(); ++i) print_host(i + 1, rep.hosts[i], rep.verdicts[i], p, out);
  out << "\n";
  const std::string& text = rep.verdict_line;  // one line: scripts grep for it
  const std::string status = rep.outcome == RouteOutcome::Deliver ? "" : " [" + rep.status + "]";
  out << p.bold("verdict: ") << (rep.outcome == RouteOutcome::Deliver ? p.good(text) : p.bad(text)) << status << "\n";
  if (rep.outcome == RouteOutcome::Bounce && rep.status.compare(0, 4, "5.7.") == 0) {
    out << "  Every message on this route would be returned to its sender at once (tls = \"required\": one\n"
        << "  attempt, never retried), and nothing would be sent unencrypted.\n";
  }
  print_list("notes:", rep.notes, out);
  print_list("what you can do:", rep.remedies, out);
}

void print_test_report_json(const RouteTestReport& rep, std::ostream& out) {
  const auto& r = rep.route;
  Json hosts = Json::array();
  for (size_t i = 0; i < rep.hosts.size(); ++i) hosts.push_back(host_json(rep.hosts[i], rep.verdicts[i]));
  Json doc = {{"route", r.name},
              {"kind", r.kind == config::RouteKind::Mx ? "mx" : "host"},
              {"host", str_or_null(r.kind == config::RouteKind::Host ? r.host : "")},
              {"port", r.port},
              {"mx_lookup", r.mx_lookup},
              {"domain", str_or_null(rep.domain)},
              {"domain_unicode", str_or_null(rep.domain.empty() ? "" : router::domain_unicode(rep.domain))},
              {"policy", policy_json(r)},
              {"lookup", lookup_json(rep.candidates)},
              {"mta_sts", mta_sts_json(rep.mta_sts)},
              {"hosts", std::move(hosts)},
              {"verdict", verdict_json(rep)},
              {"exit_code", rep.exit_code()}};
  out << json_dump(doc, 2) << "\n";
}

}  // namespace relay
