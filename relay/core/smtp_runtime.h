// smtp_runtime.h - everything a session needs from one loaded configuration.
//
// A Runtime is built once per (re)load and shared, immutable, by every session
// and delivery that started under it; SIGHUP builds a new one and new work
// takes that, while work in flight keeps the one it started with.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "config/config.h"
#include "router/route_table.h"

namespace relay {

// One TLS file or context that cannot be used: `path` is the setting to blame ("tls.cert",
// "tls.key", "routes[2]"), `message` what is wrong.
struct RuntimeProblem {
  std::string path;
  std::string message;
};

struct Runtime {
  std::shared_ptr<const config::Config> config;
  certs::CtxPtr server_tls;  // null: STARTTLS not offered
  std::unique_ptr<router::RouteTable> routes;
  std::map<std::string, certs::CtxPtr> client_tls;  // per route name, every route

  WOLFSSL_CTX* client_ctx(const std::string& route) const {
    auto it = client_tls.find(route);
    return it == client_tls.end() ? nullptr : it->second.get();
  }

  // Null with *error when the TLS files cannot be used.
  static std::shared_ptr<const Runtime> build(std::shared_ptr<const config::Config> cfg,
                                              std::string* error);
  // Same, null with every problem (each context is tried, not only up to the first failure).
  static std::shared_ptr<const Runtime> build(std::shared_ptr<const config::Config> cfg,
                                              std::vector<RuntimeProblem>* problems);
  config::InboundLevel inbound_level(const config::IpAddr& ip) const;
};

}  // namespace relay
