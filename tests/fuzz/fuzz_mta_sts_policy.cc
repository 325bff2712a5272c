// fuzz_mta_sts_policy.cc - libFuzzer target: MTA-STS policy file and TXT record (router/mta_sts_policy.h).
//
// The policy file comes from a web server we do not control. Checks: a refused policy says why; an
// accepted one survives format → parse unchanged, has a max_age within RFC 8461's bound and mx
// patterns unless the mode is none. The same bytes, split on LF, are also parsed as TXT strings,
// and matched as host names against the policy.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "router/mta_sts/mta_sts_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > router::kStsMaxPolicyBytes) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  router::StsPolicyParse r = router::parse_sts_policy(text);
  if (!r.policy && r.error.empty()) abort();
  if (r.policy) {
    const router::StsPolicy& p = *r.policy;
    if (p.max_age > router::kStsMaxAge) abort();
    if (p.mode != router::StsMode::None && p.mx.empty()) abort();
    router::StsPolicyParse again = router::parse_sts_policy(router::format_sts_policy(p));
    if (!again.policy || again.policy->mode != p.mode || again.policy->mx != p.mx ||
        again.policy->max_age != p.max_age) {
      abort();
    }
  }
  std::vector<std::string> txt;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    txt.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string error;
  auto id = router::parse_sts_txt(txt, &error);
  if (!id && error.empty()) abort();
  if (id && (id->empty() || id->size() > 32)) abort();
  for (size_t i = 0; i + 1 < txt.size() && i < 8; ++i) {
    (void)router::mx_pattern_matches(txt[i], txt[i + 1]);
    if (r.policy) (void)router::mx_matches_policy(txt[i], *r.policy);
  }
  (void)router::normalise_domain(text);
  return 0;
}
