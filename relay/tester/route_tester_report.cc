// route_tester_report.cc - text and JSON output of the route tester (see
// route_tester_report.h). Only formatting: every judgement is made in
// route_tester.cc.
#include "relay/tester/route_tester_report.h"

#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

#include "relay/core/json_text.h"
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

void print_host(size_t n, const HostTrace& t, const HostVerdict& v, const Paint& p, std::ostream& out) {
  out << "\n"
      << p.bold("host " + std::to_string(n) + ": " + t.host + "[" + t.address + "]:" + std::to_string(t.port)) << " (preference "
      << t.preference << (t.plaintext_retry ? ", plaintext retry" : "") << ")\n";
  char ms[32];
  snprintf(ms, sizeof ms, "%.2f ms", t.connect_ms);
  line(out, "connect", t.connected ? p.good("ok") + " in " + ms : p.bad("failed") + ": " + wrap(t.error, kLabel + 8, kLabel));
  if (!t.connected) {
    line(out, "verdict", p.bad(v.summary));
    return;
  }
  line(out, "banner", t.banner.empty() ? "(none)" : t.banner);
  line(out, "ehlo", t.ehlo.empty() ? "(no extensions, or HELO)" : wrap(join(t.ehlo, ", "), kLabel, kLabel));
  line(out, "starttls", t.starttls_offered ? "offered" : p.warn("not offered"));
  print_tls(t, v, p, out);
  if (!t.error.empty() && t.error != t.handshake_error) line(out, "error", wrap(t.error, kLabel, kLabel));
  if (!v.would_deliver && !t.advice.empty()) line(out, "advice", wrap(t.advice, kLabel, kLabel));
  line(out, "verdict", v.would_deliver ? p.good(v.summary) : p.bad(wrap(v.summary, kLabel, kLabel)));
}

void print_list(const char* title, const std::vector<std::string>& items, std::ostream& out) {
  if (items.empty()) return;
  out << title << "\n";
  for (const auto& s : items) out << "  - " << wrap(s, 4, 4) << "\n";
}

// ---- JSON -----------------------------------------------------------------

// A tiny value tree, printed with two-space indentation.
struct JVal {
  enum Kind { Raw, Obj, Arr } kind = Raw;
  std::string raw;
  std::vector<std::pair<std::string, JVal>> fields;
  std::vector<JVal> items;

  JVal& add(const std::string& k, JVal v) {
    fields.emplace_back(k, std::move(v));
    return *this;
  }
};

JVal raw(std::string s) {
  JVal v;
  v.raw = std::move(s);
  return v;
}
JVal str(const std::string& s) { return raw(json_quote(s)); }
JVal str_or_null(const std::string& s) { return s.empty() ? raw("null") : str(s); }
JVal boolean(bool b) { return raw(b ? "true" : "false"); }
JVal num(long long n) { return raw(std::to_string(n)); }
JVal obj() {
  JVal v;
  v.kind = JVal::Obj;
  return v;
}
JVal arr() {
  JVal v;
  v.kind = JVal::Arr;
  return v;
}
JVal strings(const std::vector<std::string>& list) {
  JVal a = arr();
  for (const auto& s : list) a.items.push_back(str(s));
  return a;
}

void render(const JVal& v, size_t indent, std::ostream& out) {
  const std::string pad(indent + 2, ' ');
  switch (v.kind) {
    case JVal::Raw:
      out << v.raw;
      return;
    case JVal::Arr: {
      bool flat = true;
      for (const auto& i : v.items) flat = flat && i.kind == JVal::Raw;
      out << "[";
      for (size_t i = 0; i < v.items.size(); ++i) {
        out << (i ? "," : "") << (flat ? (i ? " " : "") : "\n" + pad);
        render(v.items[i], indent + 2, out);
      }
      out << (flat || v.items.empty() ? "]" : "\n" + std::string(indent, ' ') + "]");
      return;
    }
    case JVal::Obj:
      out << "{";
      for (size_t i = 0; i < v.fields.size(); ++i) {
        out << (i ? ",\n" : "\n") << pad << json_quote(v.fields[i].first) << ": ";
        render(v.fields[i].second, indent + 2, out);
      }
      out << (v.fields.empty() ? "}" : "\n" + std::string(indent, ' ') + "}");
      return;
  }
}

JVal policy_json(const config::Route& r) {
  JVal p = obj();
  p.add("tls", str(config::tls_mode_name(r.tls)));
  p.add("verify_ca", boolean(r.verify_ca)).add("verify_hostname", boolean(r.verify_hostname));
  p.add("min_tls_version", str(r.has_min_tls_version ? config::tls_version_name(r.min_tls_version) : "1.1"));
  p.add("ciphers", strings(r.ciphers.empty() ? config::default_outbound_ciphers() : r.ciphers));
  p.add("client_cert", boolean(r.client_cert));
  return p;
}

JVal lookup_json(const router::Candidates& c) {
  JVal l = obj();
  l.add("status", str(router::candidate_status_name(c.status)));
  l.add("name", str(c.lookup_name)).add("mx_lookup", boolean(c.mx_lookup)).add("implicit_mx", boolean(c.implicit_mx));
  l.add("reason", str(c.reason));
  JVal hosts = arr();
  for (const auto& h : c.hosts) {
    JVal o = obj();
    o.add("host", str(h.name)).add("preference", num(h.preference)).add("port", num(h.port));
    o.add("addresses", strings(h.addresses)).add("notes", strings(h.notes));
    hosts.items.push_back(std::move(o));
  }
  l.add("candidates", std::move(hosts)).add("notes", strings(c.notes));
  return l;
}

JVal check_json(const Check& c) {
  JVal o = obj();
  o.add("result", str(check_result_name(c.result))).add("enforced", boolean(c.enforced)).add("detail", str(c.detail));
  return o;
}

JVal tls_json(const HostTrace& t) {
  if (!t.handshake_ok) return raw("null");
  const auto& f = t.facts;
  JVal o = obj();
  o.add("version", str(f.version)).add("cipher", str(f.cipher)).add("bits", num(f.bits));
  o.add("verdict", str(certs::verdict_name(f.verdict))).add("has_certificate", boolean(f.has_certificate));
  o.add("ca_ok", boolean(f.ca_ok)).add("ca_error", str(f.ca_error)).add("peer_name", str(f.peer_name));
  o.add("hostname_checked", boolean(f.hostname_checked)).add("hostname_ok", boolean(f.hostname_ok));
  o.add("spki_sha256", str(f.spki_sha256));
  JVal chain = arr();
  for (const auto& c : f.chain) {
    JVal x = obj();
    x.add("subject", str(c.subject)).add("issuer", str(c.issuer)).add("san", strings(c.san));
    x.add("not_before", str(c.not_before)).add("not_after", str(c.not_after));
    chain.items.push_back(std::move(x));
  }
  o.add("chain", std::move(chain));
  return o;
}

JVal host_json(const HostTrace& t, const HostVerdict& v) {
  JVal o = obj();
  o.add("host", str(t.host)).add("address", str(t.address)).add("port", num(t.port)).add("preference", num(t.preference));
  o.add("plaintext_retry", boolean(t.plaintext_retry)).add("connected", boolean(t.connected));
  char ms[32];
  snprintf(ms, sizeof ms, "%.2f", t.connect_ms);
  o.add("connect_ms", raw(ms)).add("banner", str(t.banner)).add("ehlo", strings(t.ehlo));
  o.add("starttls_offered", boolean(t.starttls_offered)).add("tls_attempted", boolean(t.tls_attempted));
  o.add("handshake_ok", boolean(t.handshake_ok)).add("handshake_error", str(t.handshake_error));
  o.add("tls", tls_json(t));
  JVal checks = obj();
  checks.add("ca", check_json(v.ca)).add("hostname", check_json(v.hostname));
  checks.add("min_version", check_json(v.min_version)).add("cipher", check_json(v.cipher));
  o.add("checks", std::move(checks));
  o.add("policy_ok", boolean(t.policy_ok)).add("policy_error", str(t.policy_error));
  o.add("would_deliver", boolean(v.would_deliver)).add("summary", str(v.summary));
  o.add("status", str(t.status)).add("error", str(t.error)).add("advice", str(t.advice));
  return o;
}

JVal mta_sts_json(const MtaStsVerdict& m) {
  JVal o = obj();
  o.add("checked", boolean(m.checked)).add("result", str(m.result)).add("reason", str(m.reason));
  return o;
}

JVal verdict_json(const RouteTestReport& rep) {
  JVal o = obj();
  o.add("result", str(route_outcome_name(rep.outcome))).add("would_deliver", boolean(rep.outcome == RouteOutcome::Deliver));
  o.add("status", str(rep.status)).add("reason", str(rep.reason));
  o.add("host", str_or_null(rep.via)).add("tls_version", str_or_null(rep.tls_version));
  o.add("text", str(rep.verdict_line)).add("remedies", strings(rep.remedies)).add("notes", strings(rep.notes));
  return o;
}

}  // namespace

void print_test_report(const RouteTestReport& rep, bool colour, std::ostream& out) {
  Paint p{colour};
  router::print_route(rep.route, out);
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
  JVal doc = obj();
  doc.add("route", str(r.name)).add("kind", str(r.kind == config::RouteKind::Mx ? "mx" : "host"));
  doc.add("host", str_or_null(r.kind == config::RouteKind::Host ? r.host : ""));
  doc.add("port", num(r.port)).add("mx_lookup", boolean(r.mx_lookup)).add("domain", str_or_null(rep.domain));
  doc.add("policy", policy_json(r)).add("lookup", lookup_json(rep.candidates)).add("mta_sts", mta_sts_json(rep.mta_sts));
  JVal hosts = arr();
  for (size_t i = 0; i < rep.hosts.size(); ++i) hosts.items.push_back(host_json(rep.hosts[i], rep.verdicts[i]));
  doc.add("hosts", std::move(hosts)).add("verdict", verdict_json(rep)).add("exit_code", num(rep.exit_code()));
  render(doc, 0, out);
  out << "\n";
}

}  // namespace relay
