// console_pages.cc - the console's HTML (see console_pages.h).
#include "relay/console/console_pages.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "certs/tls_context.h"
#include "relay/console/console_api.h"
#include "router/base/utc_time.h"

namespace relay {

namespace {

const char* kStyle = R"(
*{box-sizing:border-box}body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1d3557;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:.4em 1.2em;align-items:center}
header a{color:#fff;text-decoration:none}header a.on{text-decoration:underline}header b{margin-right:1em}
main{padding:1em;max-width:1200px;margin:auto}section{background:#fff;border:1px solid #dde;border-radius:6px;padding:1em;margin-bottom:1em;overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #eee;vertical-align:top}
.bad{color:#b00020}.good{color:#1a7f37}.warn{color:#9a6700}input,select,button{font:inherit;padding:.35em .6em}
pre{white-space:pre-wrap;word-break:break-word;background:#f3f3f3;padding:.6em}
form.inline{display:flex;flex-wrap:wrap;gap:.5em;align-items:center}
)";

std::string shell(const PageContext& c, const std::string& title, const std::string& active, const std::string& body) {
  std::string nav;
  for (auto [href, name] : std::initializer_list<std::pair<const char*, const char*>>{
           {"/", "Overview"}, {"/tracking", "Tracking"}, {"/routes", "Routes"}, {"/tls", "TLS reports"},
           {"/certificates", "Certificates"}}) {
    nav += std::string("<a href=\"") + href + "\"" + (active == href ? " class=\"on\"" : "") + ">" + name + "</a>";
  }
  std::string logout = c.csrf.empty() ? "" :
      "<form method=\"post\" action=\"/logout\" style=\"margin-left:auto\"><input type=\"hidden\" name=\"csrf\" value=\"" +
      html_escape(c.csrf) + "\"><button>Log out " + html_escape(c.user) + "</button></form>";
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<meta name=\"csrf-token\" content=\"" + html_escape(c.csrf) + "\">"
         "<title>" + html_escape(title) + " - smarthost</title><style>" + kStyle + "</style></head><body>"
         "<header><b>smarthost " + html_escape(c.cfg->hostname) + "</b>" + nav + logout + "</header><main><h1>" +
         html_escape(title) + "</h1>" + body + "</main></body></html>";
}

std::string when(int64_t us) { return base::utc_format(us / 1000000, "%Y-%m-%d %H:%M:%S UTC"); }

const char* status_class(const std::string& s) {
  if (s == "sent") return "good";
  if (s == "bounced") return "bad";
  if (s == "deferred") return "warn";
  return "";
}

// One horizontal bar per route, split by TLS version (sent) and failures: inline SVG.
std::string route_chart(const std::map<std::string, RouteDeliveries>& by_route) {
  if (by_route.empty()) return "<p>No deliveries in the last 24 hours.</p>";
  static const std::vector<std::pair<std::string, std::string>> parts = {
      {"TLS1_3", "#1a7f37"}, {"TLS1_2", "#4c9f70"}, {"TLS1_1", "#d4a72c"}, {"none", "#8c959f"}};
  uint64_t max = 1;
  for (const auto& [r, d] : by_route) {
    uint64_t total = 0;
    for (const auto& [s, n] : d.by_status) total += n;
    max = std::max(max, total);
  }
  const int row = 34, label = 160, width = 560;
  std::string svg = "<svg role=\"img\" aria-label=\"deliveries per route by TLS version\" viewBox=\"0 0 " +
                    std::to_string(label + width + 80) + " " + std::to_string(row * by_route.size() + 30) +
                    "\" style=\"max-width:100%;height:auto\" xmlns=\"http://www.w3.org/2000/svg\">";
  int y = 4;
  for (const auto& [r, d] : by_route) {
    svg += "<text x=\"0\" y=\"" + std::to_string(y + 18) + "\" font-size=\"14\">" + html_escape(r) + "</text>";
    double x = label;
    uint64_t total = 0;
    auto bar = [&](uint64_t n, const std::string& colour, const std::string& title) {
      if (!n) return;
      double w = static_cast<double>(n) * width / static_cast<double>(max);
      svg += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(y) + "\" width=\"" + std::to_string(w) +
             "\" height=\"24\" fill=\"" + colour + "\"><title>" + html_escape(title) + ": " + std::to_string(n) +
             "</title></rect>";
      x += w;
      total += n;
    };
    for (const auto& [v, colour] : parts) {
      auto it = d.by_tls.find(v);
      bar(it == d.by_tls.end() ? 0 : it->second, colour, "sent " + v);
    }
    auto st = [&](const char* s) { auto it = d.by_status.find(s); return it == d.by_status.end() ? 0 : it->second; };
    bar(st("deferred"), "#bf8700", "deferred");
    bar(st("bounced"), "#cf222e", "bounced");
    svg += "<text x=\"" + std::to_string(x + 6) + "\" y=\"" + std::to_string(y + 18) + "\" font-size=\"13\">" +
           std::to_string(total) + "</text>";
    y += row;
  }
  svg += "<g font-size=\"12\">";
  int lx = 0;
  for (const auto& [v, colour] : parts) {
    svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(y + 4) + "\" width=\"12\" height=\"12\" fill=\"" +
           colour + "\"/><text x=\"" + std::to_string(lx + 16) + "\" y=\"" + std::to_string(y + 15) + "\">" + v + "</text>";
    lx += 90;
  }
  svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(y + 4) +
         "\" width=\"12\" height=\"12\" fill=\"#bf8700\"/><text x=\"" + std::to_string(lx + 16) + "\" y=\"" +
         std::to_string(y + 15) + "\">deferred</text>";
  lx += 90;
  svg += "<rect x=\"" + std::to_string(lx) + "\" y=\"" + std::to_string(y + 4) +
         "\" width=\"12\" height=\"12\" fill=\"#cf222e\"/><text x=\"" + std::to_string(lx + 16) + "\" y=\"" +
         std::to_string(y + 15) + "\">bounced</text></g></svg>";
  return svg;
}

// "in 5 days", "today", "3 days ago": how far an expiry is from now.
std::string days_from(int64_t when, int64_t now) {
  int64_t d = (when - now) / 86400;
  if (when >= now) return d == 0 ? "within a day" : "in " + std::to_string(d) + (d == 1 ? " day" : " days");
  d = (now - when) / 86400;
  return d == 0 ? "less than a day ago" : std::to_string(d) + (d == 1 ? " day ago" : " days ago");
}

std::string day_text(int64_t unix_s) { return base::utc_format(unix_s, "%Y-%m-%d %H:%M UTC"); }

// Issue 17 item 4: what will turn into bounces on required routes, said before it happens.
std::string expiry_section(const std::vector<ExpiryWarning>& expiring, int64_t now) {
  std::string s = "<section id=\"expiry\"><h2>Remote certificate expiry</h2>";
  if (expiring.empty()) {
    return s + "<p class=\"good\">No remote certificate on a required route expires within 14 days.</p></section>";
  }
  for (const auto& w : expiring) {
    bool past = w.not_after <= now;
    s += "<p class=\"bad warning\">The certificate of " + html_escape(w.host) + " on required route " +
         html_escape(w.route) + " (" + html_escape(w.subject) + ") " + (past ? "expired on " : "expires on ") +
         day_text(w.not_after) + ", " + days_from(w.not_after, now) + ": " +
         (past ? "deliveries on this route fail until the partner renews it." :
                 "after that, deliveries on this route will bounce unless the partner renews it.") + "</p>";
  }
  return s + "</section>";
}

std::string route_policy(const config::Route& r) {
  std::string s = std::string("TLS ") + config::tls_mode_name(r.tls);
  if (r.verify_ca) s += ", verify CA";
  if (r.verify_hostname) s += ", verify host name";
  if (r.has_min_tls_version) s += std::string(", at least TLS ") + (r.min_tls_version == config::TlsVersion::V1_3 ? "1.3" : r.min_tls_version == config::TlsVersion::V1_2 ? "1.2" : "1.1");
  return s;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string page_login(const std::string& message) {
  return std::string("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<title>Log in - smarthost</title><style>") + kStyle + "</style></head><body><main>"
         "<section style=\"max-width:420px;margin:3em auto\"><h1>smarthost console</h1>" +
         (message.empty() ? "" : "<p class=\"bad\" id=\"message\">" + html_escape(message) + "</p>") +
         "<form method=\"post\" action=\"/login\"><p><label>User<br><input name=\"user\" id=\"user\" "
         "autocomplete=\"username\" required></label></p><p><label>Password<br><input type=\"password\" "
         "name=\"password\" id=\"password\" autocomplete=\"current-password\" required></label></p>"
         "<p><button id=\"login\">Log in</button></p></form></section></main></body></html>";
}

std::string page_overview(const PageContext& c, const Metrics::Gauges& g, const std::vector<ExpiryWarning>& expiring) {
  std::string body = expiry_section(expiring, c.now) + "<section><h2>Queue</h2><table><tr><th>State</th><th>Messages</th></tr>";
  for (const auto& [state, n] : g.queue_by_state) {
    body += "<tr><td>" + html_escape(state) + "</td><td>" + std::to_string(n) + "</td></tr>";
  }
  body += "</table><p>Connections: " + std::to_string(g.inbound) + " inbound, " + std::to_string(g.outbound) +
          " outbound.</p></section>";
  int64_t day_ago = (c.now - 86400) * 1000000;
  body += "<section><h2>Deliveries in the last 24 hours, per route</h2>" +
          route_chart(deliveries_by_route(*c.history, day_ago)) + "</section>";
  body += "<section><h2>Recent bounces</h2>";
  auto bounces = recent_bounces(*c.history, day_ago, 20);
  if (bounces.empty()) body += "<p>No bounces in the last 24 hours.</p>";
  for (const auto& b : bounces) {
    body += "<p><a href=\"/tracking?q=" + html_escape(b.id) + "\">" + html_escape(when(b.time_us)) + "</a>: mail to " +
            html_escape(b.rcpt) + " on route " + html_escape(b.route) + " bounced (" + html_escape(b.dsn) + "): " +
            html_escape(b.reason) + "</p>";
  }
  body += "</section>";
  return shell(c, "Overview", "/", body);
}

std::string page_tracking(const PageContext& c, const std::string& q) {
  std::string body = "<section><form class=\"inline\" method=\"get\" action=\"/tracking\"><label for=\"q\">Queue ID, "
                     "Message-ID, sender or recipient</label><input id=\"q\" name=\"q\" size=\"40\" value=\"" +
                     html_escape(q) + "\"><button id=\"search\">Search</button></form></section>";
  if (q.empty()) return shell(c, "Mail tracking", "/tracking", body);
  auto j = tracking_json(*c.history, q);
  if (j["messages"].empty()) body += "<section><p id=\"none\">No message matches.</p></section>";
  for (const auto& m : j["messages"]) {
    body += "<section class=\"message\"><h2>" + html_escape(m["id"].get<std::string>()) + "</h2><p>From " +
            html_escape(m["sender"].get<std::string>()) + ", Message-ID " + html_escape(m["message_id"].get<std::string>()) +
            ", received " + html_escape(m["arrival"].get<std::string>()) + " from " + html_escape(m["client"].get<std::string>()) +
            " over " + html_escape(m["tls"].get<std::string>()) + ", " + std::to_string(m["size"].get<uint64_t>()) +
            " octets.</p>";
    for (const auto& r : m["recipients"]) {
      std::string state = r["state"].get<std::string>();
      body += "<h3>" + html_escape(r["address"].get<std::string>()) + " <span class=\"" + status_class(state) + "\">" +
              html_escape(state) + "</span></h3><table class=\"timeline\"><tr><th>Time</th><th>Event</th><th>Status</th>"
              "<th>DSN</th><th>Relay</th><th>TLS</th><th>Cipher</th><th>Verify</th><th>Reason</th></tr>";
      for (const auto& e : r["events"]) {
        body += "<tr>";
        for (const char* k : {"time", "event", "status", "dsn", "relay", "tls_version", "cipher", "verify", "reason"}) {
          body += "<td>" + html_escape(e[k].get<std::string>()) + "</td>";
        }
        body += "</tr>";
      }
      body += "</table>";
    }
    body += "</section>";
  }
  return shell(c, "Mail tracking", "/tracking", body);
}

std::string page_routes(const PageContext& c) {
  std::string body;
  for (const auto& r : c.cfg->routes) {
    std::string id = html_escape(r.name);
    bool mx = r.kind == config::RouteKind::Mx;
    body += "<section class=\"route\" data-route=\"" + id + "\"><h2>" + id + "</h2><p>" +
            (mx ? std::string("MX lookup") : "host " + html_escape(r.host) + ":" + std::to_string(r.port)) + "; " +
            html_escape(route_policy(r)) + "</p><form class=\"inline test\" data-route=\"" + id + "\">" +
            (mx ? "<input name=\"domain\" placeholder=\"domain, e.g. partner.example\" required>" : "") +
            "<button>Test TLS connection</button></form><pre class=\"result\" hidden></pre>"
            "<form class=\"inline preview\" data-route=\"" + id + "\">Would have failed with "
            "<select name=\"setting\"><option value=\"verify_hostname\">verify_hostname</option>"
            "<option value=\"verify_ca\">verify_ca</option><option value=\"required\">required</option>"
            "<option value=\"min_tls_version\">min_tls_version</option></select>"
            "<select name=\"value\"><option>1.2</option><option>1.3</option></select>"
            "<button>Preview impact</button></form><p class=\"impact\"></p></section>";
  }
  body += R"(<script>
const csrf = document.querySelector('meta[name="csrf-token"]').content;
function words(j) {
  const v = j.verdict || {};
  let t = (v.text || '') + '\n';
  if (v.reason) t += 'Reason: ' + v.reason + '\n';
  (j.hosts || []).forEach(h => { t += h.host + ' [' + h.address + ']:' + h.port + ': ' + h.summary +
    (h.tls && h.tls.version ? ' (' + h.tls.version + ', ' + h.tls.cipher + ', ' + h.tls.verdict + ')' : '') + '\n'; });
  (v.remedies || []).forEach(r => { t += 'Remedy: ' + r + '\n'; });
  (v.notes || []).forEach(r => { t += 'Note: ' + r + '\n'; });
  return t;
}
document.querySelectorAll('form.test').forEach(f => f.addEventListener('submit', async ev => {
  ev.preventDefault();
  const out = f.parentElement.querySelector('.result');
  out.hidden = false; out.textContent = 'Testing ' + f.dataset.route + ' ...';
  const body = {}; if (f.domain) body.domain = f.domain.value;
  try {
    const r = await fetch('/api/routes/' + encodeURIComponent(f.dataset.route) + '/test', {method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify(body)});
    const j = await r.json(); out.textContent = r.ok ? words(j) : ('Error: ' + j.error);
  } catch (e) { out.textContent = 'Error: ' + e; }
}));
document.querySelectorAll('form.preview').forEach(f => f.addEventListener('submit', async ev => {
  ev.preventDefault();
  const out = f.parentElement.querySelector('.impact');
  const q = new URLSearchParams({route: f.dataset.route, setting: f.setting.value, value: f.value.value});
  const r = await fetch('/api/preview?' + q); const j = await r.json();
  out.textContent = r.ok ? j.words : ('Error: ' + j.error);
}));
</script>)";
  return shell(c, "Routes", "/routes", body);
}

std::string page_tls_reports(const PageContext& c, const std::vector<TlsReportRow>& rows) {
  std::string body = "<section><p>TLS sessions to the domains that ask for TLS reports (RFC 8460: an MTA-STS or DANE "
                     "policy, or a _smtp._tls record), as the daily reports count them.</p><table id=\"tlsrpt\"><tr>"
                     "<th>Day (UTC)</th><th>Policy domain</th><th>Policy</th><th>Successful sessions</th>"
                     "<th>Failed sessions</th><th>Failures</th></tr>";
  for (const auto& r : rows) {
    std::string policies, failures;
    for (const auto& p : r.policies) policies += (policies.empty() ? "" : ", ") + p;
    for (const auto& [type, n] : r.failure_types) {
      failures += (failures.empty() ? "" : ", ") + type + " (" + std::to_string(n) + ")";
    }
    body += "<tr><td>" + html_escape(r.day) + "</td><td>" + html_escape(r.domain) + "</td><td>" + html_escape(policies) +
            "</td><td>" + std::to_string(r.successes) + "</td><td class=\"" + (r.failures ? "bad" : "") + "\">" +
            std::to_string(r.failures) + "</td><td>" + html_escape(failures) + "</td></tr>";
  }
  if (rows.empty()) body += "<tr><td colspan=\"6\">No TLS sessions counted for reports yet.</td></tr>";
  return shell(c, "TLS reports", "/tls", body + "</table></section>");
}

std::string page_certificates(const PageContext& c) {
  std::string body = "<section><h2>Ours</h2>";
  if (c.cfg->tls.cert.empty()) {
    body += "<p>No certificate (tls.cert is not set).</p>";
  } else {
    std::string error;
    auto s = certs::cert_file_summary(c.cfg->tls.cert, &error);
    if (!s) {
      body += "<p class=\"bad\">" + html_escape(error) + "</p>";
    } else {
      body += "<table><tr><th>File</th><th>Subject</th><th>Names</th><th>Issuer</th><th>Expires</th></tr><tr><td>" +
              html_escape(c.cfg->tls.cert) + "</td><td>" + html_escape(s->subject) + "</td><td>";
      for (const auto& n : s->san) body += html_escape(n) + " ";
      body += "</td><td>" + html_escape(s->issuer) + "</td><td>" + html_escape(s->not_after) + "</td></tr></table>";
    }
  }
  body += "</section><section><h2>Remote certificates seen in the last " + std::to_string(c.cfg->admin.history_days) +
          " days</h2><table id=\"remote\"><tr><th>Expires</th><th>Subject</th><th>Issuer</th><th>Hosts</th><th>Routes</th>"
          "<th>SHA-256</th><th>Last seen</th></tr>";
  int64_t since = (c.now - static_cast<int64_t>(c.cfg->admin.history_days) * 86400) * 1000000;
  auto certs = remote_certificates(*c.history, since);
  auto list = [](const std::set<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out;
  };
  for (const auto& r : certs) {
    const char* cls = r.not_after <= c.now ? "bad" : r.not_after < c.now + CertExpiryWatch::kWarnSeconds ? "warn" : "";
    body += "<tr><td class=\"" + std::string(cls) + "\">" + day_text(r.not_after) + " (" + days_from(r.not_after, c.now) +
            ")</td><td>" + html_escape(r.subject) + "</td><td>" + html_escape(r.issuer) + "</td><td>" +
            html_escape(list(r.hosts)) + "</td><td>" + html_escape(list(r.routes)) + "</td><td title=\"" +
            html_escape(r.sha256) + "\">" + html_escape(r.sha256.substr(0, 16)) + "</td><td>" +
            html_escape(when(r.last_seen_us)) + "</td></tr>";
  }
  if (certs.empty()) body += "<tr><td colspan=\"7\">No remote certificate recorded yet.</td></tr>";
  return shell(c, "Certificates", "/certificates", body + "</table></section>");
}

}  // namespace relay
