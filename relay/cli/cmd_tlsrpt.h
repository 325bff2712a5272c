// cmd_tlsrpt.h - `smarthost tlsrpt -c FILE show [--date D] [--json]` and `send [--date D]`
// (the sending itself is relay/notify/tlsrpt_sender.h).
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
// the exit code; nothing here throws. Report messages are queued with Origin::TlsReport
// (relay/queue/local_mail.h) so delivery never counts them (no report loops).
#pragma once

#include <iosfwd>

#include "config/config.h"
#include "relay/cli/cli_args.h"

namespace relay {

int cmd_tlsrpt(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err);

}  // namespace relay
