// cmd_queue.cc - queue inspection and maintenance commands (see cmd_queue.h).
#include "relay/cli/cmd_queue.h"

#include <ctime>
#include <ostream>

#include <nlohmann/json.hpp>

#include "router/base/utc_time.h"
#include "router/route_table.h"

#include "relay/notify/dsn_builder.h"
#include "relay/core/json_dump.h"
#include "relay/queue/local_mail.h"
#include "relay/queue/queue_control.h"
#include "relay/queue/queue_store.h"

namespace relay {

namespace {

// SPEC section 4: {"messages": [{id, sender, size, arrival, client, recipients: [...]}]}.
void list_json(const std::vector<Envelope>& all, std::ostream& out) {
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
                        {"recipients", std::move(rcpts)}});
  }
  out << json_dump({{"messages", std::move(messages)}}) << "\n";
}

void list_text(const std::vector<Envelope>& all, std::ostream& out) {
  for (const auto& e : all) {
    out << e.id << "  " << e.size << "  " << base::rfc3339(e.arrival_us / 1000000) << "  <" << e.sender << ">\n";
    for (const auto& r : e.recipients) {
      out << "    <" << r.address << ">  route=" << r.route << "  " << rcpt_state_name(r.state)
          << "  attempts=" << r.attempts;
      if (!r.last_error.empty()) out << "  (" << r.last_error << ")";
      out << "\n";
    }
  }
  out << (all.empty() ? "Queue is empty\n" : "-- " + std::to_string(all.size()) + " message(s)\n");
}

void show(const Envelope& e, const std::string& body, std::ostream& out) {
  out << "id: " << e.id << "\nsender: <" << e.sender << ">\narrival: " << base::rfc3339(e.arrival_us / 1000000)
      << "\nsize: " << e.size << "\nclient: " << e.client_ip << " (helo " << e.helo << ")\n"
      << "tls in: " << (e.tls_in.version.empty() ? "none" : e.tls_in.version + " " + e.tls_in.cipher) << "\n";
  if (!e.envid.empty()) out << "envid: " << e.envid << "\n";
  for (const auto& r : e.recipients) {
    out << "recipient: <" << r.address << "> route=" << r.route << " state=" << rcpt_state_name(r.state)
        << " attempts=" << r.attempts << " next_attempt=" << base::rfc3339(r.next_attempt);
    if (!r.last_error.empty()) out << " last_error=\"" << r.last_error << "\"";
    if (!r.tls.version.empty()) out << " tls=" << r.tls.version << " verdict=" << r.tls.verdict;
    if (r.failure != router::FailureKind::None) out << " failure=" << router::failure_kind_name(r.failure);
    if (!r.relay.empty()) out << " relay=" << r.relay;
    out << "\n";
  }
  out << "\n" << body;
}

// Every unfinished recipient fails now, with a DSN to the sender.
int bounce(const config::Config& cfg, QueueStore& store, const std::string& id, std::ostream& out,
           std::ostream& err) {
  Envelope e;
  std::string body;
  if (store.get_envelope(id, &e) != StoreStatus::Ok || store.get_body(id, &body) != StoreStatus::Ok) {
    err << "smarthost queue bounce: no message " << id << "\n";
    return 1;
  }
  std::vector<size_t> failed;
  for (size_t i = 0; i < e.recipients.size(); ++i) {
    auto& r = e.recipients[i];
    if (r.state == RcptState::Sent || r.state == RcptState::Bounced) continue;
    r.state = RcptState::Bounced;
    r.dsn_status = "5.0.0";
    r.failure = router::FailureKind::Admin;
    r.last_error = "returned to sender by the mail administrator" +
                   (r.last_error.empty() ? std::string() : " (last error: " + r.last_error + ")");
    r.diagnostic.clear();
    failed.push_back(i);
  }
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
    if (in.no_route.empty() && in.status != StoreStatus::Ok) {
      err << "smarthost queue bounce: cannot queue the DSN\n";
      return 1;
    }
    // No route back to the sender: the DSN is dropped, as the relay does (event=dsn-dropped).
    if (in.ok()) out << "DSN " << in.id << " to <" << e.sender << ">\n";
  }
  // Every recipient is final now: the message leaves the queue.
  if (store.remove(id) != StoreStatus::Ok) {
    err << "smarthost queue bounce: " << id << " vanished\n";
    return 1;
  }
  out << "bounced " << failed.size() << " recipient(s) of " << id << "\n";
  poke_relay(cfg.queue.path);
  return 0;
}

}  // namespace

int cmd_queue(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.empty()) {
    err << "smarthost queue: say list, show ID, delete ID, bounce ID or flush\n";
    return 2;
  }
  std::string error;
  auto store = QueueStore::open(cfg.queue.path, cfg.queue.map_size_mb, &error);
  if (!store) {
    err << "smarthost queue: " << error << "\n";
    return 1;
  }
  const std::string& what = args.positional[0];
  std::string id = args.positional.size() > 1 ? args.positional[1] : "";
  if (what == "list") {
    auto all = store->list();
    args.flag("--json") ? list_json(all, out) : list_text(all, out);
    return 0;
  }
  if ((what == "show" || what == "delete" || what == "bounce") && id.empty()) {
    err << "smarthost queue " << what << ": needs a queue id\n";
    return 2;
  }
  if (what == "show") {
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
  if (what == "delete") {
    if (store->remove(id) != StoreStatus::Ok) {
      err << "smarthost queue delete: no message " << id << "\n";
      return 1;
    }
    out << "deleted " << id << "\n";
    poke_relay(cfg.queue.path);
    return 0;
  }
  if (what == "flush") {
    int64_t now = time(nullptr);
    size_t n = 0;
    for (auto& e : store->list()) {
      for (auto& r : e.recipients) {
        if (r.state == RcptState::Pending || r.state == RcptState::Deferred) r.next_attempt = now;
      }
      if (store->update_envelope(e) == StoreStatus::Ok) ++n;
    }
    out << "flushed " << n << " message(s)\n";
    poke_relay(cfg.queue.path);
    return 0;
  }
  if (what == "bounce") return bounce(cfg, *store, id, out, err);
  err << "smarthost queue: unknown action '" << what << "' (list, show, delete, bounce, flush)\n";
  return 2;
}

}  // namespace relay
