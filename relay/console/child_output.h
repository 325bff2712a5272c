// child_output.h - run a program and collect its standard output without blocking the loop.
//
// The console's "Test TLS connection" runs the real tester (`smarthost test-route --json`) this
// way: the same code and the same answer as on the command line, its own event loop and
// resolver in its own process, and the relay's loop only reads a pipe. Standard error is
// discarded. A child that outlives `timeout_s` is killed (by its pid); the child is always
// reaped. `done` runs once on the loop with the exit status (-1: killed or could not start)
// and the output; never before start() returns.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace relay {

using ChildDone = std::function<void(int exit_code, const std::string& out)>;

void run_child(event_base* base, const std::vector<std::string>& argv, int timeout_s, ChildDone done);

}  // namespace relay
