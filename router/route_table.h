// route_table.h - which route a recipient takes, and a message's recipients grouped by route.
//
// Routes are tried in config order; the first whose `match` names a list covering the recipient,
// or "*", wins (SPEC R-ROUTE). No match is a value (nullptr / no route): the SMTP server answers
// 550 5.7.1 at RCPT, so a config without "*" relays only to listed destinations. A recipient whose
// domain is not a valid (internationalised) domain name has no route either.
//
// The config has been validated by the loader (list names exist, hosts present), so a route that
// names an unknown list simply never matches through that name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "router/address_match.h"

namespace router {

struct RouteMatch {
  const config::Route* route = nullptr;  // nullptr: no route
  Recipient recipient;                   // valid when `error` is empty
  std::string error;                     // why the address could not be routed at all
};

// Address lists compiled once per config; the config must outlive the table. Immutable after
// construction, so one table may serve every session of one config generation.
class RouteTable {
 public:
  explicit RouteTable(const config::Config& cfg);

  RouteMatch match(const std::string& address) const;
  const config::Route* route_for(const std::string& address) const {
    return match(address).route;
  }
  // List entries that could not be normalised ("list: entry: why"), for check-config.
  const std::vector<std::string>& bad_entries() const { return bad_entries_; }

 private:
  struct CompiledRoute {
    const config::Route* route;
    bool match_all = false;
    std::vector<const AddressMatcher*> lists;
  };
  std::vector<std::unique_ptr<AddressMatcher>> matchers_;  // one per address list
  std::vector<CompiledRoute> routes_;
  std::vector<std::string> bad_entries_;
};

// Convenience for one-off lookups (route-for, tests): compiles the lists on every call. A server
// should keep a RouteTable per config generation instead.
const config::Route* route_for(const config::Config& cfg, const std::string& address);

// Recipients of one message that share a route and a next hop: one delivery transaction each.
// next_hop is the recipient domain for kind "mx" and the route's host for kind "host".
struct RecipientGroup {
  const config::Route* route = nullptr;
  std::string next_hop;
  std::vector<size_t> recipients;  // indexes into the input vector, in input order
};

struct Grouping {
  std::vector<RecipientGroup> groups;  // in order of first appearance
  std::vector<size_t> unrouted;        // indexes of recipients with no route
};

Grouping group_by_route(const RouteTable& table, const std::vector<std::string>& recipients);

}  // namespace router
