// smtp_runtime.cc - building the per-configuration runtime (see smtp_runtime.h).
#include "relay/core/smtp_runtime.h"

#include <unistd.h>

namespace relay {

namespace {

// The certs loader names the file it could not use: a key problem is blamed on tls.key.
std::string server_tls_path(const std::string& error) {
  return error.rfind("private key", 0) == 0 ? "tls.key" : "tls.cert";
}

certs::CtxPtr server_context(const config::Config& cfg, std::vector<RuntimeProblem>* problems) {
  certs::ServerContextOptions opts;
  opts.cert_file = cfg.tls.cert;
  opts.key_file = cfg.tls.key;
  opts.ciphers = cfg.inbound_tls.ciphers;
  if (cfg.inbound_tls.has_min_version) opts.min_version = cfg.inbound_tls.min_version;
  std::string err;
  auto ctx = certs::make_server_context(opts, &err);
  if (!ctx) problems->push_back({server_tls_path(err), err});
  return ctx;
}

certs::CtxPtr client_context(const config::Config& cfg, const config::Route& r, size_t index,
                             std::vector<RuntimeProblem>* problems) {
  certs::ClientContextOptions o;
  // Opportunistic routes still verify, to log a verdict; without a
  // readable trust store they log Untrusted rather than refusing to start.
  if (r.verify_ca || access(cfg.tls.ca_file.c_str(), R_OK) == 0) o.ca_file = cfg.tls.ca_file;
  o.verify_ca = r.verify_ca;
  o.verify_hostname = r.verify_hostname;
  if (r.has_min_tls_version) o.min_version = r.min_tls_version;
  o.ciphers = r.ciphers;
  if (r.client_cert) {
    o.client_cert_file = cfg.tls.cert;
    o.client_key_file = cfg.tls.key;
  }
  std::string err;
  auto ctx = certs::make_client_context(o, &err);
  if (!ctx) problems->push_back({"routes[" + std::to_string(index) + "]", "route " + r.name + ": " + err});
  return ctx;
}

}  // namespace

std::shared_ptr<const Runtime> Runtime::build(std::shared_ptr<const config::Config> cfg,
                                              std::vector<RuntimeProblem>* problems) {
  auto rt = std::make_shared<Runtime>();
  const size_t before = problems->size();
  if (!cfg->tls.cert.empty()) rt->server_tls = server_context(*cfg, problems);
  for (size_t i = 0; i < cfg->routes.size(); ++i) {
    const auto& r = cfg->routes[i];
    // Routes with tls = "none" get one too: an MTA-STS enforce policy or a REQUIRETLS message
    // (router/tls_demand.h) raises a delivery on them to required TLS.
    if (auto ctx = client_context(*cfg, r, i, problems)) rt->client_tls.emplace(r.name, std::move(ctx));
  }
  if (problems->size() != before) return nullptr;
  rt->routes = std::make_unique<router::RouteTable>(*cfg);
  rt->config = std::move(cfg);
  return rt;
}

std::shared_ptr<const Runtime> Runtime::build(std::shared_ptr<const config::Config> cfg,
                                              std::string* error) {
  std::vector<RuntimeProblem> problems;
  auto rt = build(std::move(cfg), &problems);
  if (!rt) *error = problems.front().message;
  return rt;
}

config::InboundLevel Runtime::inbound_level(const config::IpAddr& ip) const {
  for (const auto& p : config->inbound_tls.peers) {
    if (config::any_contains(p.match, ip)) return p.level;
  }
  return config->inbound_tls.default_level;
}

}  // namespace relay
