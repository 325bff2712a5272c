// destination_plan.h - plan one destination: the hosts a delivery on a route may use for a
// recipient domain, the MTA-STS policy applied to them, and the one judge of a failed lookup.
//
// DestinationPlanner::start() looks up the candidate hosts (CandidateLookup) and, when MTA-STS
// applies, the policy (PolicyLookup) side by side, then applies the policy (apply_sts_policy) and
// hands back one DestinationPlan. MTA-STS applies when mta_sts.enabled, an HTTPS context is given
// and sts_policy_domain() is not empty. The delivery scheduler, `smarthost test-route` and
// `smarthost route-for` all plan through here, so the tools cannot disagree with a delivery.
//
// judge_plan() is the one place that decides what hosts that cannot be used mean for a recipient:
//   permanent lookup failure (NXDOMAIN, no MX/AAAA/A) -> bounce 5.1.2  (FailureKind::NoSuchDomain)
//   null MX (RFC 7505, Candidates::null_mx)           -> bounce 5.1.10 (FailureKind::NullMx)
//   MTA-STS enforce left no host                      -> defer 4.7.5   (FailureKind::StsNoHost;
//                                                        RFC 8461 5.1: policy failures defer)
//   any other temporary failure                       -> defer 4.4.3   (FailureKind::DnsTemp)
//
// DANE routes (tls = "dane"/"dane-only", SPEC R-DANE): once the candidates are in, the TLSA
// records of every host whose MX and address answers are DNSSEC-secure are looked up
// (router/dane_lookup.h) and kept in CandidateHost::dane; the session decides each host's TLS
// level from them (router/dane_policy.h). MTA-STS enforce on a DANE route raises dane_fallback
// to "required" and leaves hosts with secure TLSA records to DANE (RFC 8461 2).
//
// Two things only the delivery asks for (route-for and test-route leave them off):
//   - services.tlsrpt: when MTA-STS applies and the policy domain has no policy,
//     `_smtp._tls.DOMAIN` TXT is looked up too (asynchronously; libunbound caches it for its TTL
//     and the scheduler caches the plan), and tlsrpt_published says whether a "v=TLSRPTv1" record is there: sessions to such
//     a domain are counted under policy-type "no-policy-found" (RFC 8460 4.4). A DANE route asks
//     for it even without MTA-STS: its DANE hosts' sessions count under policy-type "tlsa".
//   - services.report_mail: the plan is for a TLS-RPT report. RFC 8460 5.3.1: a report SHOULD be
//     sent even when the rua domain's own TLS requirements fail, so an enforce policy is applied
//     as testing (every MX host, failures delivered anyway). The route's own tls = "required"
//     still holds: that is the admin's rule, not the domain's. `policy` stays as found.
//
// The policy cache. The daemon owns one (StsRuntime creates QUEUE_PATH/mta-sts) and passes it in
// PlanServices. A one-shot tool (route-for, test-route) calls open_tool_sts(): it uses the relay's
// cache only when that folder already exists and is readable and writable by the caller, and
// creates nothing. A tool may run as another user or before the daemon ever ran; a folder it made
// could then be unusable by the daemon. Without a cache a tool fetches the policy, which is what
// the daemon would do with a cold cache. Policies a tool fetches go into the existing cache, as
// the daemon's would.
//
// How it fails: never outright. Every outcome is a DestinationPlan; DNS and policy trouble is in
// its candidates and policy, and `failure` holds the judged outcome when no host can be used.
// `done` runs once from the event loop, never inside start(); destroying the planner cancels it
// and `done` never runs; `done` may destroy the planner. `dns`, `base` and the services must
// outlive it; the route is copied.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "certs/tls_context.h"
#include "config/config.h"
#include "router/candidate_hosts.h"
#include "router/delivery_outcome.h"
#include "router/mta_sts/mta_sts_cache.h"
#include "router/mta_sts/mta_sts_lookup.h"
#include "router/mta_sts_enforce.h"

struct event_base;

namespace router {

// What MTA-STS needs. https_ctx null: no policy is looked up.
struct PlanServices {
  WOLFSSL_CTX* https_ctx = nullptr;  // from make_https_context()
  StsCache* cache = nullptr;         // may be null: no policy cache
  config::MtaSts mta_sts;            // enabled, https_port, fetch_timeout
  bool tlsrpt = false;               // TLS-RPT counts: ask for _smtp._tls when there is no policy
  // plans a TLS-RPT report's delivery, or a message whose "TLS-Required: No" is honoured
  // (router/tls_demand.h): an enforce policy is applied as testing
  bool report_mail = false;
};

struct DestinationPlan {
  Candidates candidates;           // as looked up, before the policy (route-for prints these)
  PolicyResult policy;             // domain "" when MTA-STS does not apply; TLS-RPT reads it
  StsEnforcement sts;              // the policy applied: hosts, effective route, bounce_on_tls_failure
  std::optional<Outcome> failure;  // judge_plan(sts): set exactly when sts.candidates is not Ok
  bool tlsrpt_published = false;   // no policy, but the domain publishes _smtp._tls (no-policy-found)
};

// The judge (see the header block). nullopt when the plan's hosts can be used. Pure.
std::optional<Outcome> judge_plan(const StsEnforcement& sts);

class DestinationPlanner {
 public:
  using Done = std::function<void(DestinationPlan)>;
  // `domain` is the recipient domain in normalised (A-label) form; unused for kind "host".
  static std::unique_ptr<DestinationPlanner> start(DnsService& dns, event_base* base,
                                                   const config::Route& route,
                                                   const std::string& domain,
                                                   const PlanServices& services, Done done);
  ~DestinationPlanner();
  DestinationPlanner(const DestinationPlanner&) = delete;
  DestinationPlanner& operator=(const DestinationPlanner&) = delete;

  class Impl;
  struct Key {  // only start() can make one
   private:
    friend class DestinationPlanner;
    Key() = default;
  };
  DestinationPlanner(Key, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// MTA-STS for a one-shot tool: the HTTPS context and the relay's existing cache (see the header
// block). Nothing is made when mta_sts is disabled.
struct ToolSts {
  certs::CtxPtr https_ctx;          // null: mta_sts disabled, or `error` says why not
  std::unique_ptr<StsCache> cache;  // null: the relay has no usable cache folder
  std::string error;                // why there is no HTTPS context although mta_sts is on
  PlanServices services(const config::Config& cfg) const;
};
ToolSts open_tool_sts(const config::Config& cfg);

}  // namespace router
