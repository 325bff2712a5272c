// cmd_queue.h - `smarthost queue list|show|delete|bounce|flush`: the queue by hand.
//
// Works on a running or a stopped relay: LMDB lets several processes share
// one queue. Exit 0, or 1 on an unknown id or a queue that cannot be opened.
#pragma once

#include <iosfwd>

#include "config/config.h"
#include "relay/cli/cli_args.h"

namespace relay {

int cmd_queue(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err);

}  // namespace relay
