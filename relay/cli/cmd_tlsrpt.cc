// cmd_tlsrpt.cc - `smarthost tlsrpt show|send` (see cmd_tlsrpt.h).
#include "relay/cli/cmd_tlsrpt.h"
#include "router/base/event_handles.h"

#include <sys/time.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <ostream>

#include <nlohmann/json.hpp>

#include "relay/notify/tlsrpt_sender.h"
#include "relay/core/json_dump.h"
#include "relay/notify/tlsrpt_report.h"
#include "relay/queue/control_socket.h"
#include "router/https/https_client.h"

namespace relay {
namespace {

void show_text(const std::string& day, const std::vector<TlsrptEntry>& entries, std::ostream& out) {
  out << "TLS-RPT counts for " << day << " (UTC)\n";
  if (entries.empty()) out << "  no sessions recorded\n";
  for (const auto& e : entries) {
    out << "  " << e.domain << "  policy " << e.policy.type << (e.policy.id.empty() ? "" : " id " + e.policy.id)
        << ": " << e.success << " successful, " << e.failure << " failed\n";
    for (const auto& d : e.details) {
      out << "    " << d.result_type << "  " << (d.receiving_mx_hostname.empty() ? "-" : d.receiving_mx_hostname);
      if (!d.receiving_ip.empty()) out << " [" << d.receiving_ip << "]";
      out << "  x" << d.count;
      if (!d.additional_information.empty()) out << "  (" << d.additional_information << ")";
      out << "\n";
    }
  }
}

// Reports by mail are new messages this tool put into the queue: a running relay sends them now
// instead of at its next rescan (a minute); with none they wait for it.
void wake_relay(const config::Config& cfg, std::ostream& out) {
  nlohmann::json answer;
  std::string error;
  switch (control_call(cfg.queue.path, {{"action", "wake"}}, &answer, &error, 10000)) {
    case ControlCall::Ok: out << "the relay is sending the queued report(s) now\n"; return;
    case ControlCall::NoRelay:
      out << "no relay is running on " << cfg.queue.path << ": the queued report(s) go out when it starts\n";
      return;
    case ControlCall::Failed: out << "could not tell the relay (" << error << "): the report(s) go out at its next queue scan\n";
  }
}

}  // namespace

int cmd_tlsrpt(const config::Config& cfg, const CliArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 1 || (args.positional[0] != "show" && args.positional[0] != "send")) {
    err << "usage: smarthost tlsrpt -c FILE show [--date YYYY-MM-DD] [--json] | send [--date YYYY-MM-DD]\n";
    return 2;
  }
  const int64_t now = static_cast<int64_t>(time(nullptr));
  std::string day = args.value("--date").empty() ? utc_day(now) : args.value("--date");
  if (!day_start(day)) {
    err << "smarthost tlsrpt: --date '" << day << "' is not a date like 2026-11-23\n";
    return 2;
  }
  std::string why;
  auto store = TlsrptStore::open(tlsrpt_dir(cfg.queue.path), &why);
  if (!store) {
    err << "smarthost tlsrpt: " << why << "\n";
    return 1;
  }
  if (args.positional[0] == "show") {
    auto entries = store->entries(day);
    if (!args.flag("--json")) {
      show_text(day, entries, out);
      return 0;
    }
    nlohmann::ordered_json reports = nlohmann::ordered_json::array();
    for (const auto& domain : report_domains(entries)) {
      reports.push_back(tlsrpt_report_doc(report_meta(cfg, day, domain, now), domain, entries));
    }
    out << json_dump({{"date", day}, {"reports", std::move(reports)}}) << "\n";
    return 0;
  }
  auto queue = QueueStore::open(cfg.queue.path, cfg.queue.map_size_mb, &why);
  base::EventBasePtr base(event_base_new());
  auto ctx = router::make_https_context(cfg.tls.ca_file, &why);  // null: https rua fail, mailto still works
  auto dns = base ? router::DnsResolver::create(base.get(), cfg.dns, &why) : nullptr;
  if (!queue || !dns) {
    err << "smarthost tlsrpt send: " << why << "\n";
    return 1;
  }
  router::RouteTable routes(cfg);
  std::optional<TlsrptSendSummary> got;
  QueueStore* q = queue.get();
  bool queued = false;  // a report went into the queue: the relay must be told
  auto enqueue = [q, &routes, &queued](LocalMail mail, std::function<void(const Injected&)> done) {
    Injected in = inject_local_mail(*q, routes, std::move(mail));
    queued = queued || in.ok();
    done(in);
  };
  auto sender = TlsrptSender::start(base.get(), *dns, ctx.get(), cfg, *store, enqueue, day, now,
                                    [&](TlsrptSendSummary s) {
                                      got = std::move(s);
                                      event_base_loopbreak(base.get());
                                    });
  event_base_dispatch(base.get());
  if (!got) {
    err << "smarthost tlsrpt send: the event loop ended early\n";
    return 1;
  }
  for (const auto& l : got->lines) out << l << "\n";
  out << "reports sent: " << got->sent << ", failed: " << got->failed << "\n";
  if (queued) wake_relay(cfg, out);
  if (got->failed > 0) err << "smarthost tlsrpt send: " << got->failed << " report(s) could not be sent\n";
  return got->failed > 0 ? 1 : 0;
}

}  // namespace relay
