// smtp_runtime.cc - building the per-configuration runtime (see smtp_runtime.h).
#include "relay/core/smtp_runtime.h"

#include <unistd.h>

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
  for (const auto& r : cfg->routes) {
    if (r.tls == config::TlsMode::None) continue;
    certs::ClientContextOptions o;
    // Opportunistic routes still verify, to log a verdict; without a
    // readable trust store they log Untrusted rather than refusing to start.
    if (r.verify_ca || access(cfg->tls.ca_file.c_str(), R_OK) == 0) o.ca_file = cfg->tls.ca_file;
    o.verify_ca = r.verify_ca;
    o.verify_hostname = r.verify_hostname;
    if (r.has_min_tls_version) o.min_version = r.min_tls_version;
    o.ciphers = r.ciphers;
    if (r.client_cert) {
      o.client_cert_file = cfg->tls.cert;
      o.client_key_file = cfg->tls.key;
    }
    std::string err;
    auto ctx = certs::make_client_context(o, &err);
    if (!ctx) {
      *error = "route " + r.name + ": " + err;
      return nullptr;
    }
    rt->client_tls.emplace(r.name, std::move(ctx));
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
