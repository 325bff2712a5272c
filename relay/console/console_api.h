// console_api.h - the console's answers built from the delivery history, shared by the JSON API
// and the pages (SPEC R-CONSOLE): tracking (the pinned /api/tracking shape), deliveries per
// route and TLS version, recent bounces, and the policy impact preview.
//
// Pure readers of relay/queue/history_store.h; nothing here fails (an unreadable event is
// skipped, a missing history gives empty answers).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "relay/notify/tlsrpt_store.h"
#include "relay/queue/history_store.h"

namespace relay {

// {"messages": [...]} as pinned: every message matching `q`, newest first (at most 50).
nlohmann::ordered_json tracking_json(const HistoryStore& h, const std::string& q);

struct RouteDeliveries {
  std::map<std::string, uint64_t> by_tls;     // "TLS1_3" → sent
  std::map<std::string, uint64_t> by_status;  // "sent", "deferred", "bounced"
};
// Delivery outcomes since `since_us`, per route.
std::map<std::string, RouteDeliveries> deliveries_by_route(const HistoryStore& h, int64_t since_us);

struct Bounce {
  int64_t time_us = 0;
  std::string id, rcpt, route, dsn, reason;
};
std::vector<Bounce> recent_bounces(const HistoryStore& h, int64_t since_us, size_t limit);

// The remote certificates deliveries saw since `since_us` (one per fingerprint), with the hosts
// that showed each and the routes that used them; soonest expiry first.
struct RemoteCertificate {
  std::string sha256;
  std::string subject;
  std::string issuer;
  int64_t not_after = 0;  // unix seconds
  std::set<std::string> hosts;
  std::set<std::string> routes;
  int64_t last_seen_us = 0;
};
std::vector<RemoteCertificate> remote_certificates(const HistoryStore& h, int64_t since_us);

// The TLS reports page: TLS-RPT session counts (relay/notify/tlsrpt_store.h) per UTC day and
// policy domain for the `days` days up to `now` (unix seconds), newest day first. Reads one
// range of the store per day: run it on the console's worker thread.
struct TlsReportRow {
  std::string day;     // "2026-11-27"
  std::string domain;  // policy domain
  std::set<std::string> policies;  // "sts", "tlsa", "no-policy-found"
  uint64_t successes = 0;
  uint64_t failures = 0;
  std::map<std::string, uint64_t> failure_types;  // RFC 8460 result-type → failed sessions
};
std::vector<TlsReportRow> tls_report_rows(TlsrptStore& s, int64_t now, uint32_t days);

// Policy impact preview: which of the recorded deliveries since `since_us` on `route` would have
// failed `setting` ("required", "verify_ca", "verify_hostname", "min_tls_version") with `value`
// ("1.2", "1.3" for min_tls_version).
struct PreviewResult {
  uint64_t deliveries = 0;  // recorded attempts that reached a host (with or without TLS)
  uint64_t failing = 0;
  std::vector<std::string> hosts;          // every destination host seen
  std::vector<std::string> failing_hosts;  // those that would have failed
  std::string words;                       // one sentence for the page
  std::string error;                       // unknown setting or value
};
PreviewResult policy_preview(const HistoryStore& h, const std::string& route, const std::string& setting,
                             const std::string& value, int64_t since_us);

}  // namespace relay
