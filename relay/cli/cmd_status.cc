// cmd_status.cc - `smarthost status` (see cmd_status.h).
#include "relay/cli/cmd_status.h"

#include <ctime>
#include <map>
#include <ostream>

#include <nlohmann/json.hpp>

#include "relay/core/json_dump.h"
#include "relay/queue/control_socket.h"
#include "relay/queue/queue_store.h"
#include "router/base/utc_time.h"

namespace relay {

namespace {

// Messages, held ones, recipients by state and the oldest message waiting on a deferral.
nlohmann::ordered_json queue_facts(const std::vector<Envelope>& all, int64_t now) {
  std::map<std::string, size_t> by_state = {{"pending", 0}, {"deferred", 0}, {"sent", 0}, {"bounced", 0}};
  size_t held = 0;
  const Envelope* oldest = nullptr;
  const Recipient* why = nullptr;
  for (const Envelope& e : all) {
    if (e.held) ++held;
    for (const Recipient& r : e.recipients) {
      ++by_state[rcpt_state_name(r.state)];
      // Held mail waits for the admin, not for a next hop: it is counted as held instead.
      if (!e.held && r.state == RcptState::Deferred && (!oldest || e.arrival_us < oldest->arrival_us)) {
        oldest = &e;
        why = &r;
      }
    }
  }
  nlohmann::ordered_json rcpts;
  for (const char* s : {"pending", "deferred", "sent", "bounced"}) rcpts[s] = by_state[s];
  nlohmann::ordered_json old = nullptr;
  if (oldest) {
    int64_t arrival = oldest->arrival_us / 1000000;
    old = {{"id", oldest->id},          {"arrival", base::rfc3339(arrival)},
           {"age_seconds", now - arrival}, {"recipient", why->address},
           {"route", why->route},        {"attempts", why->attempts},
           {"next_attempt", base::rfc3339(why->next_attempt)}, {"last_error", why->last_error}};
  }
  return {{"messages", all.size()}, {"held", held}, {"recipients", rcpts}, {"oldest_deferred", old}};
}

std::string age_words(int64_t s) {
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h" + std::to_string(s % 3600 / 60) + "m";
  return std::to_string(s / 86400) + "d" + std::to_string(s % 86400 / 3600) + "h";
}

void attempt_text(const char* label, const nlohmann::json& a, std::ostream& out) {
  if (a.is_null()) return;
  std::string tls = a.value("tls_version", "");
  out << "    " << label << a.value("time", "") << " " << a.value("status", "") << " " << a.value("dsn", "")
      << " <" << a.value("recipient", "") << "> id " << a.value("id", "")
      << (a.value("relay", "").empty() ? "" : " via " + a.value("relay", "")) << " "
      << (tls.empty() ? "no TLS" : tls) << "\n";
}

void relay_text(const nlohmann::json& r, std::ostream& out) {
  out << "relay: running, pid " << r.value("pid", 0) << ", version " << r.value("version", "") << "\n"
      << "started: " << r.value("started", "") << " (up " << age_words(r.value("uptime_seconds", 0)) << ")\n"
      << "config: " << r.value("config", "") << ", loaded " << r.value("config_loaded", "") << "\n"
      << "listening:";
  for (const auto& l : r.value("listeners", nlohmann::json::array())) out << " " << l.get<std::string>();
  out << "\nsessions: " << r["sessions"].value("inbound", 0) << " in, " << r["sessions"].value("outbound", 0)
      << " out\n";
  out << "routes:\n";
  const nlohmann::json routes = r.value("routes", nlohmann::json::object());  // items() must not outlive it
  for (const auto& kv : routes.items()) {
    out << "  " << kv.key() << (kv.value()["last_delivery"].is_null() ? ": no attempt since start" : "") << "\n";
    attempt_text("last attempt:  ", kv.value()["last_delivery"], out);
    attempt_text("last delivery: ", kv.value()["last_sent"], out);
  }
}

void queue_text(const nlohmann::ordered_json& q, size_t active, std::ostream& out) {
  const auto& r = q["recipients"];
  out << "queue: " << q["messages"].get<size_t>() << " message(s), " << active << " being delivered, "
      << q["held"].get<size_t>() << " held; recipients " << r["pending"].get<size_t>() << " pending, "
      << r["deferred"].get<size_t>() << " deferred\n";
  const auto& o = q["oldest_deferred"];
  if (o.is_null()) return;
  out << "oldest deferred: " << o["id"].get<std::string>() << " since " << o["arrival"].get<std::string>() << " ("
      << age_words(o["age_seconds"].get<int64_t>()) << "), <" << o["recipient"].get<std::string>() << "> "
      << o["attempts"].get<uint32_t>() << " attempt(s), next " << o["next_attempt"].get<std::string>() << ": "
      << o["last_error"].get<std::string>() << "\n";
}

}  // namespace

int cmd_status(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err) {
  std::string error;
  nlohmann::json live;
  ControlCall c = control_call(cfg.queue.path, {{"action", "status"}}, &live, &error, 10000);
  if (c == ControlCall::Failed) err << "smarthost status: " << error << "\n";
  bool running = c == ControlCall::Ok;
  auto store = QueueStore::open(cfg.queue.path, cfg.queue.map_size_mb, &error);
  if (!store) {
    err << "smarthost status: " << error << "\n";
    return 1;
  }
  nlohmann::ordered_json queue = queue_facts(store->list(), static_cast<int64_t>(time(nullptr)));
  size_t active = running ? live.value("active", nlohmann::json::array()).size() : 0;
  queue["active"] = active;
  if (args.flag("--json")) {
    nlohmann::ordered_json relay = running ? nlohmann::ordered_json::parse(live.dump()) : nlohmann::ordered_json{{"running", false}};
    nlohmann::ordered_json routes = running ? relay["routes"] : nlohmann::ordered_json::object();
    if (running) relay.erase("routes");
    out << json_dump({{"version", SMARTHOST_VERSION}, {"queue_path", cfg.queue.path}, {"relay", relay},
                      {"queue", queue}, {"routes", routes}}, 2)
        << "\n";
  } else {
    if (running) {
      relay_text(live, out);
    } else {
      out << "relay: no relay is running on " << cfg.queue.path << "\n";
    }
    queue_text(queue, active, out);
  }
  return running ? 0 : 1;
}

}  // namespace relay
