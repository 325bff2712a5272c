// metrics.h - the relay's counters in Prometheus text format (SPEC R-CONSOLE, `/metrics`).
//
// Counted from the observer events (relay/core/observer.h), so they move exactly when the log
// lines are written. Label values are bounded: route names from the configuration, TLS versions
// and statuses from fixed sets, failure reasons from certs::tls_problem_name(); never addresses.
// Gauges (queue by state, connections) are asked of their owners at scrape time.
//
// Nothing here fails.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>

#include "relay/core/history_event.h"

namespace relay {

class Metrics {
 public:
  struct Gauges {
    std::map<std::string, uint64_t> queue_by_state;  // "queued", "deferred", "held"
    uint64_t inbound = 0;
    uint64_t outbound = 0;
    uint64_t history_bytes = 0;
    uint64_t history_dropped = 0;
    // Required route → its remote certificates expiring within 14 days (cert_expiry_watch.h).
    std::map<std::string, uint64_t> expiring_certs;
  };

  void event(const HistoryEvent& e);
  void inbound_session(const std::string& tls_version);
  // The text of /metrics.
  std::string render(const Gauges& g) const;

  uint64_t accepted() const { return accepted_; }

 private:
  uint64_t accepted_ = 0;
  std::map<std::tuple<std::string, std::string, std::string>, uint64_t> deliveries_;  // route, status, tls
  std::map<std::pair<std::string, std::string>, uint64_t> tls_failures_;             // route, reason
  std::map<std::string, uint64_t> inbound_sessions_;                                  // tls_version
  uint64_t bounces_sent_ = 0;
};

// "TLS1_3", "TLS1_2", "TLS1_1" or "none": the only tls_version label values.
std::string tls_label(const std::string& version);

}  // namespace relay
