// main.cc - the smarthost command: dispatches to the sub-commands.
//
// Every sub-command reads the config first (-c FILE, default
// /etc/smarthost/smarthost.cfg) and refuses to act on a config with errors.
// Errors go to stderr, one line each. check-config also makes every start-up
// check of `run` (startup_checks.h), so that it passes exactly what run accepts,
// and prints the config's warnings (exit 0 with warnings).
#include <unistd.h>

#include <iostream>
#include <string>

#include "config/config_loader.h"
#include "config/duration.h"
#include "relay/cli/cli_args.h"
#include "relay/cli/cmd_admin_passwd.h"
#include "relay/cli/cmd_check_message.h"
#include "relay/cli/cmd_help.h"
#include "relay/cli/cmd_mta_sts.h"
#include "relay/cli/cmd_queue.h"
#include "relay/cli/cmd_status.h"
#include "relay/cli/cmd_tlsrpt.h"
#include "relay/cli/cmd_verify_signature.h"
#include "relay/daemon.h"
#include "relay/startup_checks.h"
#include "relay/tenant/tenant_binding.h"
#include "relay/tester/route_tester.h"
#include "relay/cli/cmd_route_for.h"

namespace {

const char* tls_mode(config::TlsMode m) { return config::tls_mode_name(m); }

void print_summary(const config::Config& c) {
  std::cout << c.source << ": configuration OK\n";
  std::cout << "hostname " << c.hostname << "\n";
  for (const auto& l : c.listen) std::cout << "listen " << l.address << " port " << l.port << "\n";
  std::cout << "allow";
  for (const auto& a : c.allow) std::cout << " " << a.text;
  std::cout << "\nrelay_policy: " << relay::binding_summary(c) << "\n";
  std::cout << "starttls " << (c.tls.cert.empty() ? "off" : "on (" + c.tls.cert + ")") << "\n";
  for (const auto& l : c.address_lists) {
    std::cout << "list " << l.name << ":";
    for (const auto& e : l.entries) std::cout << " " << e;
    std::cout << "\n";
  }
  for (const auto& r : c.routes) {
    std::cout << "route " << r.name << ": match";
    for (const auto& m : r.match) std::cout << " " << m;
    std::cout << "; " << (r.kind == config::RouteKind::Mx ? "mx" : "host " + r.host + ":" + std::to_string(r.port))
              << (r.mx_lookup ? " (mx_lookup)" : "") << "; tls=" << tls_mode(r.tls)
              << (r.verify_ca ? " verify_ca" : "") << (r.verify_hostname ? " verify_hostname" : "");
    if (r.has_min_tls_version) std::cout << " min_tls_version=" << config::tls_version_name(r.min_tls_version);
    std::cout << "\n";
  }
  for (const auto& d : c.dkim_sign) {
    std::cout << "dkim_sign " << d.domain << ": selector " << d.selector << (d.resign ? ", resign" : "") << "\n";
  }
  std::cout << "queue " << c.queue.path << " (lifetime " << config::format_duration(c.queue.max_lifetime)
            << ", max size " << c.queue.max_message_size << ")\n";
}

int load(const relay::CliArgs& a, std::shared_ptr<const config::Config>* out) {
  auto res = config::load_config(a.config);
  if (!res.config) {
    for (const auto& e : res.errors) std::cerr << e << "\n";
    return 1;
  }
  *out = res.config;
  return 0;
}

// test-route's options, or false after a usage error on stderr.
bool test_route_options(const relay::CliArgs& a, relay::TestRouteOptions* o) {
  o->all = a.flag("--all");
  o->json = a.flag("--json");
  o->domain = a.value("--domain");
  if (a.positional.size() != (o->all ? 0u : 1u) || (o->all && !o->domain.empty())) {
    std::cerr << "smarthost test-route: needs one ROUTE, or --all without ROUTE and --domain\n";
    return false;
  }
  const std::string t = a.value("--timeout");
  if (!t.empty()) {
    if (t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos || std::stoul(t) == 0) {
      std::cerr << "smarthost test-route: --timeout '" << t << "' is not a number of seconds from 1 to 9999\n";
      return false;
    }
    o->timeout = std::stoul(t);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    relay::print_command_list(std::cerr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--version") cmd = "version";
  if (cmd == "--help" || cmd == "-h") cmd = "help";
  // Only commands with a manual page exist (relay/cli/help_pages.cc): none ships undocumented.
  if (!relay::find_command_help(cmd)) {
    std::cerr << "smarthost: unknown command '" << cmd << "'\n";
    relay::print_command_list(std::cerr);
    return 2;
  }
  if (cmd == "version") {
    std::cout << "smarthost " << SMARTHOST_VERSION << "\n";
    return 0;
  }
  if (cmd == "help") return relay::cmd_help({argv + 2, argv + argc}, SMARTHOST_VERSION, std::cout, std::cerr);
  if (cmd == "admin-passwd") {
    if (argc != 2) {
      std::cerr << "usage: smarthost admin-passwd   (reads the password from standard input)\n";
      return 2;
    }
    return relay::cmd_admin_passwd(std::cin, isatty(0) == 1, std::cout, std::cerr);
  }
  auto args = relay::parse_cli(argc, argv, 2, {"--domain", "--date", "--timeout", "--client", "--sender", "--file", "--key", "--signature"}, {"--json", "--test-routes", "--all"});
  if (!args.error.empty()) {
    std::cerr << "smarthost " << cmd << ": " << args.error << "\n";
    return 2;
  }
  if (cmd == "run") return relay::run_daemon(args.config);
  std::shared_ptr<const config::Config> cfg;
  if (cmd == "check-config") {
    if (load(args, &cfg) != 0) return 1;
    auto checked = relay::check_startup(cfg, relay::CheckStage::Start);
    for (const auto& e : checked.errors) std::cerr << e << "\n";
    for (const auto& w : checked.warnings) std::cerr << w << "\n";
    if (!checked.errors.empty()) return 1;
    print_summary(*cfg);
    if (args.flag("--test-routes")) return relay::run_test_routes(*cfg, std::cout, std::cerr);
    return 0;
  }
  if (cmd == "route-for") {
    if (args.positional.size() != 1) {
      std::cerr << "smarthost route-for: needs one ADDRESS\n";
      return 2;
    }
    if (load(args, &cfg) != 0) return 1;
    return relay::run_route_for(*cfg, args.positional[0], std::cout, std::cerr);
  }
  if (cmd == "test-route") {
    relay::TestRouteOptions opts;
    if (!test_route_options(args, &opts)) return 2;
    if (load(args, &cfg) != 0) return 1;
    return relay::run_test_route(*cfg, opts.all ? "" : args.positional[0], opts, std::cout, std::cerr);
  }
  if (cmd == "check-message") {
    if (load(args, &cfg) != 0) return 3;
    return relay::cmd_check_message(*cfg, args, std::cin, std::cout, std::cerr);
  }
  if (cmd == "queue") {
    if (load(args, &cfg) != 0) return 1;
    return relay::cmd_queue(*cfg, args, std::cin, std::cout, std::cerr);
  }
  if (cmd == "status") {
    if (load(args, &cfg) != 0) return 1;
    return relay::cmd_status(*cfg, args, std::cout, std::cerr);
  }
  if (cmd == "tlsrpt") {
    if (load(args, &cfg) != 0) return 1;
    return relay::cmd_tlsrpt(*cfg, args, std::cout, std::cerr);
  }
  if (cmd == "mta-sts") return relay::cmd_mta_sts(args, std::cout, std::cerr);
  if (cmd == "verify-signature") return relay::cmd_verify_signature(args, std::cout, std::cerr);
  std::cerr << "smarthost: command '" << cmd << "' has a manual page but no code\n";
  return 2;
}
