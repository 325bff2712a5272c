// smtp_runtime.cc - building the per-configuration runtime (see smtp_runtime.h).
#include "relay/smtp_runtime.h"

namespace relay {

std::shared_ptr<const Runtime> Runtime::build(std::shared_ptr<const config::Config> cfg,
                                              std::string* error) {
  auto rt = std::make_shared<Runtime>();
  if (!cfg->tls.cert.empty()) {
    certs::ServerContextOptions opts;
    opts.cert_file = cfg->tls.cert;
    opts.key_file = cfg->tls.key;
    opts.ciphers = cfg->inbound_tls.ciphers;
    if (cfg->inbound_tls.has_min_version) opts.min_version = cfg->inbound_tls.min_version;
    rt->server_tls = certs::make_server_context(opts, error);
    if (!rt->server_tls) return nullptr;
  }
  rt->routes = std::make_unique<router::RouteTable>(*cfg);
  rt->config = std::move(cfg);
  return rt;
}

config::InboundLevel Runtime::inbound_level(const config::IpAddr& ip) const {
  for (const auto& p : config->inbound_tls.peers) {
    if (config::any_contains(p.match, ip)) return p.level;
  }
  return config->inbound_tls.default_level;
}

}  // namespace relay
