// metrics.cc - counters and their Prometheus text (see metrics.h).
#include "relay/console/metrics.h"

#include <sstream>

namespace relay {

namespace {

// Label values as the text format wants them: backslash, quote and newline escaped.
std::string esc(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void head(std::ostringstream& o, const char* name, const char* type, const char* help) {
  o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

}  // namespace

std::string tls_label(const std::string& version) {
  if (version == "TLS1_3" || version == "TLS1_2" || version == "TLS1_1") return version;
  return version.empty() ? "none" : "other";
}

void Metrics::event(const HistoryEvent& e) {
  switch (e.kind) {
    case HistoryKind::Accepted:
      ++accepted_;
      break;
    case HistoryKind::Delivery: {
      std::string status = e.status == "sent" || e.status == "deferred" || e.status == "bounced" ? e.status : "other";
      ++deliveries_[{e.route, status, tls_label(e.tls_version)}];
      if (!e.tls_problem.empty()) ++tls_failures_[{e.route, e.tls_problem}];
      break;
    }
    case HistoryKind::Dsn:
      ++bounces_sent_;
      break;
    case HistoryKind::Admin:
      break;
  }
}

void Metrics::inbound_session(const std::string& tls_version) { ++inbound_sessions_[tls_label(tls_version)]; }

std::string Metrics::render(const Gauges& g) const {
  std::ostringstream o;
  head(o, "smarthost_messages_accepted_total", "counter", "Messages received over SMTP and queued.");
  o << "smarthost_messages_accepted_total " << accepted_ << "\n";
  head(o, "smarthost_deliveries_total", "counter", "Delivery outcomes per recipient.");
  for (const auto& [k, n] : deliveries_) {
    o << "smarthost_deliveries_total{route=\"" << esc(std::get<0>(k)) << "\",status=\"" << std::get<1>(k)
      << "\",tls_version=\"" << std::get<2>(k) << "\"} " << n << "\n";
  }
  head(o, "smarthost_tls_failures_total", "counter", "Delivery attempts that failed a TLS requirement.");
  for (const auto& [k, n] : tls_failures_) {
    o << "smarthost_tls_failures_total{route=\"" << esc(k.first) << "\",reason=\"" << esc(k.second) << "\"} " << n
      << "\n";
  }
  head(o, "smarthost_inbound_sessions_total", "counter", "Inbound SMTP sessions ended, by TLS version.");
  for (const auto& [v, n] : inbound_sessions_) {
    o << "smarthost_inbound_sessions_total{tls_version=\"" << v << "\"} " << n << "\n";
  }
  head(o, "smarthost_bounces_sent_total", "counter", "Bounce notices (DSNs) queued to senders.");
  o << "smarthost_bounces_sent_total " << bounces_sent_ << "\n";
  head(o, "smarthost_queue_messages", "gauge", "Messages in the queue by state.");
  for (const auto& [state, n] : g.queue_by_state) o << "smarthost_queue_messages{state=\"" << state << "\"} " << n << "\n";
  head(o, "smarthost_connections", "gauge", "Open SMTP connections.");
  o << "smarthost_connections{direction=\"inbound\"} " << g.inbound << "\n";
  o << "smarthost_connections{direction=\"outbound\"} " << g.outbound << "\n";
  head(o, "smarthost_remote_certificates_expiring", "gauge",
       "Remote certificates on required routes that expire within 14 days (or have expired).");
  for (const auto& [route, n] : g.expiring_certs) {
    o << "smarthost_remote_certificates_expiring{route=\"" << esc(route) << "\"} " << n << "\n";
  }
  head(o, "smarthost_history_bytes", "gauge", "Bytes the delivery history holds.");
  o << "smarthost_history_bytes " << g.history_bytes << "\n";
  head(o, "smarthost_history_dropped_total", "counter", "History events dropped because they did not fit.");
  o << "smarthost_history_dropped_total " << g.history_dropped << "\n";
  return o.str();
}

}  // namespace relay
