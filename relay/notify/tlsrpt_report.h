// tlsrpt_report.h - the daily TLS-RPT report (RFC 8460 sections 3-5): JSON, gzip, mail message.
//
// tlsrpt_report_json() turns one domain's entries of one day (TlsrptStore::entries) into the
// report object of section 4: organization-name, date-range {start-datetime, end-datetime},
// contact-info, report-id, and policies[] each with policy {policy-type, policy-string[],
// policy-domain, mx-host[]}, summary {total-successful-session-count,
// total-failure-session-count} and failure-details[] (result-type, sending-mta-ip,
// receiving-mx-hostname, receiving-mx-helo, receiving-ip, failed-session-count,
// additional-information, failure-reason-code; empty optional fields are left out; words are
// always failure-reason-code, additional-information only ever a URI).
// tlsrpt_report_doc() is the same report as a JSON value (tlsrpt show --json embeds it).
// gzip_compress() / gzip_decompress() use zlib's gzip framing. build_report_mail() makes the
// section 5.3 message: multipart/report; report-type="tlsrpt" with a text part and the
// application/tlsrpt+gzip attachment named "SUBMITTER!DOMAIN!BEGIN!END.json.gz" (Unix seconds),
// headers TLS-Report-Domain, TLS-Report-Submitter, TLS-Required: No (RFC 8689: a report must
// get through even when the rua domain's TLS is broken, RFC 8460 5.3.1), and Subject "Report Domain: D Submitter: S
// Report-ID: <ID>". DKIM signing is a separate step (dkim_signer.h).
// parse_tlsrpt_txt() reads the `_smtp._tls.DOMAIN` record ("v=TLSRPTv1; rua=mailto:a@b,https://...").
//
// How it fails: the JSON and mail builders cannot fail (all text is escaped or encoded).
// gzip functions return nullopt and *error on a zlib error or corrupt input; parse_tlsrpt_txt()
// returns an empty list and *error when there is no single valid record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "relay/message/base64.h"  // base64_encode, for report attachments
#include "relay/notify/tlsrpt_store.h"
#include "router/mta_sts/mta_sts_lookup.h"

namespace relay {

struct ReportMeta {
  std::string organization;  // tlsrpt.organization
  std::string contact;       // tlsrpt.contact
  std::string submitter;     // tlsrpt.submitter (a domain)
  std::string report_id;
  int64_t start = 0;         // unix seconds, first second of the UTC day
  int64_t end = 0;           // last second of the day
};

// "2026-11-23T000000Z.example.net@submitter.example": unique per day, domain and submitter.
std::string tlsrpt_report_id(const std::string& day, const std::string& domain, const std::string& submitter);

// The report object; tlsrpt_report_json() is its text (one line and a newline), as sent.
nlohmann::ordered_json tlsrpt_report_doc(const ReportMeta& meta, const std::string& domain,
                                         const std::vector<TlsrptEntry>& entries);
std::string tlsrpt_report_json(const ReportMeta& meta, const std::string& domain,
                               const std::vector<TlsrptEntry>& entries);

std::optional<std::string> gzip_compress(const std::string& data, std::string* error);
std::optional<std::string> gzip_decompress(const std::string& data, std::string* error,
                                           size_t max_size = 64u << 20);

// The rua URIs of the one "v=TLSRPTv1" record among `txt` (section 3: fields ';'-separated,
// rua a comma-separated list of mailto: and https: URIs).
std::vector<std::string> parse_tlsrpt_txt(const std::vector<std::string>& txt, std::string* error);

std::string tlsrpt_filename(const std::string& submitter, const std::string& domain, int64_t start, int64_t end);

struct ReportMail {
  std::string from;        // address, no angle brackets
  std::string to;          // the rua mailto address
  std::string domain;      // the policy domain reported on
  ReportMeta meta;
  std::string json_gz;     // gzip'ed JSON
  int64_t now = 0;         // Date:
  std::string seed;        // deterministic boundary / Message-ID for tests; random when empty
};

// The whole message, CRLF line ends, no line over 998 octets.
std::string build_report_mail(const ReportMail& m);

// The policy as a report lists it, from a PolicyResult ("sts" with the policy's lines and mx
// patterns, or "no-policy-found").
TlsrptPolicy tlsrpt_policy(const router::PolicyResult& r);

// One failed session as a report lists it (section 4.4): our address `sending_ip`, the MX host
// and address, and the error in words as failure-reason-code (additional-information is for a
// URI, and stays empty).
FailureDetail session_failure_detail(const std::string& result_type, const std::string& sending_ip,
                                     const std::string& mx, const std::string& ip, const std::string& words);
// An enforce policy named none of the MX hosts and the delivery was deferred: one failed session
// of result-type validation-failure (router::kTlsrptMxMismatch), naming the first excluded host.
FailureDetail mx_mismatch_detail(const std::vector<std::string>& excluded);

// Report messages are queued with Origin::TlsReport (Envelope::origin), which delivery goes by:
// never counted or reported on (RFC 8460 section 3: no report loops), and this lifetime.
// How long a report may wait in the queue before it is given up (issue: "retried for a day").
constexpr int64_t kTlsrptLifetime = 86400;
// How long a message may stay queued: queue.max_lifetime, and for a report no more than a day.
int64_t queue_lifetime(bool tls_report, int64_t max_lifetime);


}  // namespace relay
