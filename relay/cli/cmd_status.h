// cmd_status.h - `smarthost status [--json]`: is the relay running, and how is it doing.
//
// Live facts come from the running relay over its control socket (control_socket.h: version,
// pid, start time and uptime, config file and when it was last loaded, listeners, sessions in and
// out, messages being delivered, the last attempt and the last delivery per route with its TLS
// version). Queue facts are read from LMDB by this tool, never by the relay's loop (a deep queue
// must not stall it): messages, held ones, recipients by state, the oldest deferred message (not held).
// Exit 0 when a relay runs, 1 when none does (the queue is still described) or the queue cannot
// be read.
#pragma once

#include <iosfwd>

#include "config/config.h"
#include "relay/cli/cli_args.h"

namespace relay {

int cmd_status(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err);

}  // namespace relay
