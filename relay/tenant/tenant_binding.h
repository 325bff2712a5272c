// tenant_binding.h - the rules of relay_policy (SPEC R-TENANT) that need no network: which
// clients and senders the binding applies to, and whether an envelope sender or a From: header
// belongs to one of our sender_domains.
//
// An allowlisted range is often shared by every tenant of a hosted service; the binding keeps
// the other tenants from relaying through us. The DKIM part (keys from DNS) is message_check.h.
//
// How it fails: it does not; a refusal is a value (TenantRefusal) holding the reply text and
// the words for the log line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/cidr.h"
#include "config/config.h"

namespace relay {

struct TenantRefusal {
  std::string text;     // the reply text after "550 5.7.1 "
  std::string reason;   // for the log line ("sender domain not ours")
  std::string domain;   // the domain found ("" for the null sender / no From:)
  std::string allowed;  // the domains expected, comma separated
};

// True when `domain` (lower case) is one of `list`: "example.com" matches itself only,
// ".example.com" every subdomain of example.com (not example.com itself).
bool domain_listed(const std::vector<std::string>& list, const std::string& domain);

// "example.com, .example.com": the list as the replies and log lines name it.
std::string domain_words(const std::vector<std::string>& list);

// Whether the binding applies to this transaction at all: relay_policy configured, the client
// not in exempt, and not the null sender when allow_null_sender.
bool binding_applies(const config::RelayPolicy& p, const config::IpAddr& client, const std::string& sender);

// At MAIL: the envelope sender must be in sender_domains (when set); the null sender needs
// allow_null_sender. nullopt: go on.
std::optional<TenantRefusal> check_envelope_sender(const config::RelayPolicy& p, const std::string& sender);

// At end of DATA, with check_from: the header From: (every address of it) must be in
// sender_domains. nullopt: go on.
std::optional<TenantRefusal> check_header_from(const config::RelayPolicy& p, const std::string& message);

// check-config's sentence for the binding ("accepting mail from 209.85.128.0/17 only for senders
// @example.com with a valid DKIM signature by example.com or ...").
std::string binding_summary(const config::Config& cfg);

// The From: header's domain (first address), lower case; "" without one. Chooses the dkim_sign
// entry too.
std::string header_from_domain(const std::string& message);

}  // namespace relay
