// cmd_route_for.h - `smarthost route-for -c FILE ADDRESS`: the admin's first debugging tool.
//
// Prints the route ADDRESS takes, the route's TLS options, and the ordered candidate hosts with
// preference, port and addresses, plus notes (implicit MX, skipped MX targets), exactly as a
// delivery would compute them. Example:
//
//   route: partners (kind mx)
//   tls: required, verify_ca yes, verify_hostname yes, min_tls_version 1.2, client_cert no
//   ciphers: default outbound list
//   lookup: MX partner.test.example
//   candidate hosts:
//     1. mx1.test.example (pref 10) port 25: 2001:db8::1, 192.0.2.1
//   notes:
//     - mx3.test.example skipped: it does not resolve (AAAA: ...; A: ...)
//
// How it fails: exit 1 with one line on `err` ("route-for: ADDRESS: ...") when no route matches,
// the address is unusable, the resolver cannot start, or DNS fails (temporary or permanent).
#pragma once

#include <ostream>
#include <string>

#include "config/config.h"
#include "router/candidate_hosts.h"
#include "router/dns/dns_resolver.h"

struct event_base;

namespace relay {

// Runs its own event_base and resolver; returns the exit code (0 or 1).
int run_route_for(const config::Config& cfg, const std::string& address, std::ostream& out,
                  std::ostream& err);

// Same on a caller's loop and DNS service (tests use a scripted DnsService). Runs `base` until
// the lookup ends.
int run_route_for(const config::Config& cfg, const std::string& address, std::ostream& out,
                  std::ostream& err, router::DnsService& dns, event_base* base);

}  // namespace relay
