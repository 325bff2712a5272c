// route_text.h - a route's options and its candidate hosts as the blocks of text that
// `route-for` and `test-route` print. Printing cannot fail.
#pragma once

#include <ostream>

#include "config/config.h"
#include "router/candidate_hosts.h"

namespace router {

// "route: NAME (kind ...)", the TLS options and the cipher list.
void print_route(const config::Route& route, std::ostream& out);
// The lookup, the ordered candidate hosts with addresses, and the notes.
void print_candidates(const Candidates& c, std::ostream& out);
// A normalised domain in both forms when it has A-labels: "xn--bcher-kva.example (U-label
// bücher.example)"; else the domain as it is.
std::string domain_both_forms(const std::string& domain);

}  // namespace router
