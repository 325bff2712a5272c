// mta_sts_policy.h - MTA-STS (RFC 8461) records and policies: strict parsers and MX matching.
//
// parse_sts_txt() reads the `_mta-sts.DOMAIN` TXT answer ("v=STSv1; id=..."), parse_sts_policy()
// the policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt, and
// mx_matches_policy() says whether an MX host may be used under a policy (section 4.1: a pattern
// "*.example.com" stands for exactly one more label on the left, never for "example.com" itself
// nor for "a.b.example.com").
//
// The policy parser is strict where the RFC's grammar is: "version: STSv1" required; "mode" one of
// enforce / testing / none; "max_age" 1-10 digits, at most 31557600; every field but "mx" at most
// once (a repeated version, mode or max_age is an error, not "first wins"); at least one "mx" unless
// the mode is none; mx patterns must be valid host names (optionally "*." + a name with two or more
// labels). Lines end in CRLF or LF (both accepted, also mixed); blank lines are skipped; fields the
// RFC does not define are ignored (section 3.2: extensions). Keys are case-sensitive.
//
// How it fails: every parser returns a value with `error` set in plain words ("max_age missing",
// "mode 'strict' is not enforce, testing or none") and no policy. Nothing here throws on input.
// Pure functions: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace router {

constexpr uint32_t kStsMaxAge = 31557600;       // RFC 8461 3.2: about one year
constexpr size_t kStsMaxPolicyBytes = 64 * 1024;  // RFC 8461 3.3: senders may stop at 64 KiB

enum class StsMode { Enforce, Testing, None };
const char* sts_mode_name(StsMode m);  // "enforce", "testing", "none"

struct StsPolicy {
  StsMode mode = StsMode::None;
  std::vector<std::string> mx;  // patterns, lower case, no trailing dot, in file order
  uint32_t max_age = 0;         // seconds
};

struct StsPolicyParse {
  std::optional<StsPolicy> policy;
  std::string error;  // set when policy is empty
};

StsPolicyParse parse_sts_policy(const std::string& text);

// The policy as a canonical policy file (LF line ends, version first): what the cache stores and
// `mta-sts check` prints. parse_sts_policy(format_sts_policy(p)) gives p back.
std::string format_sts_policy(const StsPolicy& p);

// The id from the TXT strings found at _mta-sts.DOMAIN. Records not starting with "v=STSv1" are
// ignored (section 3.1); none left, more than one left, or a malformed one (id not 1-32 letters
// and digits, missing id, bad field syntax) → nullopt and *error.
std::optional<std::string> parse_sts_txt(const std::vector<std::string>& txt, std::string* error);

// Section 4.1 matching of one MX host name (any case, trailing dot ignored) against one pattern.
bool mx_pattern_matches(const std::string& host, const std::string& pattern);
// Whether `host` matches any of the policy's mx patterns.
bool mx_matches_policy(const std::string& host, const StsPolicy& policy);

// "example.com" from "Example.COM." - lower case, no trailing dot.
std::string normalise_domain(std::string name);

}  // namespace router
