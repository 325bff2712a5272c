// mta_sts_lookup.h - the MTA-STS policy in force for a domain (RFC 8461 sections 3 and 5).
//
// PolicyLookup::start() asks DNS for `_mta-sts.DOMAIN` TXT and then:
//   - a valid "v=STSv1; id=X" whose X equals the cached entry's id, cache not expired and not
//     yet due for a refresh (sts_refresh_due)
//                                          -> the cached policy (source Cached), no fetch;
//   - otherwise a valid record            -> fetch https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
//                                             parse it, cache it for max_age (source Fetched);
//     fetch or parse failed               -> the cached policy if one has not expired (source
//                                             Cached, `error` says why no fresh one), else none;
//   - no record, or DNS failed            -> the cached policy if one has not expired (a removed TXT
//                                             record does not revoke a policy: section 5), else
//                                             none (source None).
// A policy in mode none is a policy too (source Fetched/Cached, mode None): it turns STS off.
// With options.always_fetch (the admin's `mta-sts check`) the policy is fetched even when the id
// is unchanged.
//
// How it fails: never outright. Every outcome is a PolicyResult; problems the domain should hear
// about carry an RFC 8460 result-type in `failure_type` ("sts-policy-fetch-error",
// "sts-policy-invalid", "sts-webpki-invalid") for TLS-RPT. A cache that cannot be written is
// noted in `notes` and otherwise ignored. `done` runs once from the loop, never inside start();
// destroying the PolicyLookup cancels it; `done` may destroy it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "router/dns/dns_resolver.h"
#include "router/mta_sts/mta_sts_cache.h"
#include "router/mta_sts/mta_sts_policy.h"

struct event_base;

namespace router {

enum class PolicySource { None, Fetched, Cached };
const char* policy_source_name(PolicySource s);  // "none", "fetched", "cached"

struct PolicyResult {
  std::string domain;                 // the policy domain, normalised
  PolicySource source = PolicySource::None;
  std::optional<StsPolicy> policy;    // set exactly when source is not None
  std::string id;                     // of the policy in force (or of the TXT record when none)
  int64_t expires = 0;                // unix seconds, when a policy is in force
  std::string txt;                    // the STSv1 TXT record found, if any
  std::string error;                  // why no fresh policy: TXT, fetch or parse problem; may be set with Cached
  std::string failure_type;           // RFC 8460 result-type for `error` when the domain should hear of it
  std::string policy_text;            // the body fetched (as served), when one was fetched
  std::vector<std::string> notes;     // cache trouble and other remarks

  StsMode mode() const { return policy ? policy->mode : StsMode::None; }
  bool enforce() const { return mode() == StsMode::Enforce; }
  bool testing() const { return mode() == StsMode::Testing; }
};

struct StsOptions {
  int https_port = 443;       // mta_sts.https_port: tests only
  uint64_t timeout = 60;      // mta_sts.fetch_timeout: the whole HTTPS exchange
  bool always_fetch = false;  // fetch even when the TXT id matches the cache
};

class HttpsFetch;

class PolicyLookup {
 public:
  using Done = std::function<void(PolicyResult)>;
  // `https_ctx` from make_https_context(); `cache` may be null (no caching). All must outlive
  // the lookup. `domain` is the policy domain (recipient domain, or the smart host's: see
  // sts_policy_domain() in mta_sts_enforce.h).
  static std::unique_ptr<PolicyLookup> start(event_base* base, DnsService& dns, WOLFSSL_CTX* https_ctx,
                                             StsCache* cache, const StsOptions& options,
                                             const std::string& domain, Done done);
  ~PolicyLookup();
  PolicyLookup(const PolicyLookup&) = delete;
  PolicyLookup& operator=(const PolicyLookup&) = delete;

  class Impl;
  struct Key {
   private:
    friend class PolicyLookup;
    Key() = default;
  };
  PolicyLookup(Key, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace router
