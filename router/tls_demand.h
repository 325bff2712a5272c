// tls_demand.h - what a message itself asks of TLS, on top of its route (RFC 8689).
//
// A message normally goes by its route's TLS options (TlsDemand::Route). Two things in the
// message change that, for that message only:
//   RequireTls  MAIL had REQUIRETLS: TLS is mandatory and the certificate must be verified with
//               the host name (PKIX; an MTA-STS policy adds its own checks on top), whatever
//               the route says; a failure bounces at once (one attempt, as a required route);
//               and the next hop must offer REQUIRETLS, which the session checks before MAIL.
//   TlsOptional the message says "TLS-Required: No" (RFC 8689 4.2.2), has no REQUIRETLS, and the
//               config honours the header (tls_required_header = "honour"): a "required" route
//               is taken as opportunistic and an MTA-STS enforce policy as testing, so a TLS
//               failure no longer stops the message. A route with tls = "none" stays so.
// The scheduler keeps one destination per demand, so sessions opened under one demand never
// carry mail of another (a verified REQUIRETLS session could carry anything; the reverse not).
//
// How it fails: pure functions over values; they cannot fail.
#pragma once

#include <string>

#include "config/config.h"

namespace router {

enum class TlsDemand { Route, RequireTls, TlsOptional };

// "route", "requiretls", "tls-optional": for destination keys and log lines.
const char* tls_demand_name(TlsDemand d);

// The demand of a message: `require_tls` its REQUIRETLS flag, `tls_required_no` whether its
// header section says "TLS-Required: No".
TlsDemand tls_demand(bool require_tls, bool tls_required_no, config::TlsRequiredHeader policy);

// The route a delivery under `demand` uses (a copy; the name is unchanged).
config::Route route_for_demand(const config::Route& route, TlsDemand demand);

// Whether an MTA-STS enforce policy is applied only as testing for this demand.
bool sts_as_testing(TlsDemand demand);

// True when the header section (up to the first empty line) has a TLS-Required field whose
// value is "No" (case-insensitive, surrounding white space ignored).
bool says_tls_required_no(const std::string& message);

}  // namespace router
