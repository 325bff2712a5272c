// address_match.cc - normalisation of domains (libidn2) and compiled address lists.
//
// The library calls that can fail are idn2_to_ascii_8z (its error becomes a value) and
// idn2_to_unicode_8z8z (the name is then shown as it is).
#include "router/address_match.h"

#include <idn2.h>

#include <algorithm>
#include <memory>

namespace router {
namespace {

struct Idn2Free {
  void operator()(char* p) const { idn2_free(p); }
};

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool is_address_literal(const std::string& d) {
  return d.size() >= 2 && d.front() == '[' && d.back() == ']';
}

std::optional<std::string> fail(std::string* err, std::string text) {
  if (err) *err = std::move(text);
  return std::nullopt;
}

// libidn2 on one name; nullopt and *err when it refuses the name.
std::optional<std::string> idn_to_ascii(const std::string& name, std::string* err) {
  char* out = nullptr;
  int rc = idn2_to_ascii_8z(name.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  std::unique_ptr<char, Idn2Free> owned(out);
  if (rc != IDN2_OK) return fail(err, "'" + name + "' is not a valid internationalised domain: " + idn2_strerror(rc));
  return ascii_lower(owned.get());
}

// An ASCII name may still hold A-labels ("xn--..."): each must be valid Punycode of a name
// IDNA2008 allows, or a list entry and a recipient could name the same bogus label differently.
bool alabels_valid(const std::string& d, std::string* err) {
  for (size_t start = 0; start <= d.size();) {
    size_t dot = std::min(d.find('.', start), d.size());
    std::string label = d.substr(start, dot - start);
    if (label.size() >= 4 && ascii_lower(label.substr(0, 4)) == "xn--" && !idn_to_ascii(label, err)) return false;
    start = dot + 1;
  }
  return true;
}

// The key an address entry is stored and looked up under: lower-case local part, normalised domain.
std::string address_key(const Recipient& r) { return ascii_lower(r.local) + "@" + r.domain; }

}  // namespace

std::optional<std::string> normalize_domain(const std::string& domain, std::string* err) {
  std::string d = domain;
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty()) return fail(err, "empty domain");
  // ASCII input is only lower-cased (libidn2 would also reject names that are fine for mail
  // routing, such as labels with '_'), but its A-labels must be valid.
  if (is_ascii(d)) {
    if (!alabels_valid(d, err)) return std::nullopt;
    return ascii_lower(d);
  }
  return idn_to_ascii(d, err);
}

std::string dns_name(const std::string& name) { return normalize_domain(name).value_or(name); }

std::string domain_unicode(const std::string& domain) {
  if (domain.find("xn--") == std::string::npos) return domain;
  char* out = nullptr;
  int rc = idn2_to_unicode_8z8z(domain.c_str(), &out, 0);
  std::unique_ptr<char, Idn2Free> owned(out);
  return rc == IDN2_OK && owned ? std::string(owned.get()) : domain;
}

std::optional<Recipient> parse_recipient(const std::string& address, std::string* err) {
  auto at = address.rfind('@');
  if (at == std::string::npos) {
    if (err) *err = "'" + address + "' has no domain";
    return std::nullopt;
  }
  Recipient r;
  r.local = address.substr(0, at);
  std::string domain = address.substr(at + 1);
  if (r.local.empty()) {
    if (err) *err = "'" + address + "' has an empty local part";
    return std::nullopt;
  }
  if (is_address_literal(domain)) {
    r.domain = ascii_lower(domain);  // "[IPv6:...]" tag and hex digits are case-insensitive
    return r;
  }
  auto d = normalize_domain(domain, err);
  if (!d) return std::nullopt;
  r.domain = *d;
  return r;
}

AddressMatcher::AddressMatcher(const std::vector<std::string>& entries,
                               std::vector<std::string>* bad) {
  for (const auto& e : entries) {
    std::string err;
    if (e.find('@') != std::string::npos) {
      auto r = parse_recipient(e, &err);
      if (r) addresses_.insert(address_key(*r));
    } else if (!e.empty() && e.front() == '.') {
      auto d = normalize_domain(e.substr(1), &err);
      if (d) parents_.insert(*d);
    } else {
      auto d = normalize_domain(e, &err);
      if (d) domains_.insert(*d);
    }
    if (!err.empty() && bad) bad->push_back(e + ": " + err);
  }
}

bool AddressMatcher::matches(const Recipient& r) const {
  if (domains_.count(r.domain)) return true;
  if (!addresses_.empty() && addresses_.count(address_key(r))) return true;
  // Walk the strict parents: "a.b.example.com" tries "b.example.com", "example.com", "com".
  for (auto dot = r.domain.find('.'); dot != std::string::npos;
       dot = r.domain.find('.', dot + 1)) {
    if (parents_.count(r.domain.substr(dot + 1))) return true;
  }
  return false;
}

}  // namespace router
