// queue_control.cc - PID file and SIGUSR1 to the running relay (see queue_control.h).
#include "relay/queue/queue_control.h"

#include <signal.h>

#include <fstream>
#include <string>

namespace relay {

std::string pid_file(const std::string& queue_dir) { return queue_dir + "/smarthost.pid"; }

bool poke_relay(const std::string& queue_dir) {
  std::ifstream f(pid_file(queue_dir));
  long pid = 0;
  if (!(f >> pid) || pid <= 1) return false;
  // A PID file left by a killed relay may name an unrelated process now:
  // SIGUSR1 would end it. Only signal a process that is smarthost.
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (!(comm >> name) || name != "smarthost") return false;
  return kill(static_cast<pid_t>(pid), SIGUSR1) == 0;
}

}  // namespace relay
