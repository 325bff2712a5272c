// tlsrpt_sender.h - the TLS-RPT reports of one day (RFC 8460), built and sent: for every domain
// with counts that has not been reported yet, looks up _smtp._tls.DOMAIN and sends the gzip'ed JSON
// report to each rua: mailto: -> a DKIM-signed multipart/report message put into the queue,
// https: -> HTTPS POST (application/tlsrpt+gzip). A domain is marked reported once one rua took
// the report. Used by `smarthost tlsrpt send` and by the daemon's daily timer.
//
// How it fails: an unreadable DKIM key or a route-less rua is a line in the summary and counts as
// failed; nothing here throws. Report messages are queued with Origin::TlsReport, so delivery never
// counts or reports on them (RFC 8460 section 3: no report loops).
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "config/config.h"
#include "relay/notify/tlsrpt_report.h"
#include "relay/notify/tlsrpt_store.h"
#include "relay/queue/local_mail.h"
#include "router/dns/dns_resolver.h"

namespace relay {

// The report's metadata for one domain and day (organisation, contact, id, period).
ReportMeta report_meta(const config::Config& cfg, const std::string& day, const std::string& domain, int64_t now);
// The policy domains with counts, in the order of `entries`.
std::vector<std::string> report_domains(const std::vector<TlsrptEntry>& entries);

// Puts one report message into the queue: inject_local_mail() for the CLI, inject_local_mail_async()
// for the daemon (which then schedules it). Calls `done` once with the outcome, maybe at once.
using ReportEnqueue = std::function<void(LocalMail mail, std::function<void(const Injected&)> done)>;

struct TlsrptSendSummary {
  std::vector<std::string> lines;  // one per report or problem, for the log / stdout
  int sent = 0;                    // reports queued or posted
  int failed = 0;
};

// Sends the reports of `day` (see `send` above) on `base`. `done` runs once from the loop; the
// sender must outlive that, and `store`, `dns` and `https_ctx` must outlive the sender.
class TlsrptSender {
 public:
  using Done = std::function<void(TlsrptSendSummary)>;
  static std::unique_ptr<TlsrptSender> start(event_base* base, router::DnsService& dns, WOLFSSL_CTX* https_ctx,
                                             const config::Config& cfg, TlsrptStore& store, ReportEnqueue enqueue,
                                             const std::string& day, int64_t now, Done done);
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
