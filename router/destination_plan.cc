// destination_plan.cc - candidate hosts and MTA-STS policy side by side, then policy applied and
// judged (see the header). Nothing here throws except allocation failure.
#include "router/destination_plan.h"

#include <unistd.h>

#include "router/dane_lookup.h"
#include "router/https/https_client.h"

namespace router {

std::optional<Outcome> judge_plan(const StsEnforcement& sts) {
  const Candidates& c = sts.candidates;
  switch (c.status) {
    case CandidateStatus::Ok:
      return std::nullopt;
    case CandidateStatus::PermFail:
      return c.null_mx ? decided(Disposition::Bounce, "5.1.10", FailureKind::NullMx, c.reason)
                       : decided(Disposition::Bounce, "5.1.2", FailureKind::NoSuchDomain, c.reason);
    case CandidateStatus::TempFail:
      break;
  }
  // Hosts were found but an enforce policy named none of them (apply_sts_policy excluded them all).
  if (sts.enforce && !sts.excluded.empty())
    return decided(Disposition::Defer, "4.7.5", FailureKind::StsNoHost, c.reason);
  return decided(Disposition::Defer, "4.4.3", FailureKind::DnsTemp, c.reason);
}

class DestinationPlanner::Impl {
 public:
  Impl(const config::Route& route, Done done) : route_(route), done_(std::move(done)) {}

  void begin(DnsService& dns, event_base* base, const std::string& domain, const PlanServices& s) {
    std::string policy_domain = s.https_ctx && s.mta_sts.enabled ? sts_policy_domain(route_, domain) : "";
    policy_pending_ = !policy_domain.empty();
    // DANE sessions are reported too (policy-type "tlsa"): ask whether the domain wants reports
    // when MTA-STS does not ask already.
    if (policy_domain.empty() && s.tlsrpt && config::is_dane(route_.tls)) {
      const std::string d = sts_policy_domain(route_, domain);
      if (!d.empty()) {
        policy_pending_ = true;
        policy_.domain = d;
        look_for_tlsrpt(dns);
      }
    }
    lookup_ = CandidateLookup::start(dns, base, route_, domain, [this, &dns, base](Candidates c) {
      if (config::is_dane(route_.tls) && c.status == CandidateStatus::Ok) return look_up_tlsa(dns, base, std::move(c));
      candidates_ = std::move(c);
      planned();
    });
    if (policy_domain.empty()) return;
    StsOptions o;
    o.https_port = s.mta_sts.https_port;
    o.timeout = s.mta_sts.fetch_timeout;
    report_mail_ = s.report_mail;
    policy_lookup_ = PolicyLookup::start(base, dns, s.https_ctx, s.cache, o, policy_domain,
                                         [this, &dns, tlsrpt = s.tlsrpt](PolicyResult p) {
                                           policy_ = std::move(p);
                                           if (tlsrpt && !policy_.policy) return look_for_tlsrpt(dns);
                                           policy_pending_ = false;
                                           planned();
                                         });
  }

 private:
  // DANE routes: the hosts' TLSA records (router/dane_lookup.h) before the plan is made.
  void look_up_tlsa(DnsService& dns, event_base* base, Candidates c) {
    dane_lookup_ = DaneLookup::start(dns, base, std::move(c), [this](Candidates done) {
      candidates_ = std::move(done);
      planned();
    });
  }

  // No policy: does the domain want TLS reports anyway ("no-policy-found")?
  void look_for_tlsrpt(DnsService& dns) {
    tlsrpt_txt_ = dns.lookup("_smtp._tls." + policy_.domain, DnsType::TXT, [this](DnsAnswer a) {
      if (a.status == DnsStatus::Ok) {
        for (const auto& t : a.txt) tlsrpt_published_ = tlsrpt_published_ || t.compare(0, 10, "v=TLSRPTv1") == 0;
      }
      policy_pending_ = false;
      planned();
    });
  }

  // Both answers are in: the hosts and options a delivery may use now.
  void planned() {
    if (!candidates_ || policy_pending_) return;
    DestinationPlan plan;
    plan.sts = apply_sts_policy(route_, *candidates_, applied_policy());
    plan.tlsrpt_published = tlsrpt_published_;
    plan.failure = judge_plan(plan.sts);
    plan.candidates = std::move(*candidates_);
    plan.policy = std::move(policy_);
    Done done = std::move(done_);
    done(std::move(plan));  // may destroy us: nothing after this line
  }

  // The policy as applied: a report's delivery takes enforce as testing (see the header).
  PolicyResult applied_policy() const {
    if (!report_mail_ || !policy_.enforce()) return policy_;
    PolicyResult p = policy_;
    p.policy->mode = StsMode::Testing;
    p.notes.push_back("a TLS-RPT report: the enforce policy is applied as testing (RFC 8460 5.3.1)");
    return p;
  }

  config::Route route_;  // a copy: a reload may free the caller's while we wait
  Done done_;
  std::optional<Candidates> candidates_;
  PolicyResult policy_;
  bool policy_pending_ = false;
  bool report_mail_ = false;
  bool tlsrpt_published_ = false;
  // Last: cancelled first when we die (the candidate lookup holds a reference to route_).
  std::unique_ptr<CandidateLookup> lookup_;
  std::unique_ptr<DaneLookup> dane_lookup_;
  std::unique_ptr<PolicyLookup> policy_lookup_;
  DnsLookup tlsrpt_txt_;
};

std::unique_ptr<DestinationPlanner> DestinationPlanner::start(DnsService& dns, event_base* base,
                                                              const config::Route& route,
                                                              const std::string& domain,
                                                              const PlanServices& services, Done done) {
  auto impl = std::make_unique<Impl>(route, std::move(done));
  Impl* raw = impl.get();
  auto planner = std::make_unique<DestinationPlanner>(Key(), std::move(impl));
  raw->begin(dns, base, domain, services);
  return planner;
}

DestinationPlanner::DestinationPlanner(Key, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DestinationPlanner::~DestinationPlanner() = default;

PlanServices ToolSts::services(const config::Config& cfg) const {
  PlanServices s;
  s.https_ctx = https_ctx.get();
  s.cache = cache.get();
  s.mta_sts = cfg.mta_sts;
  return s;
}

ToolSts open_tool_sts(const config::Config& cfg) {
  ToolSts t;
  if (!cfg.mta_sts.enabled) return t;
  t.https_ctx = make_https_context(cfg.tls.ca_file, &t.error);
  if (!t.https_ctx) return t;
  // The relay's cache if it has one; a tool creates nothing (see the header).
  const std::string dir = sts_cache_dir(cfg.queue.path);
  std::string ignored;
  if (access(dir.c_str(), R_OK | W_OK) == 0) t.cache = StsCache::open(dir, &ignored);
  return t;
}

}  // namespace router
