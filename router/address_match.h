// address_match.h - recipient addresses and address lists, compared the way DNS and SMTP do.
//
// Domains are compared in lower-case A-label form: a UTF-8 domain is converted with libidn2
// (UTS #46 non-transitional mapping, NFC), an ASCII domain is only lower-cased. Local parts are
// compared ASCII-case-insensitively too (SPEC R-ROUTE): RFC 5321 section 2.4 lets the final host
// treat them as case-sensitive, but a policy list must not be bypassed by writing CEO@ for ceo@.
//
// List entries (SPEC R-ROUTE, seed 000):
//   "example.com"        matches example.com only;
//   ".example.com"       matches the subdomains of example.com (a.example.com, b.a.example.com),
//                        NOT example.com itself - list both entries to cover both;
//   "ceo@example.com"    matches that address only, in any letter case (CEO@Example.COM too).
//
// Failures are values: a domain that is not a valid IDN gives std::nullopt from normalize_domain()
// and an error text; such an entry never matches and such a recipient has no route.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace router {

// Lower-case A-label form of `domain` ("Bücher.Example." -> "xn--bcher-kva.example"); one trailing
// dot is dropped. nullopt (and *err set) when the domain is empty or not a valid IDN.
// An ASCII domain is only lower-cased, but each of its A-labels ("xn--...") must be valid Punycode
// of a label IDNA2008 allows ("xn--zz" and "xn--ls8h", an emoji, are refused).
std::optional<std::string> normalize_domain(const std::string& domain, std::string* err = nullptr);

// A host name as DNS wants it: normalize_domain() of it, or the name as given when it is not a
// valid IDN (the lookup then fails and says so). For a route's host: "mx.bücher.example" is
// looked up, named in SNI and checked in certificates as "mx.xn--bcher-kva.example".
std::string dns_name(const std::string& name);

// The U-label form of a normalised domain, for people ("xn--bcher-kva.example" ->
// "bücher.example"); the domain as given when it has no A-label or does not convert.
std::string domain_unicode(const std::string& domain);

// A recipient split at its last '@', with the domain normalised.
struct Recipient {
  std::string local;   // exactly as given (delivery keeps it; matching lower-cases it)
  std::string domain;  // normalize_domain() of the part after '@'; an address literal as given
};

// nullopt (and *err set) when there is no '@', the local part or domain is empty, or the domain
// is not a valid IDN. "[192.0.2.1]" style address literals are kept as they are.
std::optional<Recipient> parse_recipient(const std::string& address, std::string* err = nullptr);

// One address list, compiled for lookups in O(labels).
class AddressMatcher {
 public:
  // Entries that cannot be normalised are skipped and described in *bad (if given).
  explicit AddressMatcher(const std::vector<std::string>& entries,
                          std::vector<std::string>* bad = nullptr);

  bool matches(const Recipient& r) const;

 private:
  std::unordered_set<std::string> domains_;    // "example.com"
  std::unordered_set<std::string> parents_;    // ".example.com" stored as "example.com"
  std::unordered_set<std::string> addresses_;  // "local@example.com" (both parts lower-cased)
};

}  // namespace router
