// control_socket.h - how the queue tools talk to a running relay: a unix socket in the queue folder.
//
// The relay serves QUEUE/smarthost.ctl on its event loop (an evconnlistener; each connection a
// bufferevent, so nothing blocks the loop). The folder is 0700 and the socket 0600, both the
// relay's user's; on top of that a peer must be root or that user (SO_PEERCRED). One request per
// connection: one line of JSON, {"action": "status" | "flush" | "wake" | "admin", ...}; the
// answer is one JSON object on one line, then the relay closes. A handler may answer later (after
// a queue commit); when the client has gone by then the answer is dropped.
//
// Why a socket and not a signal: the tools need answers (what a message's delivery was doing when
// it was deleted, live facts for `status`), and every change to a message the relay is working on
// must be made by the relay itself (its in-memory copy is authoritative, queue_store.h), so the
// tools ask instead of writing LMDB under it. SIGUSR1 (queue_control.h) still makes it rescan.
//
// How it fails: the server answers {"error": "..."} to a request that is not one JSON object, a
// peer of another user, or a line over kControlMaxRequest; a connection idle for 10 s is closed.
// control_call() (the tools' side, blocking, bounded by its timeout) says NoRelay when nothing
// listens (no socket file, or connection refused: no relay, or one that has not started serving
// yet) and Failed with the reason for anything else.
#pragma once

#include <event2/event.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "router/base/event_handles.h"

namespace relay {

constexpr size_t kControlMaxRequest = 16u << 20;  // `queue delete -` may carry many ids

std::string control_socket_path(const std::string& queue_dir);

struct ControlPeer {
  uid_t uid = 0;
  pid_t pid = 0;
};

using ControlReply = std::function<void(const nlohmann::json& answer)>;
using ControlHandler = std::function<void(const nlohmann::json& request, const ControlPeer& peer, ControlReply reply)>;

class ControlServer {
 public:
  // Replaces a stale socket file (the caller holds the queue lock: no other relay serves it) and
  // listens. nullptr and *error when it cannot (the path is too long for a unix socket, bind fails).
  static std::unique_ptr<ControlServer> listen(event_base* base, const std::string& queue_dir,
                                               ControlHandler handler, std::string* error);
  // Stops listening, removes the socket file; answers still to come are dropped.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  class Connection;  // one client; shared with the replies that may outlive it

 private:
  ControlServer(event_base* base, std::string path, ControlHandler handler)
      : base_(base), path_(std::move(path)), handler_(std::move(handler)) {}
  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self);
  void closed(Connection* c);

  event_base* base_;
  std::string path_;
  ControlHandler handler_;
  base::ListenerPtr listener_;
  std::map<Connection*, std::shared_ptr<Connection>> conns_;
};

// True when a relay accepts connections on queue_dir's control socket (nothing is sent).
bool control_listening(const std::string& queue_dir);

enum class ControlCall { Ok, NoRelay, Failed };

// Sends `request` to the relay serving queue_dir and waits (at most timeout_ms) for its answer.
// An answer with an "error" key is Failed, with that text in *error.
ControlCall control_call(const std::string& queue_dir, const nlohmann::json& request, nlohmann::json* answer,
                         std::string* error, int timeout_ms = 60000);

}  // namespace relay
