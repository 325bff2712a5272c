// cmd_queue.cc - queue inspection and maintenance commands (see cmd_queue.h).
#include "relay/cli/cmd_queue.h"

#include <ctime>
#include <istream>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "router/base/utc_time.h"
#include "router/base/utf8_text.h"
#include "router/route_table.h"

#include "relay/cli/cmd_queue_admin.h"
#include "relay/core/json_dump.h"
#include "relay/queue/control_socket.h"
#include "relay/queue/queue_backup.h"
#include "relay/queue/queue_store.h"

namespace relay {

namespace {

// SPEC section 4: {"messages": [{id, sender, size, arrival, client, held, active, recipients: [...],
// smtputf8, requiretls}]}.
void list_json(const std::vector<Envelope>& all, const std::set<std::string>& active, std::ostream& out) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const Envelope& e : all) {
    nlohmann::ordered_json rcpts = nlohmann::ordered_json::array();
    for (const Recipient& r : e.recipients) {
      rcpts.push_back({{"address", r.address}, {"route", r.route}, {"state", rcpt_state_name(r.state)},
                       {"attempts", r.attempts}, {"next_attempt", base::rfc3339(r.next_attempt)},
                       {"last_error", r.last_error}, {"dsn_status", r.dsn_status},
                       {"failure", router::failure_kind_name(r.failure)}, {"relay", r.relay},
                       {"tls_version", r.tls.version}, {"tls_cipher", r.tls.cipher}, {"tls_verdict", r.tls.verdict}});
    }
    messages.push_back({{"id", e.id}, {"sender", e.sender}, {"size", e.size},
                        {"arrival", base::rfc3339(e.arrival_us / 1000000)}, {"client", e.client_ip},
                        {"held", e.held}, {"active", active.count(e.id) != 0}, {"recipients", std::move(rcpts)},
                        {"smtputf8", e.smtputf8}, {"requiretls", e.require_tls}});
  }
  out << json_dump({{"messages", std::move(messages)}}) << "\n";
}

// Addresses and peers' words as readable UTF-8, never raw control characters (base::printable_utf8).
std::string safe(const std::string& s) { return base::printable_utf8(s); }

// postqueue's marks: ID* is being delivered, ID! is held.
void list_text(const std::vector<Envelope>& all, const std::set<std::string>& active, std::ostream& out) {
  for (const auto& e : all) {
    out << e.id << (active.count(e.id) ? "*" : e.held ? "!" : " ") << " " << e.size << "  "
        << base::rfc3339(e.arrival_us / 1000000) << "  <" << safe(e.sender) << ">" << (e.smtputf8 ? "  SMTPUTF8" : "")
        << (e.require_tls ? "  REQUIRETLS" : "") << "\n";
    for (const auto& r : e.recipients) {
      out << "    <" << safe(r.address) << ">  route=" << r.route << "  " << rcpt_state_name(r.state)
          << "  attempts=" << r.attempts;
      if (!r.last_error.empty()) out << "  (" << safe(r.last_error) << ")";
      out << "\n";
    }
  }
  out << (all.empty() ? "Queue is empty\n"
                      : "-- " + std::to_string(all.size()) + " message(s) (* being delivered, ! held)\n");
}

void show(const Envelope& e, const std::string& body, std::ostream& out) {
  out << "id: " << e.id << "\nsender: <" << safe(e.sender) << ">\narrival: " << base::rfc3339(e.arrival_us / 1000000)
      << "\nsize: " << e.size << "\nclient: " << e.client_ip << " (helo " << safe(e.helo) << ")\n"
      << "tls in: " << (e.tls_in.version.empty() ? "none" : e.tls_in.version + " " + e.tls_in.cipher) << "\n"
      << "smtputf8: " << (e.smtputf8 ? "yes" : "no") << "\nbody: " << (e.eight_bit ? "8BITMIME" : "7BIT") << "\n";
  if (e.require_tls) out << "requiretls: yes (REQUIRETLS: only over verified TLS to a hop that offers it)\n";
  if (!e.envid.empty()) out << "envid: " << safe(e.envid) << "\n";
  if (e.held) out << "held: yes (smarthost queue release " << e.id << ")\n";
  for (const auto& r : e.recipients) {
    out << "recipient: <" << safe(r.address) << "> route=" << r.route << " state=" << rcpt_state_name(r.state)
        << " attempts=" << r.attempts << " next_attempt=" << base::rfc3339(r.next_attempt);
    if (!r.last_error.empty()) out << " last_error=\"" << safe(r.last_error) << "\"";
    if (!r.tls.version.empty()) out << " tls=" << r.tls.version << " verdict=" << r.tls.verdict;
    if (r.failure != router::FailureKind::None) out << " failure=" << router::failure_kind_name(r.failure);
    if (!r.relay.empty()) out << " relay=" << r.relay;
    out << "\n";
  }
  out << "\n" << body;
}

// The messages a running relay is delivering now; empty when none runs.
std::set<std::string> active_ids(const config::Config& cfg) {
  nlohmann::json answer;
  std::string error;
  std::set<std::string> ids;
  if (control_call(cfg.queue.path, {{"action", "status"}}, &answer, &error, 5000) != ControlCall::Ok) return ids;
  for (const auto& id : answer.value("active", nlohmann::json::array())) {
    if (id.is_string()) ids.insert(id.get<std::string>());
  }
  return ids;
}

// postqueue -f: the relay tries every message not held now. Without a relay nothing can be tried.
int flush(const config::Config& cfg, std::ostream& out, std::ostream& err) {
  nlohmann::json answer;
  std::string error;
  switch (control_call(cfg.queue.path, {{"action", "flush"}}, &answer, &error)) {
    case ControlCall::Ok:
      out << "flushed " << answer.value("messages", 0) << " message(s): the relay is delivering them now\n";
      return 0;
    case ControlCall::NoRelay:
      err << "smarthost queue flush: no relay is running on " << cfg.queue.path
          << ": nothing was delivered (messages are tried when `smarthost run` starts)\n";
      return 1;
    case ControlCall::Failed: break;
  }
  err << "smarthost queue flush: " << error << "\n";
  return 1;
}

// backup FILE|- and restore FILE|- (queue_backup.h). With "-" for backup the data is standard
// output, so the report goes to standard error.
int backup_or_restore(const config::Config& cfg, const std::string& what, const CliArgs& args, std::ostream& out,
                      std::ostream& err) {
  if (args.positional.size() != 2) {
    err << "smarthost queue " << what << ": needs one FILE (or - for standard " << (what == "backup" ? "output" : "input")
        << ")\n";
    return 2;
  }
  const std::string& file = args.positional[1];
  QueueFileInfo info;
  std::string error;
  if (what == "backup") {
    if (!backup_queue(cfg.queue.path, cfg.queue.map_size_mb, file, &info, &error)) {
      err << "smarthost queue backup: " << error << "\n";
      return 1;
    }
    if (file == "-") {
      err << "smarthost queue backup: copied " << cfg.queue.path << " to standard output\n";
    } else {
      out << "backed up " << info.messages << " message(s) from " << cfg.queue.path << " to " << file << " ("
          << info.bytes << " bytes)\n";
    }
    return 0;
  }
  if (!restore_queue(cfg.queue.path, cfg.queue.map_size_mb, file, &info, &error)) {
    err << "smarthost queue restore: " << error << "\n";
    return 1;
  }
  out << "restored " << info.messages << " message(s) from " << (file == "-" ? "standard input" : file) << " into "
      << cfg.queue.path << ": they are delivered when the relay starts\n";
  return 0;
}

}  // namespace

int cmd_queue(const config::Config& cfg, const CliArgs& args, std::istream& in, std::ostream& out, std::ostream& err) {
  if (args.positional.empty()) {
    err << "smarthost queue: say list, show ID, flush, delete|bounce|hold|release ID…|ALL|-, or backup|restore FILE\n";
    return 2;
  }
  const std::string& what = args.positional[0];
  AdminAction action;
  if (parse_admin_action(what, &action)) return cmd_queue_admin(cfg, action, args, in, out, err);
  if (what == "flush") return flush(cfg, out, err);
  if (what == "backup" || what == "restore") return backup_or_restore(cfg, what, args, out, err);
  std::string error;
  auto store = QueueStore::open(cfg.queue.path, cfg.queue.map_size_mb, &error);
  if (!store) {
    err << "smarthost queue: " << error << "\n";
    return 1;
  }
  std::string id = args.positional.size() > 1 ? args.positional[1] : "";
  if (what == "list") {
    auto all = store->list();
    auto active = active_ids(cfg);
    args.flag("--json") ? list_json(all, active, out) : list_text(all, active, out);
    return 0;
  }
  if (what == "show") {
    if (id.empty()) {
      err << "smarthost queue show: needs a queue id\n";
      return 2;
    }
    Envelope e;
    std::string body;
    if (store->get_envelope(id, &e) != StoreStatus::Ok) {
      err << "smarthost queue show: no message " << id << "\n";
      return 1;
    }
    store->get_body(id, &body);
    show(e, body, out);
    return 0;
  }
  err << "smarthost queue: unknown action '" << what << "' (list, show, flush, delete, bounce, hold, release, backup, restore)\n";
  return 2;
}

}  // namespace relay
