// control_requests.cc - the relay's side of the queue tools' requests (see control_requests.h).
#include "relay/control_requests.h"

#include <unistd.h>

#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "relay/core/log.h"
#include "relay/core/observer.h"
#include "relay/delivery/delivery_scheduler.h"
#include "relay/smtpd/smtp_server.h"
#include "router/base/utc_time.h"

namespace relay {

namespace {

nlohmann::json attempt_json(const RouteAttempt& a) {
  if (a.time == 0) return nullptr;
  return {{"time", base::rfc3339(a.time)}, {"id", a.id},         {"recipient", a.recipient},
          {"status", a.status},            {"dsn", a.dsn},       {"relay", a.relay},
          {"tls_version", a.tls_version},  {"reason", a.reason}};
}

// One admin request: answers once every message's change is committed.
struct Batch {
  size_t waiting = 0;
  nlohmann::json results = nlohmann::json::array();
  ControlReply reply;
};

}  // namespace

void ControlRequests::handle(const nlohmann::json& req, const ControlPeer& peer, ControlReply reply) {
  std::string action = req.value("action", "");
  if (action == "admin") return admin(req, peer, std::move(reply));
  if (action == "flush") {
    size_t n = scheduler_.flush();
    log_event("admin", {{"action", "flush"}, {"messages", std::to_string(n)}, {"by", "cli"},
                        {"uid", std::to_string(peer.uid)}, {"pid", std::to_string(peer.pid)}});
    return reply({{"messages", n}});
  }
  if (action == "wake") {
    scheduler_.rescan();
    return reply({{"ok", true}});
  }
  if (action == "status") return reply(status());
  reply({{"error", "unknown action '" + action + "'"}});
}

void ControlRequests::admin(const nlohmann::json& req, const ControlPeer& peer, ControlReply reply) {
  AdminAction action;
  const auto ids = req.find("ids");
  if (!parse_admin_action(req.value("op", ""), &action) || ids == req.end() || !ids->is_array()) {
    return reply({{"error", "admin: needs op (delete, bounce, hold, release) and ids"}});
  }
  auto batch = std::make_shared<Batch>();
  batch->reply = std::move(reply);
  batch->waiting = ids->size() + 1;  // +1: not answered before every id was handed over
  auto one_done = [batch] {
    if (--batch->waiting == 0) batch->reply({{"results", batch->results}});
  };
  for (const auto& j : *ids) {
    std::string id = j.is_string() ? j.get<std::string>() : "";
    scheduler_.admin(action, id, [batch, one_done, action, id, peer](const AdminResult& r) {
      bool ok = r.found && r.status == StoreStatus::Ok;
      std::string result = ok ? admin_action_done(action) : r.found ? store_status_name(r.status) : "no such message";
      // stopped=: whose delivery of it was cut off; late=: who already had all of it.
      if (r.stopped.empty() && r.late.empty()) {
        log_event("admin", {{"action", admin_action_name(action)}, {"id", id}, {"by", "cli"},
                            {"uid", std::to_string(peer.uid)}, {"pid", std::to_string(peer.pid)}, {"result", result}});
      } else {
        log_event("admin", {{"action", admin_action_name(action)}, {"id", id}, {"by", "cli"},
                            {"uid", std::to_string(peer.uid)}, {"pid", std::to_string(peer.pid)}, {"result", result},
                            {"stopped", r.stopped}, {"late", r.late}});
      }
      HistoryEvent e;
      e.time_us = base::now_us();
      e.kind = HistoryKind::Admin;
      e.id = id;
      e.status = admin_action_name(action);
      e.reason = result + " (by uid " + std::to_string(peer.uid) + ")";
      observer().event(e);
      batch->results.push_back({{"id", id}, {"found", r.found}, {"status", store_status_name(r.status)},
                                {"stopped", r.stopped}, {"late", r.late}, {"bounced", r.bounced}});
      one_done();
    });
  }
  one_done();
}

nlohmann::json ControlRequests::status() const {
  int64_t now = static_cast<int64_t>(time(nullptr));
  nlohmann::json routes = nlohmann::json::object();
  const auto& act = scheduler_.route_activity();
  for (const auto& name : facts_.routes) {
    auto it = act.find(name);
    RouteActivity a = it == act.end() ? RouteActivity{} : it->second;
    routes[name] = {{"last_delivery", attempt_json(a.last)}, {"last_sent", attempt_json(a.last_sent)}};
  }
  return {{"running", true},
          {"pid", static_cast<int64_t>(getpid())},
          {"version", SMARTHOST_VERSION},
          {"started", base::rfc3339(facts_.started)},
          {"uptime_seconds", now - facts_.started},
          {"config", facts_.config_path},
          {"config_loaded", base::rfc3339(facts_.config_loaded)},
          {"listeners", facts_.listeners},
          {"sessions", {{"inbound", server_.session_count()}, {"outbound", scheduler_.active_sessions()}}},
          {"active", scheduler_.active()},
          {"routes", std::move(routes)}};
}

}  // namespace relay
