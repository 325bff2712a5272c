// daemon.h - `smarthost run`: the relay in the foreground.
//
// Loads the config (refusing to start on any error), opens the queue and the
// listeners, and runs the event loop until SIGTERM/SIGINT, which stops
// accepting, lets live sessions finish (bounded), and exits 0. SIGHUP reloads
// the config and opens log.file again (log rotation); a bad new config is
// logged and the old one stays in force.
#pragma once

#include <string>

namespace relay {

int run_daemon(const std::string& config_path);

}  // namespace relay
