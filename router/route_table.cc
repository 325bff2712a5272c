// route_table.cc - compiles address lists once and walks the ordered routes per recipient.
//
// Cannot fail at construction: unusable list entries are collected in bad_entries().
#include "router/route_table.h"

#include <map>

namespace router {

RouteTable::RouteTable(const config::Config& cfg) {
  std::vector<std::pair<std::string, const AddressMatcher*>> by_name;
  for (const auto& list : cfg.address_lists) {
    std::vector<std::string> bad;
    matchers_.push_back(std::make_unique<AddressMatcher>(list.entries, &bad));
    by_name.emplace_back(list.name, matchers_.back().get());
    for (const auto& b : bad) bad_entries_.push_back(list.name + ": " + b);
  }
  for (const auto& route : cfg.routes) {
    CompiledRoute cr{&route, false, {}};
    for (const auto& name : route.match) {
      if (name == "*") cr.match_all = true;
      for (const auto& [list_name, matcher] : by_name)
        if (list_name == name) cr.lists.push_back(matcher);
    }
    routes_.push_back(std::move(cr));
  }
}

RouteMatch RouteTable::match(const std::string& address) const {
  RouteMatch m;
  auto r = parse_recipient(address, &m.error);
  if (!r) return m;
  m.recipient = std::move(*r);
  for (const auto& cr : routes_) {
    bool hit = cr.match_all;
    for (size_t i = 0; !hit && i < cr.lists.size(); ++i) hit = cr.lists[i]->matches(m.recipient);
    if (hit) {
      m.route = cr.route;
      return m;
    }
  }
  return m;
}

const config::Route* route_for(const config::Config& cfg, const std::string& address) {
  return RouteTable(cfg).route_for(address);
}

Grouping group_by_route(const RouteTable& table, const std::vector<std::string>& recipients) {
  Grouping g;
  std::map<std::pair<const config::Route*, std::string>, size_t> index;  // -> g.groups
  for (size_t i = 0; i < recipients.size(); ++i) {
    RouteMatch m = table.match(recipients[i]);
    if (!m.route) {
      g.unrouted.push_back(i);
      continue;
    }
    std::string hop = m.route->kind == config::RouteKind::Mx ? m.recipient.domain : m.route->host;
    auto [it, fresh] = index.emplace(std::make_pair(m.route, hop), g.groups.size());
    if (fresh) g.groups.push_back(RecipientGroup{m.route, hop, {}});
    g.groups[it->second].recipients.push_back(i);
  }
  return g;
}

}  // namespace router
