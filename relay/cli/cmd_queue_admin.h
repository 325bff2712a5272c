// cmd_queue_admin.h - `smarthost queue delete|bounce|hold|release ID… | ALL | -` (postsuper habits).
//
// IDs come from the command line, `ALL` (every message in the queue; for `release`, every held
// one; for `hold`, every one not held) or `-` (whitespace-separated on standard input). With a
// relay running, the relay makes each change (control_socket.h): it stops a delivery of that
// message in progress first, and logs event=admin. With none, the tool makes it under the queue
// lock (queue_control.h) and writes the event=admin lines into log.file itself (when it is a
// file; on stderr they would only repeat what it prints).
//
// Prints one line per message ("deleted ID", "held ID", "released ID", "bounced N recipient(s) of
// ID", and what became of a delivery in progress); unknown IDs go to stderr. Exit 0, 1 when an ID
// was unknown or a change failed, 2 on a usage error.
#pragma once

#include <iosfwd>

#include "config/config.h"
#include "relay/cli/cli_args.h"
#include "relay/queue/queue_admin.h"

namespace relay {

int cmd_queue_admin(const config::Config& cfg, AdminAction action, const CliArgs& args, std::istream& in,
                    std::ostream& out, std::ostream& err);

}  // namespace relay
