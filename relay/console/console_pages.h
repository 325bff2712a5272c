// console_pages.h - the console's server-rendered HTML pages (SPEC R-CONSOLE): overview,
// tracking, routes (with "Test TLS connection" and the policy impact preview), TLS reports,
// certificates, and the login form. One small stylesheet and a little plain JavaScript inline
// (no CDN); a viewport that works at 1280x800 and on a phone. Every text from outside (addresses,
// reasons, replies) is HTML-escaped. Nothing here fails.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "relay/console/cert_expiry_watch.h"
#include "relay/console/console_api.h"
#include "relay/console/metrics.h"
#include "relay/queue/history_store.h"

namespace relay {

struct PageContext {
  const config::Config* cfg = nullptr;
  const HistoryStore* history = nullptr;
  std::string csrf;  // empty for HTTP Basic logins
  std::string user;
  int64_t now = 0;  // unix seconds
};

std::string html_escape(const std::string& s);

std::string page_login(const std::string& message);
std::string page_overview(const PageContext& c, const Metrics::Gauges& g, const std::vector<ExpiryWarning>& expiring);
std::string page_tracking(const PageContext& c, const std::string& q);
std::string page_routes(const PageContext& c);
std::string page_tls_reports(const PageContext& c, const std::vector<TlsReportRow>& rows);
std::string page_certificates(const PageContext& c);

}  // namespace relay
