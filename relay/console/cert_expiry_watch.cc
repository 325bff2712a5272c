// cert_expiry_watch.cc - the newest remote certificate per route and host (see the header).
#include "relay/console/cert_expiry_watch.h"

#include <algorithm>
#include <tuple>

namespace relay {

namespace {

// The host a delivery went to: its name, else the "host[ip]:port" of the session.
std::string host_of(const HistoryEvent& e) { return e.remote_host.empty() ? e.relay : e.remote_host; }

}  // namespace

void CertExpiryWatch::note(const std::string& route, const std::string& host, const Seen& s) {
  Seen& cur = latest_[{route, host}];
  if (s.time_us >= cur.time_us) cur = s;
}

void CertExpiryWatch::event(const HistoryEvent& e) {
  if (e.kind != HistoryKind::Delivery || e.cert_not_after == 0 || e.route.empty()) return;
  note(e.route, host_of(e), Seen{e.time_us, e.cert_subject, e.cert_sha256, e.cert_not_after});
}

void CertExpiryWatch::seed(const Table& t) {
  for (const auto& [key, s] : t) note(key.first, key.second, s);
}

std::vector<ExpiryWarning> CertExpiryWatch::warnings(const config::Config& cfg, int64_t now) const {
  std::vector<ExpiryWarning> out;
  int64_t since_us = (now - static_cast<int64_t>(cfg.admin.history_days) * 86400) * 1000000;
  for (const auto& [key, s] : latest_) {
    const config::Route* r = cfg.find_route(key.first);
    if (!r || r->tls != config::TlsMode::Required || s.time_us < since_us) continue;
    if (s.not_after >= now + kWarnSeconds) continue;
    out.push_back(ExpiryWarning{key.first, key.second, s.subject, s.sha256, s.not_after});
  }
  std::sort(out.begin(), out.end(), [](const ExpiryWarning& a, const ExpiryWarning& b) {
    return std::tie(a.not_after, a.route, a.host) < std::tie(b.not_after, b.route, b.host);
  });
  return out;
}

std::map<std::string, uint64_t> CertExpiryWatch::count_by_route(const config::Config& cfg, int64_t now) const {
  std::map<std::string, uint64_t> out;
  for (const auto& r : cfg.routes) {
    if (r.tls == config::TlsMode::Required) out[r.name] = 0;
  }
  for (const auto& w : warnings(cfg, now)) ++out[w.route];
  return out;
}

CertExpiryWatch::Table scan_history(const HistoryStore& h, int64_t since_us) {
  CertExpiryWatch w;
  h.scan_since(since_us, [&](const HistoryEvent& e) {
    w.event(e);
    return true;
  });
  return w.table();
}

}  // namespace relay
