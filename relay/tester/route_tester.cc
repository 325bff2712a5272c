// route_tester.cc - probe a route with the delivery code and judge it (see
// route_tester.h). Verdicts are pure functions of the traces and of what the
// session settled; the runner only drives the event loop.
#include "relay/tester/route_tester.h"
#include "router/base/event_handles.h"

#include "router/destination_plan.h"

#include <event2/event.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "certs/tls_context.h"
#include "relay/notify/dsn_builder.h"
#include "relay/core/log.h"
#include "relay/tester/route_tester_report.h"
#include "relay/delivery/smtp_client_session.h"
#include "relay/core/smtp_runtime.h"
#include "router/address_match.h"
#include "router/dns/dns_resolver.h"

namespace relay {

const char* check_result_name(CheckResult r) {
  switch (r) {
    case CheckResult::Pass: return "pass";
    case CheckResult::Fail: return "fail";
    case CheckResult::NotChecked: return "not_checked";
  }
  return "?";
}

const char* route_outcome_name(RouteOutcome o) {
  switch (o) {
    case RouteOutcome::Deliver: return "deliver";
    case RouteOutcome::Bounce: return "bounce";
    case RouteOutcome::Defer: return "defer";
  }
  return "?";
}

namespace {

std::string where(const HostTrace& t) { return t.host + "[" + t.address + "]:" + std::to_string(t.port); }

// The route's lowest TLS version as the client context applies it.
std::string min_version_text(const config::Route& r) {
  return r.has_min_tls_version ? config::tls_version_name(r.min_tls_version) : "1.1";
}

// "TLS1_2" -> 2 (minor of 1.x); -1 when unknown.
int minor_of(const std::string& version) {
  if (version.size() == 6 && version.compare(0, 5, "TLS1_") == 0 && isdigit(static_cast<unsigned char>(version[5])))
    return version[5] - '0';
  return -1;
}

// Whether a handshake failed, and with this problem.
bool handshake_problem(const HostTrace& t, certs::TlsProblem p) {
  return !t.handshake_error.empty() && t.handshake_problem == p;
}

void judge_certificate(const certs::TlsFacts& f, HostVerdict* v) {
  if (!f.has_certificate) {
    v->ca = {CheckResult::Fail, v->ca.enforced, "the server presented no certificate"};
  } else if (f.ca_ok) {
    v->ca = {CheckResult::Pass, v->ca.enforced, "chain verified against tls.ca_file"};
  } else {
    v->ca = {CheckResult::Fail, v->ca.enforced, f.ca_error.empty() ? "chain does not verify" : f.ca_error};
  }
  if (!f.hostname_checked) {
    v->hostname = {CheckResult::NotChecked, v->hostname.enforced, "no host name to check the certificate against"};
  } else if (f.hostname_ok) {
    v->hostname = {CheckResult::Pass, v->hostname.enforced, "the certificate names " + f.peer_name};
  } else if (f.hostname_only_in_cn) {
    v->hostname = {CheckResult::Fail, v->hostname.enforced,
                   certs::tls_failure(certs::TlsProblem::HostnameOnlyInCn).reason + ": " + f.peer_name};
  } else {
    v->hostname = {CheckResult::Fail, v->hostname.enforced, "the certificate does not name " + f.peer_name};
  }
}

void judge_session(const config::Route& r, const certs::TlsFacts& f, HostVerdict* v) {
  judge_certificate(f, v);
  const int got = minor_of(f.version);
  const int want = minor_of("TLS1_" + min_version_text(r).substr(2));
  v->min_version = {got >= want ? CheckResult::Pass : CheckResult::Fail, v->min_version.enforced,
                    f.version + ", route minimum " + min_version_text(r)};
  const auto& list = r.ciphers.empty() ? config::default_outbound_ciphers() : r.ciphers;
  auto it = std::find(list.begin(), list.end(), f.cipher);
  if (it != list.end()) {
    v->cipher = {CheckResult::Pass, v->cipher.enforced,
                 f.cipher + ", number " + std::to_string(it - list.begin() + 1) + " of the route's " +
                     std::to_string(list.size()) + " ciphers"};
  } else {
    v->cipher = {CheckResult::NotChecked, v->cipher.enforced,
                 f.cipher + " (negotiated from the route's list; not found there by that name)"};
  }
}

void judge_no_session(const config::Route& r, const HostTrace& t, HostVerdict* v) {
  std::string why = "no TLS session";
  if (r.tls == config::TlsMode::None) why = "tls = \"none\" on this route";
  else if (!t.connected) why = "no connection";
  else if (t.banner.empty()) why = "no banner";
  else if (!t.starttls_offered && !t.tls_attempted) why = "STARTTLS not offered";
  else if (t.plaintext_retry) why = "plaintext retry after a failed handshake";
  for (Check* c : {&v->ca, &v->hostname, &v->min_version, &v->cipher}) c->detail = why;
  if (handshake_problem(t, certs::TlsProblem::VersionTooOld)) {
    v->min_version = {CheckResult::Fail, v->min_version.enforced,
                      "the server and the route share no TLS version (route minimum " + min_version_text(r) + ")"};
  }
  if (t.tls_attempted && !t.handshake_error.empty() && v->min_version.result == CheckResult::NotChecked &&
      min_version_text(r) != "1.1") {
    v->min_version.detail = "no version agreed before the handshake failed; a server limited to versions older "
                            "than the route minimum " + min_version_text(r) + " fails this way";
  }
  if (handshake_problem(t, certs::TlsProblem::NoSharedCipher)) {
    v->cipher = {CheckResult::Fail, v->cipher.enforced, "the server accepts none of the route's ciphers"};
  }
  if (handshake_problem(t, certs::TlsProblem::NoTls13Suite)) {
    // The version is not what failed: the route's list cannot offer the one the server speaks.
    v->min_version.detail = "not the cause: the route's cipher list limits this relay to TLS 1.2";
    v->cipher = {CheckResult::Fail, v->cipher.enforced,
                 "the route's cipher list offers nothing the server accepts: it has no TLS 1.3 suite and "
                 "the server refused TLS 1.2"};
  }
}

std::string host_summary(const config::Route& r, const HostTrace& t, const HostVerdict& v) {
  if (v.would_deliver) {
    return t.handshake_ok ? "would take the mail over " + t.facts.version : "would take the mail without TLS (plaintext)";
  }
  if (!t.connected) return "unreachable: " + (t.error.empty() ? std::string("no connection") : t.error);
  if (t.error.empty() && !t.policy_error.empty() && r.tls == config::TlsMode::Opportunistic) {
    return "would not take the mail over TLS (" + t.policy_error + "); a delivery retries it in plaintext";
  }
  std::string why = !t.error.empty() ? t.error : !t.policy_error.empty() ? t.policy_error : "the test ended early";
  return "would not take the mail: " + why;
}

}  // namespace

HostVerdict host_verdict(const config::Route& r, const HostTrace& t) {
  HostVerdict v;
  const bool required = r.tls == config::TlsMode::Required;
  v.ca.enforced = required && r.verify_ca;
  v.hostname.enforced = required && r.verify_hostname;
  // The client context refuses older versions and other ciphers in any TLS
  // mode; an opportunistic route then retries in plaintext.
  v.min_version.enforced = required;
  v.cipher.enforced = required;
  if (t.handshake_ok) {
    judge_session(r, t.facts, &v);
  } else {
    judge_no_session(r, t, &v);
  }
  v.would_deliver = t.policy_ok && t.error.empty();
  v.summary = host_summary(r, t, v);
  return v;
}

namespace {

// The name the advice talks about: the domain, or the route's host name.
std::string advice_domain(const RouteTestReport& rep) {
  if (!rep.domain.empty()) return rep.domain;
  if (rep.route.kind == config::RouteKind::Host && router::ip_literal(rep.route.host).empty()) return rep.route.host;
  return "";
}

// The host whose failure decided the verdict: the last attempt that failed
// with the settled status (the session remembers the last TLS failure).
std::string deciding_host(const RouteTestReport& rep) {
  for (auto it = rep.hosts.rbegin(); it != rep.hosts.rend(); ++it) {
    if (it->status == rep.status && !it->error.empty()) return it->host;
  }
  return rep.hosts.empty() ? "" : rep.hosts.back().host;
}

// Seed 000's troubleshooting list, as the DSN for this failure would give it.
std::vector<std::string> bounce_remedies(const RouteTestReport& rep) {
  Recipient r;
  const std::string dom = advice_domain(rep);
  if (!dom.empty()) r.address = "postmaster@" + dom;
  r.route = rep.route.name;
  r.dsn_status = rep.status;
  r.failure = rep.failure;
  r.tls_problem = rep.tls_problem;
  r.last_error = rep.reason;
  r.remote_mta = deciding_host(rep);
  std::vector<std::string> out;
  for (auto& item : dsn_advice(r)) {
    if (item.find("smarthost test-route") == std::string::npos) out.push_back(item);  // that is us
  }
  return out;
}

std::vector<std::string> defer_remedies(const RouteTestReport& rep) {
  std::vector<std::string> out;
  const auto& r = rep.route;
  if (r.kind == config::RouteKind::Host && !r.mx_lookup) {
    out.push_back("Check that " + r.host + " is up and accepts SMTP connections on port " + std::to_string(r.port) +
                  " from this relay (firewall, port number, the host name's DNS records).");
  } else {
    out.push_back("Check that the hosts listed above are up and accept SMTP connections on port " +
                  std::to_string(r.port) + " from this relay, and that their DNS records are right "
                  "(smarthost route-for shows what a delivery looks up).");
  }
  out.push_back("If the route goes through a third-party mail relay service, ask that service provider.");
  out.push_back("Meanwhile messages wait in the queue and are retried until queue.max_lifetime runs out; then they "
                "bounce with status 5.4.7.");
  return out;
}

void success_notes(RouteTestReport* out, size_t via) {
  const RouteTestReport& rep = *out;
  auto& notes = out->notes;
  for (size_t i = 0; i < via; ++i) {
    const std::string& sum = rep.verdicts[i].summary;
    const std::string w = where(rep.hosts[i]);
    notes.push_back((sum.find(w) == std::string::npos ? w + ": " : "") + sum + "; a delivery goes on to the next host.");
  }
  const HostTrace& t = rep.hosts[via];
  if (!t.handshake_ok) {
    std::string why = rep.route.tls == config::TlsMode::None ? "tls = \"none\" on this route"
                      : t.plaintext_retry                   ? "the TLS handshake failed and delivery falls back to plaintext"
                                                            : "the server does not offer STARTTLS";
    notes.push_back("Mail would travel unencrypted (" + why + "): anyone on the network path could read and change it. "
                    "Set tls = \"required\" on this route to refuse that.");
  } else if (t.facts.verdict != certs::Verdict::Verified) {
    notes.push_back(std::string("The server's certificate is ") + certs::verdict_name(t.facts.verdict) +
                    (t.policy_error.empty() ? "" : " (" + t.policy_error + ")") +
                    " and this route does not require it to be verified: the connection is encrypted, but an attacker "
                    "on the network path could pose as the server.");
  }
}

}  // namespace

void judge_probe(const router::Outcome& settled, RouteTestReport* rep) {
  rep->status = settled.status;
  rep->reason = settled.reason;
  rep->failure = settled.kind;
  rep->tls_problem = settled.tls_problem;
  switch (settled.disposition) {
    case router::Disposition::Sent: {
      size_t via = 0;
      while (via < rep->verdicts.size() && !rep->verdicts[via].would_deliver) ++via;
      rep->outcome = RouteOutcome::Deliver;
      rep->reason.clear();
      if (via == rep->hosts.size()) {  // settled Sent without a host: cannot happen; say so
        rep->verdict_line = "deliveries on this route would succeed";
        return;
      }
      const HostTrace& t = rep->hosts[via];
      rep->via = where(t);
      rep->tls_version = t.handshake_ok ? t.facts.version : "";
      rep->verdict_line = "deliveries on this route would succeed " +
                          (t.handshake_ok ? "over " + t.facts.version : std::string("without TLS (plaintext)")) +
                          " (host " + rep->via + ")";
      success_notes(rep, via);
      return;
    }
    case router::Disposition::Bounce:
      rep->outcome = RouteOutcome::Bounce;
      rep->verdict_line = "deliveries on this route would bounce: " + settled.reason;
      rep->remedies = bounce_remedies(*rep);
      return;
    case router::Disposition::Pending:
      rep->status = "4.4.1";
      rep->reason = "the test ended without a result";
      rep->failure = router::FailureKind::None;
      [[fallthrough]];
    case router::Disposition::Defer:
      rep->outcome = RouteOutcome::Defer;
      rep->verdict_line = "deliveries on this route would be deferred: " + rep->reason;
      rep->remedies = defer_remedies(*rep);
      return;
  }
}

// What the destination planner judged (router::judge_plan), as a delivery settles it.
void judge_lookup_failure(const router::Outcome& judged, RouteTestReport* rep) {
  rep->reason = judged.reason;
  rep->status = judged.status;
  rep->failure = judged.kind;
  if (judged.disposition == router::Disposition::Bounce) {
    rep->outcome = RouteOutcome::Bounce;
    rep->verdict_line = "deliveries on this route would bounce: " + judged.reason;
    rep->remedies = bounce_remedies(*rep);
  } else {
    rep->outcome = RouteOutcome::Defer;
    rep->verdict_line = "deliveries on this route would be deferred: " + judged.reason;
    rep->remedies = defer_remedies(*rep);
  }
}

namespace {

// Drives one probe: the destination plan, then one session over every host.
// The loop ends by itself once the session, the planner and the resolver are
// gone (lingering QUIT writes included), so nothing is left for
// event_base_free.
class ProbeRun : public JobSource {
 public:
  ProbeRun(event_base* base, std::shared_ptr<const Runtime> rt, const config::Route& route, std::ostream* progress)
      : base_(base), rt_(std::move(rt)), route_(route), progress_(progress) {}

  // False (and *err) when the resolver cannot start.
  bool run(const std::string& domain, std::string* err) {
    dns_ = router::DnsResolver::create(base_, rt_->config->dns, err);
    if (!dns_) return false;
    sts_ = router::open_tool_sts(*rt_->config);
    planner_ = router::DestinationPlanner::start(*dns_, base_, route_, domain, sts_.services(*rt_->config),
                                                 [this, domain](router::DestinationPlan p) {
                                                   planned(std::move(p), domain);
                                                 });
    event_base_dispatch(base_);
    return true;
  }

  std::optional<router::DestinationPlan> plan;
  std::unique_ptr<DeliveryJob> job;

  std::unique_ptr<DeliveryJob> next_job() override { return nullptr; }
  void job_done(std::unique_ptr<DeliveryJob> j) override { job = std::move(j); }
  void session_done(SmtpClientSession*) override { later_teardown(); }

 private:
  void planned(router::DestinationPlan p, const std::string& domain) {
    plan = std::move(p);
    if (plan->policy.domain.empty() && !sts_.error.empty()) {  // the policy could not be checked: say so
      plan->policy.domain = router::sts_policy_domain(route_, domain);
      plan->policy.error = "cannot check MTA-STS: " + sts_.error;
    }
    if (plan->failure) return later_teardown();
    auto j = std::make_unique<DeliveryJob>();
    j->id = "test-route";
    j->route = route_.name;
    j->probe = true;
    j->trace = std::make_shared<std::vector<HostTrace>>();
    auto sts = std::make_shared<const router::StsEnforcement>(plan->sts);
    session_ = std::make_unique<SmtpClientSession>(base_, rt_, sts->route, sts->candidates, std::move(j), *this);
    session_->set_single_attempt(sts->bounce_on_tls_failure);
    session_->set_sts(sts, nullptr);
    if (progress_) session_->set_step_observer([this](const std::string& w, const std::string& st) { step(w, st); });
    session_->start();
  }

  // One line per state as it is entered: on a terminal the admin sees where a slow server stalls.
  void step(const std::string& where, const std::string& state) {
    if (where.empty()) return;  // "done", after the last host: the report follows
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
    char when[32];
    snprintf(when, sizeof when, "%6.1fs", static_cast<double>(ms.count()) / 1000.0);
    *progress_ << "  " << when << "  " << where << "  " << state << "\n" << std::flush;
  }

  // From a later loop turn: we may be inside the session's or planner's callback.
  void later_teardown() {
    base::delete_later(base_, std::move(session_));
    base::delete_later(base_, std::move(planner_));
    base::delete_later(base_, std::move(dns_));
  }

  event_base* base_;
  std::shared_ptr<const Runtime> rt_;
  const config::Route& route_;
  std::unique_ptr<router::DnsResolver> dns_;
  router::ToolSts sts_;
  std::unique_ptr<router::DestinationPlanner> planner_;
  std::unique_ptr<SmtpClientSession> session_;
  std::ostream* progress_;  // null: no step lines
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

MtaStsVerdict sts_verdict(const router::PolicyResult& policy, const router::StsEnforcement& plan) {
  MtaStsVerdict v;
  if (policy.domain.empty()) {
    v.result = "not_applicable";
    v.reason = "no MTA-STS policy domain for this route (mta_sts disabled, or an IP literal host)";
    return v;
  }
  v.checked = true;
  if (!policy.policy) {
    v.result = policy.error.empty() ? "none" : "failed";
    v.reason = policy.error.empty() ? "no policy published for " + policy.domain : policy.error;
    return v;
  }
  v.result = router::sts_mode_name(policy.mode());
  v.reason = plan.summary;
  return v;
}

// The report, or nullopt with a line on err and *code set.
std::optional<RouteTestReport> test_route(const config::Config& cfg, const std::string& name,
                                          const std::string& domain_arg, uint64_t timeout, std::ostream* progress,
                                          std::ostream& err, int* code) {
  *code = 2;
  const config::Route* route = cfg.find_route(name);
  if (!route) {
    err << "test-route: no route named \"" << name << "\" in " << cfg.source << "\n";
    return std::nullopt;
  }
  RouteTestReport rep;
  rep.route = *route;
  if (!domain_arg.empty()) {
    std::string why;
    auto d = router::normalize_domain(domain_arg, &why);
    if (!d) {
      err << "test-route: --domain " << domain_arg << ": " << why << "\n";
      return std::nullopt;
    }
    rep.domain = *d;
  } else if (route->kind == config::RouteKind::Mx) {
    err << "test-route: route " << name << " is of kind \"mx\": --domain DOMAIN is required "
        << "(the recipient domain whose MX hosts to test)\n";
    return std::nullopt;
  }
  *code = 1;
  std::string why;
  // The tester's own waits: an admin at a terminal must not wait the 5 minutes a delivery may.
  auto probe_cfg = std::make_shared<config::Config>(cfg);
  probe_cfg->limits.connect_timeout = timeout;
  probe_cfg->limits.reply_timeout = timeout;
  auto rt = Runtime::build(probe_cfg, &why);
  if (!rt) {
    err << "test-route: " << why << "\n";
    return std::nullopt;
  }
  base::EventBasePtr base(event_base_new());
  if (!base) {
    err << "test-route: cannot create an event loop\n";
    return std::nullopt;
  }
  const config::Route& live = *rt->config->find_route(name);
  auto run = std::make_unique<ProbeRun>(base.get(), rt, live, progress);
  if (!run->run(rep.route.kind == config::RouteKind::Mx ? rep.domain : "", &why)) {
    err << "test-route: " << why << "\n";
    return std::nullopt;
  }
  if (!run->plan) {
    err << "test-route: the event loop ended before DNS answered\n";
    return std::nullopt;
  }
  const router::DestinationPlan& plan = *run->plan;
  rep.candidates = plan.sts.candidates;
  rep.mta_sts = sts_verdict(plan.policy, plan.sts);
  rep.route = plan.sts.route;  // the options in force: the stricter of route and policy
  if (plan.failure) {
    judge_lookup_failure(*plan.failure, &rep);
    return rep;
  }
  router::Outcome settled;
  if (run->job) {
    if (run->job->trace) rep.hosts = *run->job->trace;
    settled = run->job->probe_result;
  }
  for (const auto& t : rep.hosts) rep.verdicts.push_back(host_verdict(rep.route, t));
  judge_probe(settled, &rep);
  return rep;
}

// Standard output is a terminal: the steps are shown as they happen.
bool on_terminal(const std::ostream& out) { return &out == &std::cout && isatty(STDOUT_FILENO); }

bool colour_wanted(const std::ostream& out) {
  if (!on_terminal(out)) return false;
  const char* term = getenv("TERM");
  return getenv("NO_COLOR") == nullptr && !(term && std::string(term) == "dumb");
}

// The probe session logs its problems like a delivery; the report already
// says everything, and a one-shot command must not write to the relay's log.
void quiet_log() {
  std::string ignored;
  log_open(LogStyle::Kv, "/dev/null", &ignored);
}

}  // namespace

namespace {

// One test: its report printed (text or JSON), or the reason it could not run on err.
int test_one(const config::Config& cfg, const std::string& route, const std::string& domain,
             const TestRouteOptions& opts, std::ostream& out, std::ostream& err) {
  const bool live = !opts.json && on_terminal(out);
  if (live) out << "testing route " << route << (domain.empty() ? "" : " for " + domain) << "\n" << std::flush;
  int code = 1;
  auto rep = test_route(cfg, route, domain, opts.timeout, live ? &out : nullptr, err, &code);
  if (!rep) return code;
  if (live) out << "\n";
  if (opts.json) {
    print_test_report_json(*rep, out);
  } else {
    print_test_report(*rep, colour_wanted(out), out);
  }
  return rep->exit_code();
}

int test_all(const config::Config& cfg, const TestRouteOptions& opts, std::ostream& out, std::ostream& err) {
  int worst = 0;
  bool first = true;
  if (opts.json) out << "{\"routes\": [\n";
  for (const auto& [route, domain] : all_route_tests(cfg)) {
    if (domain.empty() && cfg.find_route(route)->kind == config::RouteKind::Mx) {
      err << "test-route " << route << ": not tested: an mx route whose lists name no domain (test one with "
          << "\"smarthost test-route " << route << " --domain DOMAIN\")\n";
      continue;
    }
    if (opts.json && !first) out << ",\n";
    if (!opts.json) out << (first ? "" : "\n") << "== route " << route << (domain.empty() ? "" : " --domain " + domain)
                        << "\n";
    first = false;
    int code = test_one(cfg, route, domain, opts, out, err);
    worst = std::max(worst, code);
  }
  if (opts.json) out << "], \"exit_code\": " << worst << "}\n";
  return worst;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> all_route_tests(const config::Config& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : cfg.routes) {
    if (r.kind == config::RouteKind::Host) {
      out.push_back({r.name, ""});
      continue;
    }
    std::vector<std::string> domains;
    for (const auto& m : r.match) {
      const config::AddressList* l = cfg.find_list(m);
      if (!l) continue;  // "*"
      for (const auto& e : l->entries) {
        if (!e.empty() && e[0] == '.') continue;  // a pattern: no one domain to test
        std::string d = e.substr(e.rfind('@') == std::string::npos ? 0 : e.rfind('@') + 1);
        if (std::find(domains.begin(), domains.end(), d) == domains.end()) domains.push_back(d);
      }
    }
    if (domains.empty()) out.push_back({r.name, ""});
    for (const auto& d : domains) out.push_back({r.name, d});
  }
  return out;
}

int run_test_route(const config::Config& cfg, const std::string& route, const TestRouteOptions& opts,
                   std::ostream& out, std::ostream& err) {
  quiet_log();
  if (opts.all) return test_all(cfg, opts, out, err);
  return test_one(cfg, route, opts.domain, opts, out, err);
}

int run_test_routes(const config::Config& cfg, std::ostream& out, std::ostream& err) {
  quiet_log();
  int worst = 0;
  for (const auto& r : cfg.routes) {
    if (r.kind != config::RouteKind::Host) continue;
    std::ostringstream why;
    int code = 1;
    auto rep = test_route(cfg, r.name, "", TestRouteOptions{}.timeout, nullptr, why, &code);
    if (!rep) {
      out << "test-route " << r.name << ": test failed: " << why.str();
      err << why.str();
      worst = 1;
      continue;
    }
    out << "test-route " << r.name << ": " << rep->verdict_line << "\n";
    if (rep->exit_code() != 0) worst = 1;
  }
  if (worst != 0) out << "run \"smarthost test-route -c " << cfg.source << " ROUTE\" for the details and remedies\n";
  return worst;
}

}  // namespace relay
