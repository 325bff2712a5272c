// config_warnings.cc - the checks behind config_warnings() (see config_warnings.h).
#include "config/config_warnings.h"

#include <algorithm>

namespace config {

namespace {

const std::vector<Cidr>& private_ranges() {
  static const std::vector<Cidr> ranges = [] {
    std::vector<Cidr> v;
    for (const char* t : {"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                          "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10"}) {
      std::string why;
      if (auto c = parse_cidr(t, &why)) v.push_back(*c);
    }
    return v;
  }();
  return ranges;
}

bool is_private_range(const Cidr& c) {
  const auto& p = private_ranges();
  return std::any_of(p.begin(), p.end(), [&](const Cidr& r) { return c.prefix >= r.prefix && r.contains(c.net); });
}

// "/8-sized": an IPv4 /8 or wider (stored IPv4-mapped: /104), or an IPv6 /8 or wider.
bool too_wide(const Cidr& c) { return c.prefix <= (c.net.is_v4() ? 104 : 8) && !is_private_range(c); }

// Outbound ranges shared by every customer of a hosted mail service (from their SPF records,
// _spf.google.com and spf.protection.outlook.com, 2026). Allowlisting one admits every tenant of
// that service; the warning asks for relay_policy. A small list on purpose: the big two.
struct SharedRange {
  const char* cidr;
  const char* service;
};
constexpr SharedRange kSharedRanges[] = {
    {"209.85.128.0/17", "Google Workspace"},   {"74.125.0.0/16", "Google Workspace"},
    {"64.233.160.0/19", "Google Workspace"},   {"66.102.0.0/20", "Google Workspace"},
    {"173.194.0.0/16", "Google Workspace"},    {"108.177.8.0/21", "Google Workspace"},
    {"172.217.0.0/19", "Google Workspace"},    {"35.190.247.0/24", "Google Workspace"},
    {"2001:4860:4000::/36", "Google Workspace"}, {"2404:6800:4000::/36", "Google Workspace"},
    {"2607:f8b0:4000::/36", "Google Workspace"}, {"2800:3f0:4000::/36", "Google Workspace"},
    {"2a00:1450:4000::/36", "Google Workspace"}, {"2c0f:fb50:4000::/36", "Google Workspace"},
    {"40.92.0.0/15", "Microsoft 365"},         {"40.107.0.0/16", "Microsoft 365"},
    {"52.100.0.0/14", "Microsoft 365"},        {"104.47.0.0/17", "Microsoft 365"},
    {"2a01:111:f400::/48", "Microsoft 365"},   {"2a01:111:f403::/49", "Microsoft 365"},
};

class Warnings {
 public:
  explicit Warnings(const Config& cfg) : cfg_(cfg) {}

  void add(const std::string& path, const std::string& msg) {
    out.push_back(cfg_.where(path) + ": warning: " + path + ": " + msg);
  }

  void allow() {
    for (size_t i = 0; i < cfg_.allow.size(); ++i) {
      const Cidr& c = cfg_.allow[i];
      if (!too_wide(c)) continue;
      add("allow[" + std::to_string(i) + "]",
          "'" + c.text + "' lets a large part of the Internet relay through this server: list only the "
          "upstream servers' addresses or ranges");
    }
  }

  // An allow entry inside or around a shared range, with no binding to our tenant.
  void shared_ranges() {
    const auto& p = cfg_.relay_policy;
    if (!p.sender_domains.empty() || !p.require_dkim.empty()) return;
    for (size_t i = 0; i < cfg_.allow.size(); ++i) {
      const Cidr& c = cfg_.allow[i];
      if (too_wide(c)) continue;  // allow() says more about it
      if (const SharedRange* r = shared_range(c)) {
        add("allow[" + std::to_string(i) + "]",
            "'" + c.text + "' holds " + r->cidr + ", shared by every " + r->service +
                " customer: any of them can relay through this server with your IP reputation; bind it to "
                "your tenant with relay_policy = { sender_domains = [ ... ]; require_dkim = [ ... ]; } "
                "(docs/config.md, \"Tenant binding\")");
      }
    }
  }

  static const SharedRange* shared_range(const Cidr& c) {
    for (const auto& r : kSharedRanges) {
      std::string why;
      auto range = parse_cidr(r.cidr, &why);
      if (!range) continue;
      bool inside = c.prefix >= range->prefix && range->contains(c.net);
      bool around = range->prefix >= c.prefix && c.contains(range->net);
      if (inside || around) return &r;
    }
    return nullptr;
  }

  void routes() {
    const Route* all = nullptr;
    size_t all_index = 0;
    for (size_t i = 0; i < cfg_.routes.size(); ++i) {
      const Route& r = cfg_.routes[i];
      std::string path = "routes[" + std::to_string(i) + "]";
      if (all) {
        add(path, "route '" + r.name + "' is never used: route '" + all->name + "' (" +
                      cfg_.where("routes[" + std::to_string(all_index) + "]") +
                      ") matches every recipient (\"*\") before it; move '" + all->name + "' to the end");
      } else if (std::find(r.match.begin(), r.match.end(), "*") != r.match.end()) {
        all = &r;
        all_index = i;
      }
      if (r.tls == TlsMode::Required && !r.verify_ca) {
        add(path, "route '" + r.name + "' requires TLS but accepts any certificate (verify_ca = false): "
                  "an attacker in the path can present their own; set verify_ca = true (and "
                  "verify_hostname = true)");
      }
    }
  }

  void listen() {
    if (!cfg_.tls.cert.empty()) return;
    for (size_t i = 0; i < cfg_.listen.size(); ++i) {
      const Listen& l = cfg_.listen[i];
      auto ip = parse_ip(l.address);
      if (!ip || is_private_address(*ip)) continue;
      add("listen[" + std::to_string(i) + "]",
          "listening on public address " + l.address + " without STARTTLS (no tls.cert): mail from the "
          "upstream crosses the network in clear; set tls.cert and tls.key");
    }
  }

  std::vector<std::string> out;

 private:
  const Config& cfg_;
};

}  // namespace

bool is_private_address(const IpAddr& ip) { return any_contains(private_ranges(), ip); }

std::vector<std::string> config_warnings(const Config& cfg) {
  Warnings w(cfg);
  w.allow();
  w.shared_ranges();
  w.routes();
  w.listen();
  return std::move(w.out);
}

}  // namespace config
