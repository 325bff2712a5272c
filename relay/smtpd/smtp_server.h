// smtp_server.h - the listeners and the set of live inbound sessions.
//
// Accepts connections, refuses clients outside `allow` with 554 5.7.1 (no
// open relay, ever) and clients over the connection limits with 421 4.7.0,
// and owns the sessions. Sessions end through session_done(); they are freed
// from a later loop turn, never inside their own callbacks.
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "router/base/event_handles.h"
#include "router/base/unique_fd.h"
#include "relay/queue/queue_store.h"
#include "relay/core/smtp_runtime.h"
#include "relay/message/dkim_key_cache.h"

namespace relay {

class SmtpServerSession;

class SmtpServer {
 public:
  // `dns` looks up DKIM keys for relay_policy.require_dkim (through a cache kept across reloads).
  SmtpServer(event_base* base, QueueStore& store, router::DnsService& dns, std::shared_ptr<const Runtime> rt);
  ~SmtpServer();

  // Binds every `listen` address; false with *error when one cannot be bound.
  bool listen(std::string* error);
  // New sessions use `rt` from now on.
  void set_runtime(std::shared_ptr<const Runtime> rt) { rt_ = std::move(rt); }
  // Stops accepting; live sessions go on.
  void stop_listening();
  // Says 421 to every live session and closes it.
  void close_all(const char* why);
  size_t session_count() const { return sessions_.size(); }

  // Called whenever a message has been committed (the scheduler hooks here).
  std::function<void(const std::string& id)> on_queued;
  // Called when the last session has gone (for a draining shutdown).
  std::function<void()> on_idle;

  event_base* base() const { return base_; }
  QueueStore& store() { return store_; }
  DkimKeyCache& dkim_keys() { return dkim_keys_; }
  void session_done(SmtpServerSession* s);
  void message_queued(const std::string& id) {
    if (on_queued) on_queued(id);
  }

 private:
  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* self);
  // accept() failed (out of descriptors: EMFILE/ENFILE): stop accepting for a second instead
  // of spinning on a listener that stays readable.
  // The spare descriptors are released then, so deliveries, the log and the queue can still
  // open what they need while new clients wait in the listen backlog.
  static void on_accept_error(evconnlistener*, void* self);
  // Takes the spares back first; while it cannot, accepting stays paused another second.
  static void resume_accepting(evutil_socket_t, short, void* self);
  bool take_spare_fds();
  void accept(evutil_socket_t fd, sockaddr* sa);
  void refuse(evutil_socket_t fd, const std::string& reply);
  static void reap(evutil_socket_t, short, void* self);

  event_base* base_;
  QueueStore& store_;
  std::shared_ptr<const Runtime> rt_;
  DkimKeyCache dkim_keys_;  // before the sessions: their checks hold lookups through it
  std::vector<base::ListenerPtr> listeners_;
  std::unordered_map<SmtpServerSession*, std::unique_ptr<SmtpServerSession>> sessions_;
  std::vector<std::unique_ptr<SmtpServerSession>> dead_;
  std::map<std::string, uint32_t> per_ip_;
  base::EventPtr reaper_;
  base::EventPtr resume_;  // re-enables the listeners after an accept() failure
  // Descriptors held back from clients: a flood of connections can use up every other one,
  // never these (they are /dev/null, released when accept() runs out).
  static constexpr int kSpareFds = 8;
  std::vector<base::UniqueFd> spare_fds_;
  uint64_t serial_ = 0;
};

}  // namespace relay
