// cmd_check_message.cc - check-message: the tenant binding's verdict for one message (see the header).
#include "relay/cli/cmd_check_message.h"

#include <event2/event.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "relay/message/dkim_key_cache.h"
#include "relay/message/message_header.h"
#include "relay/tenant/message_check.h"
#include "relay/tenant/tenant_binding.h"
#include "router/base/event_handles.h"
#include "router/dns/dns_resolver.h"

namespace relay {

namespace {

constexpr int kAccept = 0, kReject = 1, kTemp = 2, kCannot = 3;

// LF-only files (as editors and mail clients save them) become CRLF, as SMTP carries them.
std::string to_crlf(const std::string& s) {
  std::string out;
  out.reserve(s.size() + s.size() / 40);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) out += '\r';
    out += s[i];
  }
  return out;
}

// The first allowlisted network address that is not exempt: a client the binding applies to.
std::optional<config::IpAddr> default_client(const config::Config& cfg) {
  for (const auto& c : cfg.allow) {
    if (!config::any_contains(cfg.relay_policy.exempt, c.net)) return c.net;
  }
  if (!cfg.allow.empty()) return cfg.allow.front().net;
  return std::nullopt;
}

std::string default_sender(const std::string& message) {
  std::string rp = header_value(message, "Return-Path");
  if (!rp.empty()) {
    if (rp.find("<>") != std::string::npos) return "";
    std::string a = mailbox_address(rp);
    if (!a.empty()) return a;
  }
  return mailbox_address(header_value(message, "From"));
}

int finish(std::ostream& out, int code, const std::string& reply) {
  out << "verdict: " << (code == kAccept ? "accept" : code == kReject ? "reject" : "temporary failure") << " ("
      << reply << ")\n";
  return code;
}

}  // namespace

int cmd_check_message(const config::Config& cfg, const CliArgs& args, std::istream& in, std::ostream& out,
                      std::ostream& err) {
  if (!args.positional.empty()) {
    err << "smarthost check-message: takes no arguments (the message comes from --file or standard input)\n";
    return kCannot;
  }
  std::string raw;
  const std::string file = args.value("--file");
  if (!file.empty()) {
    std::ifstream f(file, std::ios::binary);
    if (!f) {
      err << "smarthost check-message: " << file << ": cannot read the message\n";
      return kCannot;
    }
    std::ostringstream ss;
    ss << f.rdbuf();
    raw = ss.str();
  } else {
    std::ostringstream ss;
    ss << in.rdbuf();
    raw = ss.str();
  }
  const std::string message = to_crlf(raw);
  std::optional<config::IpAddr> client;
  if (!args.value("--client").empty()) {
    client = config::parse_ip(args.value("--client"));
    if (!client) {
      err << "smarthost check-message: --client '" << args.value("--client") << "' is not a numeric IP address\n";
      return kCannot;
    }
  } else {
    client = default_client(cfg);
  }
  std::string sender = args.values.count("--sender") ? args.value("--sender") : default_sender(message);
  if (sender == "<>") sender.clear();
  if (sender.size() > 2 && sender.front() == '<' && sender.back() == '>') sender = sender.substr(1, sender.size() - 2);

  out << "client: " << (client ? client->str() : "none") << "\n";
  out << "sender: <" << sender << ">\n";
  if (!client || !config::any_contains(cfg.allow, *client)) {
    out << "client is not in allow: the relay refuses the connection\n";
    return finish(out, kReject, "554 5.7.1");
  }
  const auto& p = cfg.relay_policy;
  if (!p.configured) {
    out << "relay_policy: not configured: every sender from the allow list is relayed\n";
    return finish(out, kAccept, "250");
  }
  if (config::any_contains(p.exempt, *client)) {
    out << "relay_policy: client " << client->str() << " is exempt: the binding does not apply\n";
    return finish(out, kAccept, "250");
  }
  if (!binding_applies(p, *client, sender)) {
    out << "relay_policy: the null sender is allowed (allow_null_sender): the binding does not apply\n";
    return finish(out, kAccept, "250");
  }
  if (auto r = check_envelope_sender(p, sender)) {
    out << "envelope sender: " << r->reason << "\n";
    return finish(out, kReject, "550 5.7.1 at MAIL: " + r->text);
  }
  if (!p.sender_domains.empty()) out << "envelope sender: in " << domain_words(p.sender_domains) << "\n";
  if (auto r = check_header_from(p, message)) {
    out << "header From: " << r->reason << "\n";
    return finish(out, kReject, "550 5.7.1 at end of DATA: " + r->text);
  }
  if (p.check_from) out << "header From: in " << domain_words(p.sender_domains) << "\n";
  if (p.require_dkim.empty()) return finish(out, kAccept, "250");

  base::EventBasePtr base(event_base_new());
  std::string why;
  auto dns = base ? router::DnsResolver::create(base.get(), cfg.dns, &why) : nullptr;  // destroyed before base
  if (!dns) {
    err << "smarthost check-message: " << (base ? why : "cannot create an event loop") << "\n";
    return kCannot;
  }
  DkimKeyCache keys(*dns);
  std::optional<MessageVerdict> verdict;
  auto check = MessageCheck::start(keys, p.require_dkim, "", message, [&](MessageVerdict v) {
    verdict = std::move(v);
    event_base_loopbreak(base.get());
  });
  if (!verdict) event_base_dispatch(base.get());
  check.reset();
  if (!verdict) {
    err << "smarthost check-message: the DKIM check did not finish\n";
    return kCannot;
  }
  for (const auto& o : verdict->checked) {
    out << "dkim: " << dkim_result_name(o.result) << " d=" << o.domain << " s=" << o.selector << " a=" << o.algorithm
        << (o.secure ? " (key DNSSEC-validated)" : "") << (o.reason.empty() ? "" : ": " + o.reason) << "\n";
  }
  if (verdict->checked.empty()) out << "dkim: no signature by " << domain_words(p.require_dkim) << "\n";
  switch (verdict->kind) {
    case MessageVerdict::Kind::Accept: return finish(out, kAccept, "250");
    case MessageVerdict::Kind::Reject: return finish(out, kReject, "550 5.7.1 at end of DATA: " + verdict->text);
    case MessageVerdict::Kind::TempFail: return finish(out, kTemp, "451 4.7.5 at end of DATA: " + verdict->text);
  }
  return kCannot;
}

}  // namespace relay
