// tenant_binding.cc - relay_policy's sender rules (see tenant_binding.h).
#include "relay/tenant/tenant_binding.h"

#include "relay/message/message_header.h"
#include "relay/queue/envelope_params.h"  // address_domain

namespace relay {

namespace {

// The addresses of a From: value: a mailbox-list, split at commas outside quotes, <> and ().
std::vector<std::string> from_addresses(const std::string& value) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  bool quoted = false, angle = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      cur += value.substr(i++, 2);
      continue;
    }
    if (c == '"' && depth == 0) quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (!quoted && c == ')' && depth > 0) --depth;
    if (!quoted && depth == 0 && c == '<') angle = true;
    if (!quoted && depth == 0 && c == '>') angle = false;
    if (c == ',' && !quoted && depth == 0 && !angle) {
      out.push_back(mailbox_address(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  out.push_back(mailbox_address(cur));
  return out;
}

}  // namespace

bool domain_listed(const std::vector<std::string>& list, const std::string& domain) {
  if (domain.empty()) return false;
  for (const auto& e : list) {
    if (e[0] == '.') {
      if (domain.size() > e.size() && domain.compare(domain.size() - e.size(), e.size(), e) == 0) return true;
    } else if (domain == e) {
      return true;
    }
  }
  return false;
}

std::string domain_words(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& e : list) out += (out.empty() ? "" : ", ") + e;
  return out;
}

bool binding_applies(const config::RelayPolicy& p, const config::IpAddr& client, const std::string& sender) {
  if (!p.configured || config::any_contains(p.exempt, client)) return false;
  return !(sender.empty() && p.allow_null_sender);
}

std::optional<TenantRefusal> check_envelope_sender(const config::RelayPolicy& p, const std::string& sender) {
  if (p.sender_domains.empty()) return std::nullopt;
  const std::string allowed = domain_words(p.sender_domains);
  if (sender.empty()) {
    return TenantRefusal{"the null sender <> is not relayed here (relay_policy.allow_null_sender is off)",
                         "null sender", "", allowed};
  }
  const std::string dom = address_domain(sender);
  if (domain_listed(p.sender_domains, dom)) return std::nullopt;
  return TenantRefusal{"<" + sender + ">: sender domain " + dom + " is not relayed here (only " + allowed + ")",
                       "sender domain not ours", dom, allowed};
}

std::optional<TenantRefusal> check_header_from(const config::RelayPolicy& p, const std::string& message) {
  if (!p.check_from || p.sender_domains.empty()) return std::nullopt;
  const std::string allowed = domain_words(p.sender_domains);
  const std::string value = header_value(message, "From");
  for (const auto& a : from_addresses(value)) {
    const std::string dom = address_domain(a);
    if (domain_listed(p.sender_domains, dom)) continue;
    if (a.empty()) {
      return TenantRefusal{"the message has no From: address in " + allowed + " (From: " +
                               (value.empty() ? "missing" : "without an address") + ")",
                           "header From not ours", "", allowed};
    }
    return TenantRefusal{"header From: domain " + dom + " is not relayed here (only " + allowed + ")",
                         "header From not ours", dom, allowed};
  }
  return std::nullopt;
}

namespace {

// "a, b or c"
std::string or_list(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i == 0 ? "" : i + 1 == v.size() ? " or " : ", ") + v[i];
  return out;
}

}  // namespace

std::string binding_summary(const config::Config& cfg) {
  std::vector<std::string> allow;
  for (const auto& c : cfg.allow) allow.push_back(c.text);
  std::string from = "accepting mail from " + or_list(allow);
  const auto& p = cfg.relay_policy;
  if (!p.configured || (p.sender_domains.empty() && p.require_dkim.empty())) {
    return from + " for any sender (no relay_policy binds it to your tenant)";
  }
  std::string out = from + " only";
  if (!p.sender_domains.empty()) {
    std::vector<std::string> senders;
    for (const auto& d : p.sender_domains) senders.push_back(d[0] == '.' ? "@*" + d : "@" + d);
    out += " for senders " + or_list(senders) + (p.check_from ? " (envelope and From: header)" : " (envelope)");
  }
  if (!p.require_dkim.empty()) out += " with a valid DKIM signature by " + or_list(p.require_dkim);
  if (p.allow_null_sender) out += "; the null sender (bounces) is accepted without these checks";
  if (!p.exempt.empty()) {
    std::vector<std::string> ex;
    for (const auto& c : p.exempt) ex.push_back(c.text);
    out += "; clients " + or_list(ex) + " are exempt";
  }
  return out;
}

std::string header_from_domain(const std::string& message) {
  auto list = from_addresses(header_value(message, "From"));
  return list.empty() ? "" : address_domain(list[0]);
}

}  // namespace relay
