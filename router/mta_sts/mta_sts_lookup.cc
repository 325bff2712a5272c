// mta_sts_lookup.cc - TXT discovery, cache, fetch: the policy in force (see the header).
#include "router/mta_sts/mta_sts_lookup.h"

#include <ctime>

#include "router/https/https_client.h"

namespace router {

const char* policy_source_name(PolicySource s) {
  switch (s) {
    case PolicySource::None: return "none";
    case PolicySource::Fetched: return "fetched";
    case PolicySource::Cached: return "cached";
  }
  return "?";
}

class PolicyLookup::Impl {
 public:
  Impl(event_base* base, DnsService& dns, WOLFSSL_CTX* ctx, StsCache* cache, const StsOptions& opts,
       const std::string& domain, Done done)
      : base_(base), dns_(dns), ctx_(ctx), cache_(cache), opts_(opts), done_(std::move(done)) {
    res_.domain = normalise_domain(domain);
  }

  void start() {
    now_ = static_cast<int64_t>(time(nullptr));
    if (cache_) {
      if (auto c = cache_->get(res_.domain); c && c->expires > now_) cached_ = std::move(c);
    }
    txt_ = dns_.lookup("_mta-sts." + res_.domain, DnsType::TXT, [this](DnsAnswer a) { on_txt(std::move(a)); });
  }

 private:
  void on_txt(DnsAnswer a) {
    if (a.status == DnsStatus::TempFail) {
      res_.error = "_mta-sts." + res_.domain + " TXT lookup failed: " + a.reason;
      return use_cache_or_none();
    }
    std::string why;
    std::optional<std::string> id;
    if (a.status == DnsStatus::Ok) {
      id = parse_sts_txt(a.txt, &why);
      for (const auto& t : a.txt) {
        if (t.compare(0, 7, "v=STSv1") == 0) res_.txt = t;
      }
    }
    if (!id) {
      // No (valid) record: not a failure unless a record exists but is broken.
      if (!res_.txt.empty()) {
        res_.error = "_mta-sts." + res_.domain + " TXT: " + why;
        res_.failure_type = "sts-policy-invalid";
      }
      return use_cache_or_none();
    }
    res_.id = *id;
    bool fresh = cached_ && cached_->id == *id && !sts_refresh_due(*cached_, now_);
    if (fresh && !opts_.always_fetch) return use_cache_or_none();
    HttpsRequest req;
    req.host = "mta-sts." + res_.domain;
    req.port = opts_.https_port;
    req.path = "/.well-known/mta-sts.txt";
    req.timeout = opts_.timeout;
    req.max_body = kStsMaxPolicyBytes;
    fetch_ = HttpsFetch::start(base_, dns_, ctx_, req, [this](HttpsResponse r) { on_fetch(std::move(r)); });
  }

  void on_fetch(HttpsResponse r) {
    const std::string url = "https://mta-sts." + res_.domain +
                            (opts_.https_port == 443 ? "" : ":" + std::to_string(opts_.https_port)) +
                            "/.well-known/mta-sts.txt";
    if (r.error != HttpsError::None || r.status != 200) {
      res_.error = "policy fetch from " + url + " failed: " +
                   (r.error == HttpsError::None ? "HTTP status " + std::to_string(r.status) : r.reason);
      bool webpki = r.error == HttpsError::Certificate || r.error == HttpsError::Tls;
      res_.failure_type = webpki ? "sts-webpki-invalid" : "sts-policy-fetch-error";
      return use_cache_or_none();
    }
    res_.policy_text = r.body;
    // RFC 8461 3.2: the policy is served as text/plain.
    if (r.content_type.compare(0, 10, "text/plain") != 0) {
      res_.error = "policy at " + url + " has media type '" + r.content_type + "', not text/plain";
      res_.failure_type = "sts-policy-invalid";
      return use_cache_or_none();
    }
    StsPolicyParse parsed = parse_sts_policy(r.body);
    if (!parsed.policy) {
      res_.error = "policy at " + url + " is invalid: " + parsed.error;
      res_.failure_type = "sts-policy-invalid";
      return use_cache_or_none();
    }
    CachedPolicy c{res_.id, now_, now_ + static_cast<int64_t>(parsed.policy->max_age), *parsed.policy};
    std::string err;
    if (cache_ && !cache_->put(res_.domain, c, &err)) res_.notes.push_back(err);
    res_.source = PolicySource::Fetched;
    res_.policy = c.policy;
    res_.expires = c.expires;
    finish();
  }

  void use_cache_or_none() {
    if (cached_) {
      res_.source = PolicySource::Cached;
      res_.policy = cached_->policy;
      res_.expires = cached_->expires;
      if (!res_.id.empty() && res_.id != cached_->id) {
        res_.notes.push_back("TXT id " + res_.id + " differs from the cached policy's id " + cached_->id);
      }
      res_.id = cached_->id;
    }
    finish();
  }

  void finish() {
    Done done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(res_));  // may destroy us
  }

  event_base* base_;
  DnsService& dns_;
  WOLFSSL_CTX* ctx_;
  StsCache* cache_;
  StsOptions opts_;
  Done done_;
  PolicyResult res_;
  int64_t now_ = 0;
  std::optional<CachedPolicy> cached_;
  DnsLookup txt_;
  std::unique_ptr<HttpsFetch> fetch_;
};

PolicyLookup::PolicyLookup(Key, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PolicyLookup::~PolicyLookup() = default;

std::unique_ptr<PolicyLookup> PolicyLookup::start(event_base* base, DnsService& dns, WOLFSSL_CTX* https_ctx,
                                                  StsCache* cache, const StsOptions& options,
                                                  const std::string& domain, Done done) {
  auto impl = std::make_unique<Impl>(base, dns, https_ctx, cache, options, domain, std::move(done));
  Impl* raw = impl.get();
  auto p = std::make_unique<PolicyLookup>(Key(), std::move(impl));
  raw->start();
  return p;
}

}  // namespace router
