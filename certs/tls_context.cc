// tls_context.cc - wolfSSL contexts, sessions, and the facts of a session.
//
// Certificate verification is recorded, not enforced: the client context's
// verify callback notes the first chain error per session and always lets the
// handshake go on. The host name is checked after the handshake against the
// leaf's subjectAltNames only (RFC 9525: the subject CN is never a name) by our
// own matcher (wolfSSL 5.5.4's is too lax and falls back to the CN, with no flag
// to stop it; see dns_id_matches), so the verdict does not depend on callback order.
// The record lives in the session's ex_data and is freed by SslDeleter.
//
// Failures are reported as described in tls_context.h: builders return null
// with a one-line *error; facts that wolfSSL cannot give stay empty.
#include "certs/tls_context.h"

#include <arpa/inet.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/hash.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace certs {

void CtxDeleter::operator()(WOLFSSL_CTX* ctx) const { wolfSSL_CTX_free(ctx); }
void X509Deleter::operator()(WOLFSSL_X509* x509) const { wolfSSL_X509_free(x509); }

namespace {

// What the verify callback learnt about the peer's chain, and the name the
// chain must carry. One per session, reachable from the WOLFSSL.
struct PeerRecord {
  std::string name;
  bool name_is_ip = false;
  bool callback_ran = false;  // verification really happened (not a resumption)
  int first_error = 0;        // X509_V_ERR_*; 0: none
};

void ensure_init() {
  static std::once_flag once;
  std::call_once(once, [] { wolfSSL_Init(); });
}

int record_index() {
  static const int index = [] {
    ensure_init();
    return wolfSSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  }();
  return index;
}

PeerRecord* record_of(const WOLFSSL* ssl) {
  if (ssl == nullptr || record_index() < 0) return nullptr;
  return static_cast<PeerRecord*>(wolfSSL_get_ex_data(ssl, record_index()));
}

std::string wolf_error_text(int err) {
  char buf[WOLFSSL_MAX_ERROR_SZ] = {};
  wolfSSL_ERR_error_string_n(static_cast<unsigned long>(err), buf, sizeof buf);
  return buf;
}

}  // namespace

void SslDeleter::operator()(WOLFSSL* ssl) const {
  delete record_of(ssl);
  wolfSSL_free(ssl);
}

// ---- cipher lists -------------------------------------------------------

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Suites that would give an unauthenticated or unencrypted session, or need
// PSK identities we never configure. Checked on the name because wolfSSL
// happily accepts all of these in a cipher list.
const char* forbidden_reason(const std::string& name) {
  const std::string u = upper(name);
  if (u.find("_ANON_") != std::string::npos) return "anonymous suites authenticate nobody";
  if (u.find("_NULL_") != std::string::npos || u == "TLS_SHA256_SHA256" || u == "TLS_SHA384_SHA384")
    return "the suite does not encrypt";
  if (u.find("PSK") != std::string::npos)
    return "PSK suites need pre-shared keys, which smarthost has none of";
  if (u.find("_RC4_") != std::string::npos) return "RC4 is forbidden by RFC 7465";
  if (u.find("EXPORT") != std::string::npos) return "export suites are broken";
  return nullptr;
}

bool iana_shaped(const std::string& name) {
  if (name.size() < 5 || name.compare(0, 4, "TLS_") != 0) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// wolfSSL drops unknown names silently when at least one name in a list is
// known, so each name is tried on its own against a scratch context.
bool wolfssl_knows(WOLFSSL_CTX* scratch, const std::string& name) {
  return wolfSSL_CTX_set_cipher_list(scratch, name.c_str()) == WOLFSSL_SUCCESS;
}

std::string unknown_reason(const std::string& name) {
  if (name.compare(0, 13, "TLS_RSA_WITH_") == 0)
    return name +
           ": not available: this wolfSSL is built without static RSA key exchange "
           "(use the TLS_ECDHE_RSA_* suites, which also give forward secrecy)";
  return name + ": unknown cipher suite (expected an IANA name such as TLS_AES_128_GCM_SHA256)";
}

}  // namespace

bool validate_cipher_names(const std::vector<std::string>& names, std::string* error) {
  if (names.empty()) {
    *error = "the cipher list is empty";
    return false;
  }
  ensure_init();
  CtxPtr scratch(wolfSSL_CTX_new(wolfSSLv23_client_method()));
  if (!scratch) {
    *error = "wolfSSL could not allocate a context";
    return false;
  }
  for (const auto& name : names) {
    if (!iana_shaped(name)) {
      *error = "\"" + name + "\": not an IANA cipher suite name (such as TLS_AES_128_GCM_SHA256)";
      return false;
    }
    if (const char* why = forbidden_reason(name)) {
      *error = name + ": not allowed: " + why;
      return false;
    }
    if (!wolfssl_knows(scratch.get(), name)) {
      *error = unknown_reason(name);
      return false;
    }
  }
  return true;
}

std::string cipher_list_string(const std::vector<std::string>& names, std::string* error) {
  if (!validate_cipher_names(names, error)) return "";
  std::string list;
  for (const auto& name : names) {
    if (!list.empty()) list += ':';
    list += name;
  }
  return list;
}

// ---- contexts -----------------------------------------------------------

namespace {

bool readable(const std::string& path, const char* what, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    *error = std::string(what) + " " + path + ": " + std::strerror(errno);
    return false;
  }
  std::fclose(f);
  return true;
}

int wolf_version(config::TlsVersion v) {
  switch (v) {
    case config::TlsVersion::V1_1:
      return WOLFSSL_TLSV1_1;
    case config::TlsVersion::V1_2:
      return WOLFSSL_TLSV1_2;
    case config::TlsVersion::V1_3:
      return WOLFSSL_TLSV1_3;
  }
  return WOLFSSL_TLSV1_2;
}

bool has_tls13_suite(const std::vector<std::string>& names) {
  // Every IANA name before TLS 1.3 reads "<kx>_WITH_<cipher>"; TLS 1.3 names do not.
  for (const auto& n : names) {
    if (n.find("_WITH_") == std::string::npos) return true;
  }
  return false;
}

// The v23 methods negotiate the highest common version; the floor is always
// set explicitly so that the build's default floor never decides for us.
// A list without TLS 1.3 suites also caps the context at TLS 1.2: otherwise a
// wolfSSL client offers TLS 1.3 with no suite for it (the server then fails
// the handshake), and a wolfSSL server picks TLS 1.3 with a suite the admin
// never listed.
bool set_versions(WOLFSSL_CTX* ctx, config::TlsVersion floor, const std::vector<std::string>& ciphers,
                  std::string* error) {
  if (!has_tls13_suite(ciphers)) {
    if (floor == config::TlsVersion::V1_3) {
      *error =
          "minimum TLS version 1.3 needs a TLS 1.3 suite (such as TLS_AES_128_GCM_SHA256) "
          "in the cipher list";
      return false;
    }
    if (wolfSSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != WOLFSSL_SUCCESS) {
      *error = "wolfSSL cannot cap the TLS version at 1.2";
      return false;
    }
  }
  if (wolfSSL_CTX_SetMinVersion(ctx, wolf_version(floor)) != WOLFSSL_SUCCESS) {
    *error = std::string("this wolfSSL cannot use TLS ") + config::tls_version_name(floor) +
             " as the minimum version";
    return false;
  }
  return true;
}

// wolfSSL's built-in list includes anonymous and NULL suites, so a list is
// set on every context, the default one included.
bool set_ciphers(WOLFSSL_CTX* ctx, const std::vector<std::string>& names, std::string* error) {
  const std::string list = cipher_list_string(names, error);
  if (list.empty()) return false;
  if (wolfSSL_CTX_set_cipher_list(ctx, list.c_str()) != WOLFSSL_SUCCESS) {
    *error = "wolfSSL refused the cipher list " + list;
    return false;
  }
  return true;
}

bool load_cert_and_key(WOLFSSL_CTX* ctx, const std::string& cert, const std::string& key,
                       std::string* error) {
  if (!readable(cert, "certificate", error) || !readable(key, "private key", error)) return false;
  int rc = wolfSSL_CTX_use_certificate_chain_file(ctx, cert.c_str());
  if (rc != WOLFSSL_SUCCESS) {
    *error = "certificate " + cert + ": not a PEM certificate chain (" + wolf_error_text(rc) + ")";
    return false;
  }
  rc = wolfSSL_CTX_use_PrivateKey_file(ctx, key.c_str(), WOLFSSL_FILETYPE_PEM);
  if (rc != WOLFSSL_SUCCESS) {
    *error = "private key " + key + ": not an unencrypted PEM key (" + wolf_error_text(rc) + ")";
    return false;
  }
  if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
    *error = "private key " + key + " does not belong to certificate " + cert;
    return false;
  }
  return true;
}

bool load_trust_anchors(WOLFSSL_CTX* ctx, const std::string& ca_file, std::string* error) {
  if (!readable(ca_file, "CA file", error)) return false;
  // Distribution bundles hold a few certificates wolfSSL cannot parse; those
  // are skipped rather than refusing the whole store.
  const int rc = wolfSSL_CTX_load_verify_locations_ex(ctx, ca_file.c_str(), nullptr,
                                                      WOLFSSL_LOAD_FLAG_IGNORE_ERR);
  if (rc != WOLFSSL_SUCCESS) {
    *error = "CA file " + ca_file + ": no usable PEM certificate (" + wolf_error_text(rc) + ")";
    return false;
  }
  return true;
}

// Notes the first failure and lets the handshake continue. Without a record
// (a session not made by new_session) nothing could be recorded, so
// wolfSSL's own decision stands: fail closed.
int record_verify(int preverify, WOLFSSL_X509_STORE_CTX* store) {
  auto* ssl = static_cast<WOLFSSL*>(
      wolfSSL_X509_STORE_CTX_get_ex_data(store, wolfSSL_get_ex_data_X509_STORE_CTX_idx()));
  PeerRecord* rec = record_of(ssl);
  if (rec == nullptr) return preverify;
  rec->callback_ran = true;
  if (!preverify && rec->first_error == 0) {
    const int err = wolfSSL_X509_STORE_CTX_get_error(store);
    rec->first_error = err != 0 ? err : kVerifyErrorUnspecified;
  }
  return 1;
}

CtxPtr new_context(WOLFSSL_METHOD* method, std::string* error) {
  CtxPtr ctx(method ? wolfSSL_CTX_new(method) : nullptr);
  if (!ctx) *error = "wolfSSL could not allocate a context";
  return ctx;
}

}  // namespace

// The floors when the config sets none. Our listener's clients are our own
// upstream (TLS 1.3) and current MTAs, so TLS 1.1 would only cost the grade;
// routes keep 1.1 for old partner servers (seed 001's Gmail does the same).
constexpr config::TlsVersion kInboundFloor = config::TlsVersion::V1_2;
constexpr config::TlsVersion kOutboundFloor = config::TlsVersion::V1_1;

CtxPtr make_server_context(const ServerContextOptions& opts, std::string* error) {
  ensure_init();
  const auto& ciphers = opts.ciphers.empty() ? config::default_inbound_ciphers() : opts.ciphers;
  CtxPtr ctx = new_context(wolfSSLv23_server_method(), error);
  if (!ctx) return nullptr;
  if (!set_ciphers(ctx.get(), ciphers, error) ||
      !set_versions(ctx.get(), opts.min_version.value_or(kInboundFloor), ciphers, error) ||
      !load_cert_and_key(ctx.get(), opts.cert_file, opts.key_file, error))
    return nullptr;
  wolfSSL_CTX_set_verify(ctx.get(), WOLFSSL_VERIFY_NONE, nullptr);
  return ctx;
}

CtxPtr make_client_context(const ClientContextOptions& opts, std::string* error) {
  ensure_init();
  if (opts.verify_ca && opts.ca_file.empty()) {
    *error = "verify_ca needs a CA file (tls.ca_file)";
    return nullptr;
  }
  if (opts.client_cert_file.empty() != opts.client_key_file.empty()) {
    *error = "a client certificate needs both a certificate and a key file";
    return nullptr;
  }
  const auto& ciphers = opts.ciphers.empty() ? config::default_outbound_ciphers() : opts.ciphers;
  CtxPtr ctx = new_context(wolfSSLv23_client_method(), error);
  if (!ctx) return nullptr;
  if (!set_ciphers(ctx.get(), ciphers, error) ||
      !set_versions(ctx.get(), opts.min_version.value_or(kOutboundFloor), ciphers, error))
    return nullptr;
  if (!opts.ca_file.empty() && !load_trust_anchors(ctx.get(), opts.ca_file, error)) return nullptr;
  if (!opts.client_cert_file.empty() &&
      !load_cert_and_key(ctx.get(), opts.client_cert_file, opts.client_key_file, error))
    return nullptr;
  wolfSSL_CTX_set_verify(ctx.get(), WOLFSSL_VERIFY_PEER, record_verify);
  return ctx;
}

// ---- sessions -----------------------------------------------------------

namespace {

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// "MX1.Example.COM." and "[::1]" as found in DNS answers and host settings.
std::string normalise_peer_name(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.size() > 2 && name.front() == '[' && name.back() == ']')
    name = name.substr(1, name.size() - 2);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

SslPtr new_session(WOLFSSL_CTX* ctx, const std::string& peer_name, std::string* error) {
  SslPtr ssl(ctx ? wolfSSL_new(ctx) : nullptr);
  if (!ssl) {
    *error = "wolfSSL could not allocate a session";
    return nullptr;
  }
  auto rec = std::make_unique<PeerRecord>();
  if (!wolfSSL_is_server(ssl.get())) {
    rec->name = normalise_peer_name(peer_name);
    rec->name_is_ip = is_ip_literal(rec->name);
  }
  if (record_index() < 0 ||
      wolfSSL_set_ex_data(ssl.get(), record_index(), rec.get()) != WOLFSSL_SUCCESS) {
    *error = "wolfSSL could not attach the verification record";
    return nullptr;
  }
  PeerRecord* r = rec.release();  // owned by the session now; SslDeleter frees it
  if (!r->name.empty() && !r->name_is_ip &&
      wolfSSL_UseSNI(ssl.get(), WOLFSSL_SNI_HOST_NAME, r->name.data(),
                     static_cast<unsigned short>(r->name.size())) != WOLFSSL_SUCCESS) {
    *error = "wolfSSL refused SNI name " + r->name;
    return nullptr;
  }
  return ssl;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Verified:
      return "Verified";
    case Verdict::Trusted:
      return "Trusted";
    case Verdict::Untrusted:
      return "Untrusted";
    case Verdict::Anonymous:
      return "Anonymous";
  }
  return "?";
}

// ---- facts --------------------------------------------------------------

namespace {

struct BioDeleter {
  void operator()(WOLFSSL_BIO* b) const { wolfSSL_BIO_free(b); }
};
struct NamesDeleter {
  void operator()(WOLFSSL_STACK* sk) const { wolfSSL_GENERAL_NAMES_free(sk); }
};

std::string version_label(WOLFSSL* ssl) {
  switch (wolfSSL_version(ssl)) {
    case TLS1_3_VERSION:
      return "TLS1_3";
    case TLS1_2_VERSION:
      return "TLS1_2";
    case TLS1_1_VERSION:
      return "TLS1_1";
    case TLS1_VERSION:
      return "TLS1";
    default:
      break;
  }
  const char* v = wolfSSL_get_version(ssl);
  return v ? v : "";
}

std::string cipher_label(WOLFSSL* ssl) {
  const int suite = wolfSSL_get_current_cipher_suite(ssl);
  const char* name = wolfSSL_get_cipher_name_iana_from_suite(
      static_cast<unsigned char>((suite >> 8) & 0xff), static_cast<unsigned char>(suite & 0xff));
  if (name != nullptr && std::strcmp(name, "None") != 0) return name;
  const char* fallback = wolfSSL_get_cipher_name(ssl);
  return fallback ? fallback : "";
}

std::string name_text(WOLFSSL_X509_NAME* name) {
  std::unique_ptr<WOLFSSL_BIO, BioDeleter> bio(wolfSSL_BIO_new(wolfSSL_BIO_s_mem()));
  if (!name || !bio) return "";
  constexpr unsigned long kRfc2253 = 1;  // XN_FLAG_RFC2253
  if (wolfSSL_X509_NAME_print_ex(bio.get(), name, 0, kRfc2253) != WOLFSSL_SUCCESS) return "";
  char* data = nullptr;
  const int len = wolfSSL_BIO_get_mem_data(bio.get(), &data);
  return len > 0 && data ? std::string(data, static_cast<size_t>(len)) : "";
}

std::string time_text(WOLFSSL_ASN1_TIME* t) {
  char buf[64] = {};
  if (t == nullptr || wolfSSL_ASN1_TIME_to_string(t, buf, sizeof buf) == nullptr) return "";
  return buf;
}

// The same time as unix seconds (certificate times are UTC); 0 when it cannot be read.
int64_t time_unix(WOLFSSL_ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || wolfSSL_ASN1_TIME_to_tm(t, &tm) != WOLFSSL_SUCCESS) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

// One subjectAltName entry we care about: a DNS name, or an IP address as
// its raw 4 or 16 bytes.
struct AltName {
  bool is_ip;
  std::string value;
};

std::string asn1_bytes(WOLFSSL_ASN1_STRING* str) {
  const unsigned char* p = str ? wolfSSL_ASN1_STRING_data(str) : nullptr;
  const int len = str ? wolfSSL_ASN1_STRING_length(str) : 0;
  return p && len > 0 ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(len))
                      : "";
}

std::vector<AltName> alt_names(WOLFSSL_X509* x509) {
  std::vector<AltName> out;
  std::unique_ptr<WOLFSSL_STACK, NamesDeleter> names(
      static_cast<WOLFSSL_STACK*>(wolfSSL_X509_get_ext_d2i(x509, ALT_NAMES_OID, nullptr, nullptr)));
  const int n = names ? wolfSSL_sk_GENERAL_NAME_num(names.get()) : 0;
  for (int i = 0; i < n; ++i) {
    WOLFSSL_GENERAL_NAME* gn = wolfSSL_sk_GENERAL_NAME_value(names.get(), i);
    if (gn != nullptr && gn->type == ASN_DNS_TYPE)
      out.push_back({false, asn1_bytes(gn->d.dNSName)});
    if (gn != nullptr && gn->type == ASN_IP_TYPE)
      out.push_back({true, asn1_bytes(gn->d.iPAddress)});
  }
  return out;
}

std::string ip_text(const std::string& raw) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (raw.size() != 4 && raw.size() != 16) return "?";
  inet_ntop(raw.size() == 4 ? AF_INET : AF_INET6, raw.data(), buf, sizeof buf);
  return buf;
}

std::vector<std::string> san_list(WOLFSSL_X509* x509) {
  std::vector<std::string> out;
  for (const auto& a : alt_names(x509))
    out.push_back(a.is_ip ? "IP:" + ip_text(a.value) : "DNS:" + a.value);
  return out;
}

std::string common_name(WOLFSSL_X509* x509) {
  char buf[256] = {};
  const int len = wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x509),
                                                    NID_commonName, buf, sizeof buf);
  return len > 0 ? std::string(buf, static_cast<size_t>(len)) : "";
}

CertSummary summarise(WOLFSSL_X509* x509) {
  CertSummary s;
  s.subject = name_text(wolfSSL_X509_get_subject_name(x509));
  s.issuer = name_text(wolfSSL_X509_get_issuer_name(x509));
  s.san = san_list(x509);
  s.not_before = time_text(wolfSSL_X509_get_notBefore(x509));
  s.not_after = time_text(wolfSSL_X509_get_notAfter(x509));
  s.not_after_unix = time_unix(wolfSSL_X509_get_notAfter(x509));
  return s;
}

// Lowercase hex of SHA-256(data); empty when hashing fails.
std::string sha256_hex(const unsigned char* data, size_t size) {
  unsigned char digest[WC_SHA256_DIGEST_SIZE];
  if (wc_Sha256Hash(data, static_cast<word32>(size), digest) != 0) return "";
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += hex[b >> 4];
    out += hex[b & 0x0f];
  }
  return out;
}

std::string spki_sha256_hex(WOLFSSL_X509* x509) {
  int size = 0;
  if (wolfSSL_X509_get_pubkey_buffer(x509, nullptr, &size) != WOLFSSL_SUCCESS || size <= 0)
    return "";
  std::vector<unsigned char> spki(static_cast<size_t>(size));
  if (wolfSSL_X509_get_pubkey_buffer(x509, spki.data(), &size) != WOLFSSL_SUCCESS) return "";
  return sha256_hex(spki.data(), static_cast<size_t>(size));
}

std::string cert_sha256_hex(WOLFSSL_X509* x509) {
  int size = 0;
  const unsigned char* der = wolfSSL_X509_get_der(x509, &size);
  return der && size > 0 ? sha256_hex(der, static_cast<size_t>(size)) : "";
}

// wolfSSL_get_chain_X509 hands back a copy the caller owns; the session keeps
// the raw chain, so this also works after the handshake state is gone.
X509Ptr chain_cert(WOLFSSL_X509_CHAIN* chain, int idx) {
  return X509Ptr(wolfSSL_get_chain_X509(chain, idx));
}

// RFC 6125 section 6.4: exact match, or "*" as the whole left-most label
// standing for exactly one label, under at least two more labels. wolfSSL
// 5.5.4's own matcher is not used: it accepts "f*.example.com", "x.*.example.com"
// and a bare "*", which would let such a certificate pass for any host.
bool dns_id_matches(const std::string& presented, const std::string& host) {
  const std::string pattern = normalise_peer_name(presented);
  if (pattern.find('*') == std::string::npos) return !pattern.empty() && pattern == host;
  if (pattern.compare(0, 2, "*.") != 0) return false;
  const std::string rest = pattern.substr(1);  // ".wild.test.example"
  if (rest.find('*') != std::string::npos || std::count(rest.begin(), rest.end(), '.') < 2)
    return false;
  if (host.size() <= rest.size() || host.compare(host.size() - rest.size(), rest.size(), rest) != 0)
    return false;
  return host.find('.') == host.size() - rest.size();  // exactly one label in front
}

bool ip_matches(const std::vector<AltName>& names, const std::string& ip) {
  unsigned char want[16];
  size_t len = 16;
  if (inet_pton(AF_INET6, ip.c_str(), want) != 1) {
    if (inet_pton(AF_INET, ip.c_str(), want) != 1) return false;
    len = 4;
  }
  for (const auto& a : names) {
    if (a.is_ip && a.value.size() == len && std::memcmp(a.value.data(), want, len) == 0)
      return true;
  }
  return false;
}

// RFC 9525 section 6.3 (and RFC 8461 section 4.2 for MTA-STS): only DNS-ID
// subjectAltNames name a host; the subject CN is not consulted, even when the
// certificate has no subjectAltName at all.
bool name_matches(const std::vector<AltName>& names, const PeerRecord& rec) {
  if (rec.name_is_ip) return ip_matches(names, rec.name);
  return std::any_of(names.begin(), names.end(),
                     [&](const AltName& a) { return !a.is_ip && dns_id_matches(a.value, rec.name); });
}

// The case worth its own words: no DNS-ID at all, and the CN would have matched
// under the old rule, so the admin learns that the certificate needs a SAN.
bool named_only_in_cn(WOLFSSL_X509* leaf, const std::vector<AltName>& names, const PeerRecord& rec) {
  if (rec.name_is_ip) return false;
  const bool any_dns = std::any_of(names.begin(), names.end(), [](const AltName& a) { return !a.is_ip; });
  return !any_dns && dns_id_matches(common_name(leaf), rec.name);
}

void certificate_facts(WOLFSSL* ssl, TlsFacts* f) {
  WOLFSSL_X509_CHAIN* chain = wolfSSL_get_peer_chain(ssl);
  const int count = chain ? wolfSSL_get_chain_count(chain) : 0;
  X509Ptr leaf;
  for (int i = 0; i < count; ++i) {
    X509Ptr cert = chain_cert(chain, i);
    if (!cert) continue;
    f->chain.push_back(summarise(cert.get()));
    if (i == 0) leaf = std::move(cert);
  }
  f->has_certificate = leaf != nullptr;
  if (!leaf) return;
  f->spki_sha256 = spki_sha256_hex(leaf.get());
  f->cert_sha256 = cert_sha256_hex(leaf.get());
  const PeerRecord* rec = record_of(ssl);
  // No record, or a session whose chain was never verified (resumed): not ok.
  f->ca_ok = rec && rec->callback_ran && rec->first_error == 0;
  if (!f->ca_ok) {
    f->ca_error_code = rec && rec->first_error ? rec->first_error : kVerifyErrorUnspecified;
    f->ca_error = tls_failure(verify_error_problem(f->ca_error_code)).reason;
  }
  if (rec && !rec->name.empty()) {
    f->peer_name = rec->name;
    f->hostname_checked = true;
    const std::vector<AltName> names = alt_names(leaf.get());
    f->hostname_ok = name_matches(names, *rec);
    f->hostname_only_in_cn = !f->hostname_ok && named_only_in_cn(leaf.get(), names, *rec);
  }
}

Verdict verdict_of(const TlsFacts& f) {
  if (!f.has_certificate) return Verdict::Anonymous;
  if (!f.ca_ok) return Verdict::Untrusted;
  return f.hostname_ok ? Verdict::Verified : Verdict::Trusted;
}

}  // namespace

TlsFacts session_facts(WOLFSSL* ssl) {
  TlsFacts f;
  if (ssl == nullptr || !wolfSSL_is_init_finished(ssl)) return f;
  f.established = true;
  f.version = version_label(ssl);
  f.cipher = cipher_label(ssl);
  f.bits = wolfSSL_CIPHER_get_bits(wolfSSL_get_current_cipher(ssl), &f.alg_bits);
  // wolfSSL 5.5.4 leaves alg_bits at 0; both are 8 x the key size there.
  if (f.alg_bits == 0) f.alg_bits = f.bits;
  certificate_facts(ssl, &f);
  f.verdict = verdict_of(f);
  return f;
}

bool peer_names_host(WOLFSSL* ssl, const std::string& host) {
  WOLFSSL_X509_CHAIN* chain = ssl ? wolfSSL_get_peer_chain(ssl) : nullptr;
  X509Ptr leaf = chain && wolfSSL_get_chain_count(chain) > 0 ? chain_cert(chain, 0) : nullptr;
  if (!leaf || host.empty()) return false;
  PeerRecord rec;
  rec.name = normalise_peer_name(host);
  rec.name_is_ip = is_ip_literal(rec.name);
  return name_matches(alt_names(leaf.get()), rec);
}

TlsSummary session_summary(const TlsFacts& f, const std::string& dane) {
  TlsSummary s;
  s.version = f.version;
  s.cipher = f.cipher;
  s.bits = f.bits;
  s.verdict = verdict_name(f.verdict);
  s.dane = dane;
  if (!f.chain.empty()) {
    s.peer_subject = f.chain.front().subject;
    s.peer_issuer = f.chain.front().issuer;
    s.peer_not_after = f.chain.front().not_after_unix;
    s.peer_sha256 = f.cert_sha256;
  }
  return s;
}

std::string received_clause(const TlsFacts& facts) {
  return "version=" + facts.version + " cipher=" + facts.cipher +
         " bits=" + std::to_string(facts.bits) + "/" + std::to_string(facts.alg_bits);
}

std::optional<CertSummary> cert_file_summary(const std::string& pem_path, std::string* error) {
  X509Ptr x509(wolfSSL_X509_load_certificate_file(pem_path.c_str(), WOLFSSL_FILETYPE_PEM));
  if (!x509) {
    *error = "cannot read a certificate from " + pem_path;
    return std::nullopt;
  }
  return summarise(x509.get());
}

}  // namespace certs
