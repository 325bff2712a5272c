// cmd_queue.h - `smarthost queue list|show|flush|delete|bounce|hold|release|backup|restore`: the queue by hand.
//
// list and show read LMDB (several processes may share one queue); list asks a running relay
// which messages it is delivering now (marked `*`, "active") and shows held ones (`!`, "held").
// flush asks the running relay to try every message not held now, and fails (exit 1) when no
// relay runs. backup and restore are queue_backup.h. The changing actions are cmd_queue_admin.h.
// Exit 0, 1 on an unknown id, a queue that cannot be opened, no relay to flush, or a backup or
// restore that failed; 2 on a usage error.
#pragma once

#include <iosfwd>

#include "config/config.h"
#include "relay/cli/cli_args.h"

namespace relay {

int cmd_queue(const config::Config& cfg, const CliArgs& args, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace relay
