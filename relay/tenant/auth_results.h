// auth_results.h - the relay's Authentication-Results header field (RFC 8601) for the tenant
// binding's DKIM checks, and the removal of incoming ones that claim to be ours.
//
// authserv-id is the relay's hostname. An incoming field whose authserv-id equals it (any case)
// could only be forged upstream, so it is removed (RFC 8601 5); every other field is kept, and
// nothing else in the message changes.
//
// How it fails: it does not (pure functions over CRLF text).
#pragma once

#include <string>

#include "relay/tenant/message_check.h"

namespace relay {

// "Authentication-Results: HOST;\r\n\tdkim=pass header.d=... header.s=... header.a=... header.b=...\r\n"
// (one dkim= result per checked signature; "dkim=none" when there were none).
std::string auth_results_field(const std::string& hostname, const MessageVerdict& v);

// `message` without the Authentication-Results fields of its header section whose authserv-id is
// `hostname`; *removed counts them.
std::string strip_own_auth_results(const std::string& message, const std::string& hostname, int* removed);

}  // namespace relay
