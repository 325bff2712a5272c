// config.h - the validated, immutable smarthost configuration.
//
// Every key of SPEC section 4 lands in a typed field here. A Config is only
// ever produced by load_config() (config_loader.cc), which refuses the whole
// file when any key is wrong, so code that holds a Config may trust it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "config/cidr.h"

namespace config {

// The file every sub-command reads when -c is not given (and the installed one).
inline constexpr const char* kDefaultConfigPath = "/etc/smarthost/smarthost.cfg";

// TLS protocol versions we can speak. wolfSSL on Debian 12 has no TLS 1.0.
enum class TlsVersion { V1_1, V1_2, V1_3 };
const char* tls_version_name(TlsVersion v);  // "1.1", "1.2", "1.3"

struct Listen {
  std::string address;  // numeric IPv4 or IPv6
  int port = 25;
  int line = 0;         // source line, for later error messages
};

struct TlsFiles {
  std::string cert;     // PEM chain; empty: STARTTLS not offered
  std::string key;
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
};

enum class InboundLevel { Opportunistic, Required };

struct InboundPeer {
  std::vector<Cidr> match;
  InboundLevel level = InboundLevel::Opportunistic;
};

struct InboundTls {
  InboundLevel default_level = InboundLevel::Opportunistic;
  bool has_min_version = false;
  TlsVersion min_version = TlsVersion::V1_2;  // when !has_min_version: the listener's default floor
  std::vector<std::string> ciphers;  // IANA names; default: seed 001 negotiation list
  std::vector<InboundPeer> peers;
};

struct AddressList {
  std::string name;
  std::vector<std::string> entries;  // "dom.example", ".dom.example", "user@dom.example"
  int line = 0;
};

enum class RouteKind { Mx, Host };
enum class TlsRequiredHeader { Ignore, Honour };
// Dane: DANE (RFC 7672) for hosts with secure TLSA records, else dane_fallback; DaneOnly: a host
// without secure usable TLSA records is a TLS failure (SPEC R-DANE). Both need dns.dnssec.
enum class TlsMode { None, Opportunistic, Required, Dane, DaneOnly };
const char* tls_mode_name(TlsMode m);  // "none", "opportunistic", "required", "dane", "dane-only"
// What tls = "dane" does for a host without secure TLSA records.
enum class DaneFallback { Opportunistic, Required };
inline bool is_dane(TlsMode m) { return m == TlsMode::Dane || m == TlsMode::DaneOnly; }

struct Route {
  std::string name;
  std::vector<std::string> match;  // address list names, or "*"
  RouteKind kind = RouteKind::Mx;
  std::string host;                // kind == Host: name or IP literal
  int port = 25;
  bool mx_lookup = false;
  TlsMode tls = TlsMode::Opportunistic;
  DaneFallback dane_fallback = DaneFallback::Opportunistic;  // tls = "dane" only
  bool verify_ca = false;
  bool verify_hostname = false;
  bool has_min_tls_version = false;
  TlsVersion min_tls_version = TlsVersion::V1_1;
  std::vector<std::string> ciphers;  // IANA names; default: seed 001 outbound list
  bool client_cert = false;
  int max_connections = 20;
  int line = 0;
};

struct Queue {
  std::string path;
  uint64_t map_size_mb = 4096;
  uint64_t max_lifetime = 5 * 86400;  // seconds
  std::vector<uint64_t> retry = {300, 600, 1800, 3600, 7200, 14400};
  uint64_t max_message_size = 36700160;
  uint32_t max_recipients = 1000;
};

struct Dns {
  std::vector<std::string> servers;  // "ADDRESS[@PORT]"
  bool dnssec = false;
  std::string trust_anchor = "/usr/share/dns/root.key";
  uint64_t timeout = 10;             // seconds before a lookup counts as a temporary failure
};

struct MtaSts {
  bool enabled = true;
  int https_port = 443;          // policy server port; tests only (RFC 8461 fixes 443)
  uint64_t fetch_timeout = 60;   // seconds for one policy fetch, DNS to last byte
};

struct Dkim {
  std::string domain;
  std::string selector;
  std::string key;
};

struct Tlsrpt {
  bool enabled = false;
  std::string organization;
  std::string contact;
  std::string submitter;
  Dkim dkim;
};

// SPEC R-TENANT: binding the mail of an allowlisted (often shared) range to our own tenant.
// Every key optional; configured = false (no relay_policy section): no binding at all.
struct RelayPolicy {
  bool configured = false;
  std::vector<std::string> sender_domains;  // "example.com", ".example.com" (subdomains); lower case
  bool check_from = false;                  // the header From: domain too, at end of DATA
  bool allow_null_sender = false;           // MAIL FROM:<> skips the binding
  std::vector<std::string> require_dkim;    // d= domains, one verifying signature needed; lower case
  std::vector<Cidr> exempt;                 // clients the binding does not apply to
};

// Outbound DKIM signing of relayed mail, chosen by the From: header's domain (exact match).
struct DkimSign {
  std::string domain;  // lower case
  std::string selector;
  std::string key;     // PEM file (RSA or Ed25519)
  std::vector<std::string> headers = {"from", "to", "subject", "date", "message-id"};
  bool resign = false;  // sign even when a valid signature by `domain` is present
  int line = 0;
};

struct Limits {
  uint32_t connections = 1000;
  uint32_t connections_per_ip = 50;
  uint64_t command_timeout = 300;  // seconds
  uint64_t data_timeout = 600;
  uint64_t connect_timeout = 30;  // outbound: TCP connect
  uint64_t reply_timeout = 300;   // outbound: each server reply (RFC 5321 4.5.3.2)
  uint64_t shutdown_timeout = 10;  // SIGTERM: how long live inbound sessions may finish
};

enum class LogFormat { Kv, Json };
enum class LogLevel { Info, Debug };

// log.file = "syslog": syslog(3) with facility mail instead of a file.
constexpr const char* kLogToSyslog = "syslog";

struct Log {
  LogFormat format = LogFormat::Kv;
  LogLevel level = LogLevel::Info;  // debug: also client session state transitions
  std::string file;  // empty: stderr; kLogToSyslog: syslog; else a file
};

// SPEC R-CONSOLE: the admin console. No `admin` section: enabled = false, no console.
struct AdminUser {
  std::string name;
  std::string password_hash;  // crypt(3), yescrypt ("$y$...")
};

struct Admin {
  bool enabled = false;
  std::vector<Listen> listen;            // default 127.0.0.1:8443
  std::vector<AdminUser> users;
  std::vector<Cidr> metrics_allow;       // may read /metrics without a login
  bool tls = true;                       // false: plain HTTP, loopback addresses only
  uint32_t history_days = 30;
  uint64_t history_max_mb = 512;
};

struct Config {
  std::string source;  // file it was loaded from
  // Source line of every setting in the file, by path as errors name it ("tls.key",
  // "routes[1]", "allow[0]"), so that checks made after loading can still say FILE:LINE.
  std::map<std::string, int> lines;
  // The text of every string setting as written ("60s" for queue.max_lifetime), by path.
  std::map<std::string, std::string> texts;
  std::string hostname;
  std::vector<Listen> listen;
  TlsFiles tls;
  std::vector<Cidr> allow;
  InboundTls inbound_tls;
  std::vector<AddressList> address_lists;
  std::vector<Route> routes;
  Queue queue;
  Dns dns;
  MtaSts mta_sts;
  Tlsrpt tlsrpt;
  RelayPolicy relay_policy;
  std::vector<DkimSign> dkim_sign;
  Limits limits;
  Log log;
  Admin admin;
  std::string user = "smarthost";  // unprivileged user after binding (root only)
  // RFC 8689 4.2.2: a message's "TLS-Required: No" header asks that TLS policy failures not stop
  // it. Ignore (default): our routes' policy wins. Honour: such a message (without REQUIRETLS)
  // goes by opportunistic TLS, an MTA-STS enforce policy as testing (router/tls_demand.h).
  TlsRequiredHeader tls_required_header = TlsRequiredHeader::Ignore;

  const Route* find_route(const std::string& name) const;
  const AddressList* find_list(const std::string& name) const;
  const DkimSign* find_dkim_sign(const std::string& from_domain) const;  // exact, case-insensitive
  // "FILE:LINE" of the setting at `path`, or of the nearest enclosing one that is in the file
  // ("tls.ca_file" left at its default: the line of "tls"); "FILE" when none is.
  std::string where(const std::string& path) const;
  // A duration in the words of the setting at `path` ("after 60s" for "60s", not "after 1m")
  // when it holds `seconds`; otherwise config::format_duration(seconds).
  std::string duration_words(const std::string& path, uint64_t seconds) const;
};

// Seed 001: what Gmail's servers accept (inbound default) and what its
// outbound servers prefer, in that order (route default).
const std::vector<std::string>& default_inbound_ciphers();
const std::vector<std::string>& default_outbound_ciphers();

}  // namespace config
