// config.cc - defaults and look-ups on the validated configuration.
#include "config/config.h"

#include <cctype>

#include "config/duration.h"

namespace config {

const char* tls_version_name(TlsVersion v) {
  switch (v) {
    case TlsVersion::V1_1: return "1.1";
    case TlsVersion::V1_2: return "1.2";
    case TlsVersion::V1_3: return "1.3";
  }
  return "?";
}

const char* tls_mode_name(TlsMode m) {
  switch (m) {
    case TlsMode::None: return "none";
    case TlsMode::Opportunistic: return "opportunistic";
    case TlsMode::Required: return "required";
    case TlsMode::Dane: return "dane";
    case TlsMode::DaneOnly: return "dane-only";
  }
  return "?";
}

const Route* Config::find_route(const std::string& name) const {
  for (const auto& r : routes) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const AddressList* Config::find_list(const std::string& name) const {
  for (const auto& l : address_lists) {
    if (l.name == name) return &l;
  }
  return nullptr;
}

const DkimSign* Config::find_dkim_sign(const std::string& from_domain) const {
  std::string d;
  for (unsigned char c : from_domain) d += static_cast<char>(std::tolower(c));
  for (const auto& e : dkim_sign) {
    if (e.domain == d) return &e;
  }
  return nullptr;
}

std::string Config::where(const std::string& path) const {
  std::string p = path;
  while (!p.empty()) {
    auto it = lines.find(p);
    if (it != lines.end() && it->second > 0) return source + ":" + std::to_string(it->second);
    auto cut = p.find_last_of(".[");
    p.resize(cut == std::string::npos ? 0 : cut);
  }
  return source;
}

std::string Config::duration_words(const std::string& path, uint64_t seconds) const {
  auto it = texts.find(path);
  if (it != texts.end() && parse_duration(it->second) == seconds) return it->second;
  return format_duration(seconds);
}

// Seed 001, "TLS negotiation": every suite Gmail's SMTP servers accept, less
// the static-RSA suites (TLS_RSA_WITH_*, 3DES among them) that Debian's
// wolfSSL is built without; they also lack forward secrecy. The listener
// picks by its own order, so every AEAD suite (GCM, ChaCha20-Poly1305) comes
// before any CBC one: CBC is kept only for TLS 1.1 clients, when allowed.
const std::vector<std::string>& default_inbound_ciphers() {
  static const std::vector<std::string> list = {
      "TLS_AES_128_GCM_SHA256",
      "TLS_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  };
  return list;
}

// Seed 001, "outbound servers": Gmail's preference order when it sends, less
// the static-RSA suites this wolfSSL does not have.
const std::vector<std::string>& default_outbound_ciphers() {
  static const std::vector<std::string> list = {
      "TLS_AES_128_GCM_SHA256",
      "TLS_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  };
  return list;
}

}  // namespace config
