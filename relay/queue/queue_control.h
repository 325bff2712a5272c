// queue_control.h - how the queue tools reach a running relay.
//
// The relay writes its PID into QUEUE/smarthost.pid; after `queue flush` or
// `queue bounce` the tools send it SIGUSR1 so it rescans the queue at once
// instead of at its next periodic rescan. No relay running: nothing to do.
#pragma once

#include <string>

namespace relay {

std::string pid_file(const std::string& queue_dir);
// True when a live relay was signalled.
bool poke_relay(const std::string& queue_dir);

}  // namespace relay
