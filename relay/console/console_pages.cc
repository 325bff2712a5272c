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

std::string page_overview(const PageContext& c, const Metrics::Gauges& g) {
  std::string body = "<section><h2>Queue</h2><table><tr><th>State</th><th>Messages</th></tr>";
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

std::string page_tls_reports(const PageContext& c) {
  // Sessions and failures per destination domain and day, from the recorded deliveries.
  std::map<std::tuple<std::string, std::string>, std::pair<uint64_t, uint64_t>> rows;  // (day, domain) → ok, failed
  int64_t since = (c.now - static_cast<int64_t>(c.cfg->admin.history_days) * 86400) * 1000000;
  c.history->scan_since(since, [&](const HistoryEvent& e) {
    if (e.kind != HistoryKind::Delivery || e.relay.empty()) return true;
    size_t at = e.rcpt.rfind('@');
    std::string domain = at == std::string::npos ? e.rcpt : e.rcpt.substr(at + 1);
    auto& r = rows[{base::utc_format(e.time_us / 1000000, "%Y-%m-%d"), domain}];
    if (e.tls_problem.empty() && !e.tls_version.empty()) ++r.first;
    if (!e.tls_problem.empty()) ++r.second;
    return true;
  });
  std::string body = "<section><table><tr><th>Day (UTC)</th><th>Policy domain</th><th>TLS sessions</th>"
                     "<th>Failures</th></tr>";
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    body += "<tr><td>" + std::get<0>(it->first) + "</td><td>" + html_escape(std::get<1>(it->first)) + "</td><td>" +
            std::to_string(it->second.first) + "</td><td class=\"" + (it->second.second ? "bad" : "") + "\">" +
            std::to_string(it->second.second) + "</td></tr>";
  }
  if (rows.empty()) body += "<tr><td colspan=\"4\">No deliveries recorded yet.</td></tr>";
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
  body += "</section><section><h2>Remote hosts seen</h2><table><tr><th>Host</th><th>Routes</th><th>TLS</th>"
          "<th>Verify</th><th>Last seen</th></tr>";
  std::map<std::string, std::tuple<std::set<std::string>, std::string, std::string, int64_t>> hosts;
  int64_t since = (c.now - static_cast<int64_t>(c.cfg->admin.history_days) * 86400) * 1000000;
  c.history->scan_since(since, [&](const HistoryEvent& e) {
    if (e.kind != HistoryKind::Delivery || e.tls_version.empty()) return true;
    auto& h = hosts[e.remote_host.empty() ? e.relay : e.remote_host];
    std::get<0>(h).insert(e.route);
    std::get<1>(h) = e.tls_version;
    std::get<2>(h) = e.verify;
    std::get<3>(h) = e.time_us;
    return true;
  });
  for (const auto& [host, h] : hosts) {
    std::string routes;
    for (const auto& r : std::get<0>(h)) routes += (routes.empty() ? "" : ", ") + r;
    body += "<tr><td>" + html_escape(host) + "</td><td>" + html_escape(routes) + "</td><td>" + html_escape(std::get<1>(h)) +
            "</td><td>" + html_escape(std::get<2>(h)) + "</td><td>" + html_escape(when(std::get<3>(h))) + "</td></tr>";
  }
  if (hosts.empty()) body += "<tr><td colspan=\"5\">No TLS deliveries recorded yet.</td></tr>";
  return shell(c, "Certificates", "/certificates", body + "</table></section>");
}

}  // namespace relay
