// envelope_params.h - the envelope parameters a queued message keeps and every hop re-sends:
// RFC 3461 DSN requests (RET, NOTIFY bits, xtext for ENVID/ORCPT) and the recipient domain.
// Pure functions; xtext_decode() returns nullopt on a malformed escape, nothing else fails.
#pragma once

#include <optional>
#include <string>

namespace relay {

enum class Ret { Unset, Full, Hdrs };
enum Notify : unsigned { NotifyNever = 1, NotifySuccess = 2, NotifyFailure = 4, NotifyDelay = 8 };

// RFC 3461 xtext ("+2B" escapes). nullopt on a malformed escape.
std::optional<std::string> xtext_decode(const std::string& in);
std::string xtext_encode(const std::string& in);

// RFC 6533 3: an ORCPT value ("utf-8;jörg@bücher.example", taken in an SMTPUTF8 transaction)
// as a next hop can take it: verbatim to a hop that offers SMTPUTF8, else each non-ASCII
// character as "\x{HEX}" (utf-8-addr-xtext), which is plain xtext. ASCII values are unchanged.
std::string orcpt_for_hop(const std::string& orcpt, bool hop_smtputf8);

// The domain part of an address, lower-cased; "" when there is none.
std::string address_domain(const std::string& address);

}  // namespace relay
