// cmd_tlsrpt.h - `smarthost tlsrpt -c FILE show [--date D] [--json]` and `send [--date D]`, and
// the report sender the daemon's daily timer can run on its own loop.
//
// show: the counts of one UTC day (default today) per policy domain and policy, with the
//       failure details; --json prints {"date": D, "reports": [REPORT...]} where each REPORT is
//       the RFC 8460 JSON that `send` would send for that domain.
// send: ends the period on demand: for every domain with counts on day D (default today) that
//       has not been reported yet, looks up _smtp._tls.DOMAIN and sends the gzip'ed JSON report
//       to each rua: mailto: -> a DKIM-signed multipart/report message put into the queue (From
//       and envelope sender: the tlsrpt.contact mailto address, else tlsrpt@SUBMITTER; routed by
//       the route table like any recipient), https: -> HTTPS POST (application/tlsrpt+gzip).
//       A domain is marked reported once one rua took the report. Exit 0 when every report went
//       out (or there was nothing to send), 1 when one failed.
//
// How it fails: an unreadable store or DKIM key, or a route-less rua, is reported on `err` and in
// the exit code; nothing here throws. Report messages carry HELO kTlsrptHelo (tlsrpt_report.h) so
// delivery never counts them (no report loops).
#pragma once

#include <event2/event.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "config/config.h"
#include "relay/cli_args.h"
#include "relay/queue_record.h"
#include "relay/queue_store.h"
#include "relay/tlsrpt_store.h"
#include "router/dns_resolver.h"
#include "router/route_table.h"

namespace relay {

int cmd_tlsrpt(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err);

// Puts one report message into the queue (sync for the CLI, put_message_async for the daemon);
// calls back with the outcome. May call back at once.
using ReportEnqueue = std::function<void(Envelope env, std::string message, std::function<void(StoreStatus)> done)>;

struct TlsrptSendSummary {
  std::vector<std::string> lines;  // one per report or problem, for the log / stdout
  int sent = 0;                    // reports queued or posted
  int failed = 0;
};

// Sends the reports of `day` (see `send` above) on `base`. `done` runs once from the loop; the
// sender must outlive that, and `store`, `dns`, `routes` and `https_ctx` must outlive the sender.
class TlsrptSender {
 public:
  using Done = std::function<void(TlsrptSendSummary)>;
  static std::unique_ptr<TlsrptSender> start(event_base* base, router::DnsService& dns, WOLFSSL_CTX* https_ctx,
                                             const config::Config& cfg, const router::RouteTable& routes,
                                             TlsrptStore& store, ReportEnqueue enqueue, const std::string& day,
                                             int64_t now, Done done);
  ~TlsrptSender();
  class Impl;
  struct Key {
   private:
    friend class TlsrptSender;
    Key() = default;
  };
  TlsrptSender(Key, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// The address reports come from: tlsrpt.contact when it is a mailto: URI, else tlsrpt@SUBMITTER.
std::string tlsrpt_from_address(const config::Tlsrpt& t);

// The complete report message for one domain and rua address (JSON, gzip, MIME, DKIM when
// tlsrpt.dkim is configured). Empty and *error when gzip or signing fails.
std::string make_report_message(const config::Config& cfg, const std::string& day, const std::string& domain,
                                const std::vector<TlsrptEntry>& entries, const std::string& to, int64_t now,
                                std::string* error);

}  // namespace relay
