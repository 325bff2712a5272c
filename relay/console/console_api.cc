// console_api.cc - tracking, per-route counts, bounces and the policy preview (see console_api.h).
#include "relay/console/console_api.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "relay/console/metrics.h"
#include "router/base/utc_time.h"

namespace relay {

namespace {

std::string when(int64_t us) { return base::rfc3339(us / 1000000); }

nlohmann::ordered_json event_json(const HistoryEvent& e) {
  return {{"time", when(e.time_us)},     {"event", history_kind_name(e.kind)},
          {"status", e.status},          {"dsn", e.dsn},
          {"relay", e.relay},            {"tls_version", e.tls_version},
          {"cipher", e.cipher},          {"verify", e.verify},
          {"reason", e.reason}};
}

nlohmann::ordered_json message_json(const std::string& id, const std::vector<HistoryEvent>& evs) {
  const HistoryEvent* acc = nullptr;
  std::vector<std::string> rcpts;
  for (const auto& e : evs) {
    if (e.kind == HistoryKind::Accepted && !acc) acc = &e;
  }
  if (acc) rcpts = acc->recipients;
  for (const auto& e : evs) {
    if (e.kind == HistoryKind::Delivery && std::find(rcpts.begin(), rcpts.end(), e.rcpt) == rcpts.end()) {
      rcpts.push_back(e.rcpt);
    }
  }
  nlohmann::ordered_json m;
  m["id"] = id;
  m["message_id"] = acc ? acc->message_id : "";
  m["sender"] = acc ? acc->sender : "";
  m["arrival"] = acc ? when(acc->time_us) : "";
  m["size"] = acc ? acc->size : 0;
  m["client"] = acc ? acc->client : "";
  m["tls"] = acc ? (acc->tls_in.empty() ? "none" : acc->tls_in) : "";
  m["recipients"] = nlohmann::ordered_json::array();
  for (const auto& r : rcpts) {
    nlohmann::ordered_json rj;
    std::string route, state = "queued";
    auto list = nlohmann::ordered_json::array();
    for (const auto& e : evs) {
      bool mine = e.kind == HistoryKind::Delivery ? e.rcpt == r : true;  // message-wide events go to each
      if (!mine) continue;
      if (e.kind == HistoryKind::Delivery) {
        route = e.route;
        state = e.status;
      }
      list.push_back(event_json(e));
    }
    rj["address"] = r;
    rj["route"] = route;
    rj["state"] = state;
    rj["events"] = std::move(list);
    m["recipients"].push_back(std::move(rj));
  }
  return m;
}

int version_rank(const std::string& v) {
  if (v == "TLS1_3") return 13;
  if (v == "TLS1_2") return 12;
  if (v == "TLS1_1") return 11;
  return 0;
}

// Would this recorded attempt have failed `setting`? Only attempts that reached a host count.
bool would_fail(const HistoryEvent& e, const std::string& setting, const std::string& value) {
  bool tls = !e.tls_version.empty();
  if (setting == "required") return !tls;
  if (setting == "verify_ca") return !tls || (e.verify != "Verified" && e.verify != "Trusted");
  if (setting == "verify_hostname") return !tls || e.verify != "Verified";
  int want = value == "1.3" ? 13 : 12;
  return !tls || version_rank(e.tls_version) < want;
}

}  // namespace

nlohmann::ordered_json tracking_json(const HistoryStore& h, const std::string& q) {
  nlohmann::ordered_json out;
  out["messages"] = nlohmann::ordered_json::array();
  if (q.empty()) return out;
  for (const auto& id : h.find(q, 50)) out["messages"].push_back(message_json(id, h.events_of(id)));
  return out;
}

std::map<std::string, RouteDeliveries> deliveries_by_route(const HistoryStore& h, int64_t since_us) {
  std::map<std::string, RouteDeliveries> out;
  h.scan_since(since_us, [&](const HistoryEvent& e) {
    if (e.kind != HistoryKind::Delivery || e.route.empty()) return true;
    auto& r = out[e.route];
    ++r.by_status[e.status];
    if (e.status == "sent") ++r.by_tls[tls_label(e.tls_version)];
    return true;
  });
  return out;
}

std::vector<Bounce> recent_bounces(const HistoryStore& h, int64_t since_us, size_t limit) {
  std::vector<Bounce> out;
  h.scan_since(since_us, [&](const HistoryEvent& e) {
    if (e.kind == HistoryKind::Delivery && e.status == "bounced") {
      out.push_back(Bounce{e.time_us, e.id, e.rcpt, e.route, e.dsn, e.reason});
    }
    return true;
  });
  std::reverse(out.begin(), out.end());  // newest first
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::vector<RemoteCertificate> remote_certificates(const HistoryStore& h, int64_t since_us) {
  std::map<std::string, RemoteCertificate> by_fp;
  h.scan_since(since_us, [&](const HistoryEvent& e) {
    if (e.kind != HistoryKind::Delivery || e.cert_not_after == 0) return true;
    // Without a fingerprint (it could not be computed), subject and expiry tell certificates apart.
    std::string key = !e.cert_sha256.empty() ? e.cert_sha256 : e.cert_subject + "\n" + std::to_string(e.cert_not_after);
    RemoteCertificate& c = by_fp[key];
    c.sha256 = e.cert_sha256;
    c.subject = e.cert_subject;
    c.issuer = e.cert_issuer;
    c.not_after = e.cert_not_after;
    c.hosts.insert(e.remote_host.empty() ? e.relay : e.remote_host);
    if (!e.route.empty()) c.routes.insert(e.route);
    c.last_seen_us = e.time_us;
    return true;
  });
  std::vector<RemoteCertificate> out;
  for (auto& [k, c] : by_fp) out.push_back(std::move(c));
  std::sort(out.begin(), out.end(), [](const RemoteCertificate& a, const RemoteCertificate& b) {
    return a.not_after != b.not_after ? a.not_after < b.not_after : a.subject < b.subject;
  });
  return out;
}

std::vector<TlsReportRow> tls_report_rows(TlsrptStore& s, int64_t now, uint32_t days) {
  std::vector<TlsReportRow> out;
  for (uint32_t i = 0; i < days; ++i) {
    std::map<std::string, TlsReportRow> by_domain;
    std::string day = utc_day(now - static_cast<int64_t>(i) * 86400);
    for (const auto& e : s.entries(day)) {
      TlsReportRow& r = by_domain[e.domain];
      r.day = day;
      r.domain = e.domain;
      r.policies.insert(e.policy.type);
      r.successes += e.success;
      r.failures += e.failure;
      for (const auto& d : e.details) r.failure_types[d.result_type] += d.count;
    }
    for (auto& [d, r] : by_domain) out.push_back(std::move(r));
  }
  return out;
}

PreviewResult policy_preview(const HistoryStore& h, const std::string& route, const std::string& setting,
                             const std::string& value, int64_t since_us) {
  PreviewResult p;
  static const std::set<std::string> settings = {"required", "verify_ca", "verify_hostname", "min_tls_version"};
  if (!settings.count(setting)) {
    p.error = "unknown setting '" + setting + "' (required, verify_ca, verify_hostname, min_tls_version)";
    return p;
  }
  if (setting == "min_tls_version" && value != "1.2" && value != "1.3") {
    p.error = "min_tls_version is \"1.2\" or \"1.3\"";
    return p;
  }
  std::set<std::string> hosts, failing;
  h.scan_since(since_us, [&](const HistoryEvent& e) {
    if (e.kind != HistoryKind::Delivery || e.route != route || e.relay.empty()) return true;
    std::string host = e.remote_host.empty() ? e.relay : e.remote_host;
    ++p.deliveries;
    hosts.insert(host);
    if (would_fail(e, setting, value)) {
      ++p.failing;
      failing.insert(host);
    }
    return true;
  });
  p.hosts.assign(hosts.begin(), hosts.end());
  p.failing_hosts.assign(failing.begin(), failing.end());
  std::string what = setting == "min_tls_version" ? "min_tls_version = " + value : setting + " = true";
  p.words = "With " + what + ", route " + route + " would have failed " + std::to_string(p.failing) + " of " +
            std::to_string(p.deliveries) + " recorded deliveries, to " + std::to_string(p.failing_hosts.size()) +
            " of " + std::to_string(p.hosts.size()) + " destination hosts";
  if (!p.failing_hosts.empty()) {
    p.words += ": ";
    for (size_t i = 0; i < p.failing_hosts.size(); ++i) p.words += (i ? ", " : "") + p.failing_hosts[i];
  }
  p.words += ".";
  return p;
}

}  // namespace relay
