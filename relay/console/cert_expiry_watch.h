// cert_expiry_watch.h - expiry warnings for the remote certificates our `required` routes
// depend on (issue 17 item 4, SPEC R-CONSOLE): an expired partner certificate on a required
// route turns into bounces, so the console warns 14 days ahead, on the overview page and as the
// metric smarthost_remote_certificates_expiring{route}.
//
// Kept in memory from the delivery events (the console's observer feeds every one): for each
// (route, destination host), the certificate of the newest delivery that saw one, so a partner
// who has renewed stops warning at its next delivery. At start the console seeds it from the
// delivery history (seed(), built off the loop by scan_history()). Which routes count is asked
// of the configuration at each call, so a reload that makes a route required (or not) shows at
// once. Nothing here fails or waits.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "relay/core/history_event.h"
#include "relay/queue/history_store.h"

namespace relay {

struct ExpiryWarning {
  std::string route;
  std::string host;
  std::string subject;
  std::string sha256;
  int64_t not_after = 0;  // unix seconds
};

class CertExpiryWatch {
 public:
  static constexpr int64_t kWarnSeconds = 14 * 86400;

  struct Seen {
    int64_t time_us = 0;  // the delivery that showed it
    std::string subject;
    std::string sha256;
    int64_t not_after = 0;
  };
  using Table = std::map<std::pair<std::string, std::string>, Seen>;  // (route, host) → newest

  // A delivery event with a certificate updates its (route, host); others are ignored.
  void event(const HistoryEvent& e);
  // What scan_history() found; an entry the live events already made newer is kept.
  void seed(const Table& t);
  // Certificates on routes that are `required` in `cfg`, seen within its history_days, that
  // expire (or expired) before now + 14 days; soonest first.
  std::vector<ExpiryWarning> warnings(const config::Config& cfg, int64_t now) const;
  // Per required route: how many of its hosts' certificates warn (0 for a route without any).
  std::map<std::string, uint64_t> count_by_route(const config::Config& cfg, int64_t now) const;
  const Table& table() const { return latest_; }

 private:
  void note(const std::string& route, const std::string& host, const Seen& s);
  Table latest_;
};

// The newest certificate per (route, host) among the history's events since `since_us`. Reads
// the whole window: run it on the console's worker thread, not the loop.
CertExpiryWatch::Table scan_history(const HistoryStore& h, int64_t since_us);

}  // namespace relay
