// dsn_builder.h - non-delivery reports (RFC 3464 DSNs in an RFC 6522
// multipart/report) for recipients that failed permanently.
//
// The report has three parts: plain words for the sender and the admin
// (which host was tried, what failed, what can be done: seed 000's TLS
// troubleshooting advice), the machine-readable message/delivery-status, and
// the original message (RET=FULL) or its header section (RET=HDRS or unset).
// For internationalised mail (SMTPUTF8, UTF-8 addresses or headers) the report
// follows RFC 6533: report-type=global-delivery-status with
// message/global-delivery-status and message/global-headers (or message/global).
// It only builds text: it changes no recipient state and sends nothing.
//
// Failure is a value: build_dsn() returns nullopt when no DSN may be sent at
// all (the message is itself a bounce, or no failed recipient asked for one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "relay/queue/queue_record.h"

namespace relay {

struct DsnRequest {
  std::string reporting_mta;      // our host name (Reporting-MTA: dns; NAME)
  const Envelope* env = nullptr;  // the original envelope (sender, envid, ret, arrival, recipients)
  std::vector<size_t> failed;     // indexes into env->recipients that failed permanently now
  const std::string* original = nullptr;  // the whole stored message (headers + body, CRLF); null: no third part
  int64_t now = 0;                // unix seconds (Date:, Last-Attempt-Date:)
  std::string config_path;        // the relay's config file, named in the advice's command line unless the default
  std::string boundary_seed;      // makes the MIME boundary and Message-ID deterministic in tests; random when empty
};

// The complete RFC 5322 message (CRLF line ends, no line over 998 octets) to
// send from <> to env->sender, and in *reported (when not null) the indexes of
// the recipients it reports on: those of req.failed whose NOTIFY allows a
// failure report (not given, or including FAILURE; RFC 3461 4.1). Indexes out
// of range and repeats are ignored.
// nullopt when no DSN may be sent: null sender (a bounce is never bounced),
// no envelope, or no failed recipient whose NOTIFY allows it; *reported is
// then empty.
std::optional<std::string> build_dsn(const DsnRequest& req, std::vector<size_t>* reported);

// What the admin can do about a failed recipient, in plain words, one item a
// line: Recipient::advice when set, else chosen by the typed failure
// (Recipient::failure and tls_problem; dsn_status for records written before
// kinds were stored), never by the words of last_error (seed 000's
// troubleshooting list for TLS failures). The route tester reuses it.
// The tester command it advises names `config_path` (-c) unless that is empty
// or the default, and the recipient's domain (--domain): it runs as written.
std::vector<std::string> dsn_advice(const Recipient& r, const std::string& config_path = "");

}  // namespace relay
