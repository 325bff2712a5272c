// cmd_queue_admin.cc - the admin's queue actions, through the relay or under the lock (see the header).
#include "relay/cli/cmd_queue_admin.h"

#include <unistd.h>

#include <ctime>
#include <istream>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "relay/core/log.h"
#include "relay/notify/dsn_builder.h"
#include "relay/queue/control_socket.h"
#include "relay/queue/local_mail.h"
#include "relay/queue/queue_control.h"
#include "relay/queue/queue_store.h"
#include "router/route_table.h"

namespace relay {

namespace {

// The IDs the command names, in order, each once.
std::vector<std::string> wanted_ids(QueueStore& store, AdminAction action, const CliArgs& args, std::istream& in) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  auto add = [&](const std::string& id) {
    if (!id.empty() && seen.insert(id).second) ids.push_back(id);
  };
  for (size_t i = 1; i < args.positional.size(); ++i) {
    const std::string& a = args.positional[i];
    if (a == "-") {
      for (std::string word; in >> word;) add(word);
    } else if (a == "ALL") {
      for (const Envelope& e : store.list()) {
        if (action == AdminAction::Release && !e.held) continue;
        if (action == AdminAction::Hold && e.held) continue;
        add(e.id);
      }
    } else {
      add(a);
    }
  }
  return ids;
}

void say_done(AdminAction action, const std::string& id, size_t bounced, std::ostream& out) {
  if (action == AdminAction::Bounce) {
    out << "bounced " << bounced << " recipient(s) of " << id;
  } else {
    out << admin_action_done(action) << " " << id;
  }
}

// Through the running relay: one request for every id.
int through_relay(const config::Config& cfg, AdminAction action, const std::vector<std::string>& ids,
                  std::ostream& out, std::ostream& err) {
  nlohmann::json answer;
  std::string error;
  nlohmann::json req = {{"action", "admin"}, {"op", admin_action_name(action)}, {"ids", ids}};
  ControlCall c = control_call(cfg.queue.path, req, &answer, &error);
  if (c == ControlCall::NoRelay) error = "the relay stopped before it took the request; nothing was changed";
  if (c != ControlCall::Ok) {
    err << "smarthost queue " << admin_action_name(action) << ": " << error << "\n";
    return 1;
  }
  int rc = 0;
  for (const auto& r : answer.value("results", nlohmann::json::array())) {
    std::string id = r.value("id", "");
    if (!r.value("found", false)) {
      err << "smarthost queue " << admin_action_name(action) << ": no message " << id << "\n";
      rc = 1;
      continue;
    }
    if (r.value("status", "") != "ok") {
      err << "smarthost queue " << admin_action_name(action) << ": " << id << ": " << r.value("status", "") << "\n";
      rc = 1;
      continue;
    }
    say_done(action, id, r.value("bounced", 0), out);
    if (!r.value("stopped", "").empty()) out << " (its delivery to " << r.value("stopped", "") << " was stopped)";
    if (!r.value("late", "").empty()) {
      out << " (" << r.value("late", "") << " already had the whole message when asked: it may still deliver it"
          << (action == AdminAction::Bounce ? "; recipients it refuses bounce then" : "") << ")";
    }
    out << "\n";
  }
  return rc;
}

// Every unfinished recipient fails now, with a DSN to the sender; the message leaves the queue.
StoreStatus bounce_here(const config::Config& cfg, QueueStore& store, Envelope& e, size_t* bounced,
                        std::ostream& out) {
  std::string body;
  if (store.get_body(e.id, &body) != StoreStatus::Ok) return StoreStatus::NotFound;
  std::vector<size_t> failed = bounce_by_admin(&e);
  *bounced = failed.size();
  DsnRequest req;
  req.reporting_mta = cfg.hostname;
  req.config_path = cfg.source;
  req.env = &e;
  req.failed = failed;
  req.original = &body;
  req.now = time(nullptr);
  std::vector<size_t> reported;
  if (auto dsn = build_dsn(req, &reported)) {
    router::RouteTable routes(cfg);
    Injected in = inject_local_mail(store, routes, LocalMail{Origin::Dsn, "", {e.sender}, std::move(*dsn)});
    if (in.no_route.empty() && in.status != StoreStatus::Ok) return in.status;
    // No route back to the sender: the DSN is dropped, as the relay does (event=dsn-dropped).
    if (in.ok()) out << "DSN " << in.id << " to <" << e.sender << ">\n";
  }
  return store.remove(e.id);
}

StoreStatus act_here(const config::Config& cfg, QueueStore& store, AdminAction action, const std::string& id,
                     size_t* bounced, std::ostream& out) {
  if (action == AdminAction::Delete) return store.remove(id);
  Envelope e;
  StoreStatus st = store.get_envelope(id, &e);
  if (st != StoreStatus::Ok) return st;
  switch (action) {
    case AdminAction::Hold: e.held = true; break;
    case AdminAction::Release: release_hold(&e, time(nullptr)); break;
    case AdminAction::Bounce: return bounce_here(cfg, store, e, bounced, out);
    case AdminAction::Delete: break;
  }
  return store.update_envelope(e);
}

// No relay runs: the tool changes LMDB itself, holding the queue lock (no relay starts meanwhile).
int here(const config::Config& cfg, QueueStore& store, AdminAction action, const std::vector<std::string>& ids,
         std::ostream& out, std::ostream& err) {
  std::string error;
  bool logging = !cfg.log.file.empty() &&
                 log_open(cfg.log.format == config::LogFormat::Json ? LogStyle::Json : LogStyle::Kv, cfg.log.file, &error);
  int rc = 0;
  for (const auto& id : ids) {
    size_t bounced = 0;
    StoreStatus st = act_here(cfg, store, action, id, &bounced, out);
    if (logging) {
      log_event("admin", {{"action", admin_action_name(action)}, {"id", id}, {"by", "cli"},
                          {"uid", std::to_string(getuid())}, {"pid", std::to_string(getpid())},
                          {"result", st == StoreStatus::Ok ? admin_action_done(action) : store_status_name(st)},
                          {"relay", "not running"}});
    }
    if (st != StoreStatus::Ok) {
      err << "smarthost queue " << admin_action_name(action) << ": "
          << (st == StoreStatus::NotFound ? "no message " + id : id + ": " + store_status_name(st)) << "\n";
      rc = 1;
      continue;
    }
    say_done(action, id, bounced, out);
    out << "\n";
  }
  return rc;
}

}  // namespace

int cmd_queue_admin(const config::Config& cfg, AdminAction action, const CliArgs& args, std::istream& in,
                    std::ostream& out, std::ostream& err) {
  const char* name = admin_action_name(action);
  if (args.positional.size() < 2) {
    err << "smarthost queue " << name << ": needs queue ids, ALL, or - (ids on standard input)\n";
    return 2;
  }
  std::string error;
  auto store = QueueStore::open(cfg.queue.path, cfg.queue.map_size_mb, &error);
  if (!store) {
    err << "smarthost queue " << name << ": " << error << "\n";
    return 1;
  }
  std::vector<std::string> ids = wanted_ids(*store, action, args, in);
  if (ids.empty()) {
    out << "no message to " << name << "\n";
    return 0;
  }
  std::unique_ptr<QueueLock> lock;
  switch (QueueLock::owner(cfg.queue.path, &lock, &error)) {
    case QueueOwner::Relay: return through_relay(cfg, action, ids, out, err);
    case QueueOwner::Locked: return here(cfg, *store, action, ids, out, err);
    case QueueOwner::Busy: break;
  }
  err << "smarthost queue " << name << ": " << error << "\n";
  return 1;
}

}  // namespace relay
