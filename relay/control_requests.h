// control_requests.h - what the running relay answers on its control socket
// (relay/queue/control_socket.h): the queue tools' requests, served on the event loop.
//
//   {"action": "admin", "op": "delete"|"bounce"|"hold"|"release", "ids": [...]}
//       each message through DeliveryScheduler::admin (a delivery in progress is stopped first);
//       answered once every change is committed: {"results": [{id, found, status, stopped, late,
//       bounced}]}; each action is logged: event=admin action=delete id=… by=cli uid=… pid=…
//   {"action": "flush"}   every message not held is due now: {"messages": N}
//   {"action": "wake"}    rescan the queue (new mail a tool queued, `tlsrpt send`): {"ok": true}
//   {"action": "status"}  live facts (version, uptime, config and its load time, listeners,
//                         sessions, messages being delivered, last attempt per route)
// How it fails: an unknown action or malformed field is answered {"error": "..."}; nothing blocks
// the loop (the queue facts `status` shows from LMDB are read by the tool, not here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "relay/queue/control_socket.h"

namespace relay {

class DeliveryScheduler;
class SmtpServer;

// What the daemon knows about itself, kept current by it (a reload updates the load time, routes).
struct RelayFacts {
  std::string config_path;
  int64_t started = 0;        // unix seconds
  int64_t config_loaded = 0;  // the last successful load: start-up or reload
  std::vector<std::string> listeners;  // "address:port", bound at start-up
  std::vector<std::string> routes;     // names, in order, of the configuration in force
};

class ControlRequests {
 public:
  ControlRequests(DeliveryScheduler& scheduler, SmtpServer& server, const RelayFacts& facts)
      : scheduler_(scheduler), server_(server), facts_(facts) {}
  void handle(const nlohmann::json& request, const ControlPeer& peer, ControlReply reply);

 private:
  void admin(const nlohmann::json& request, const ControlPeer& peer, ControlReply reply);
  nlohmann::json status() const;

  DeliveryScheduler& scheduler_;
  SmtpServer& server_;
  const RelayFacts& facts_;
};

}  // namespace relay
