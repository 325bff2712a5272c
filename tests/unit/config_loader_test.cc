// config_loader_test.cc - one case per class of config error, each with its
// FILE:LINE: path: message, plus the defaults of a minimal valid file.
#include <CppUTest/TestHarness.h>

#include <string>

#include "config/config_loader.h"
#include "config/duration.h"

using config::load_config_text;

namespace {

const char* kMinimal =
    "allow = [ \"127.0.0.1\" ];\n"                                     // 1
    "queue = { path = \"/tmp/q\"; };\n"                                  // 2
    "routes = ( { name = \"default\"; match = [ \"*\" ]; kind = \"mx\"; } );\n";  // 3

std::string joined(const config::LoadResult& r) {
  std::string s;
  for (const auto& e : r.errors) s += e + "\n";
  return s;
}

}  // namespace

TEST_GROUP(ConfigLoader){};

TEST(ConfigLoader, MinimalFileGetsDefaults) {
  auto r = load_config_text(kMinimal, "t.cfg");
  CHECK_TEXT(r.config != nullptr, joined(r).c_str());
  const auto& c = *r.config;
  CHECK_EQUAL(2u, c.listen.size());
  CHECK_EQUAL(25, c.listen[0].port);
  CHECK_EQUAL(5u * 86400, c.queue.max_lifetime);
  CHECK_EQUAL(6u, c.queue.retry.size());
  CHECK_EQUAL(36700160u, c.queue.max_message_size);
  CHECK_EQUAL(1000u, c.queue.max_recipients);
  CHECK_EQUAL(4096u, c.queue.map_size_mb);
  CHECK(c.routes[0].tls == config::TlsMode::Opportunistic);
  CHECK_EQUAL(25, c.routes[0].port);
  CHECK(!c.routes[0].ciphers.empty());
  CHECK(!c.inbound_tls.ciphers.empty());
  CHECK(c.inbound_tls.default_level == config::InboundLevel::Opportunistic);
  // Issue 13 item 8: the listener defaults to TLS 1.2; routes keep no minimum (1.1).
  CHECK(c.inbound_tls.min_version == config::TlsVersion::V1_2);
  CHECK(!c.routes[0].has_min_tls_version);
  CHECK_EQUAL(300u, c.limits.command_timeout);
  CHECK_EQUAL(10u, c.limits.shutdown_timeout);
  CHECK(c.log.level == config::LogLevel::Info);
  CHECK(!c.hostname.empty());
}

TEST(ConfigLoader, FullExample) {
  std::string text = std::string(
      "hostname = \"Relay.Example.com\";\n"
      "listen = ( { address = \"127.0.0.1\"; port = 2525; }, { address = \"::1\"; port = 2525; } );\n"
      "allow = [ \"209.85.128.0/17\", \"2001:4860:4000::/36\" ];\n"
      "inbound_tls = { default = \"opportunistic\"; min_version = \"1.2\";\n"
      "  peers = ( { match = [ \"203.0.113.0/24\" ]; level = \"opportunistic\"; } ); };\n"
      "address_lists = { partners = [ \"Partner.Example\", \".bank.example\", \"ceo@Supplier.example\" ]; };\n"
      "routes = ( { name = \"partners\"; match = [ \"partners\" ]; kind = \"mx\"; tls = \"required\";\n"
      "             verify_ca = true; verify_hostname = true; min_tls_version = \"1.3\";\n"
      "             ciphers = [ \"TLS_AES_256_GCM_SHA384\" ]; },\n"
      "           { name = \"default\"; match = [ \"*\" ]; kind = \"host\"; host = \"gw.example.net\";\n"
      "             port = 587; mx_lookup = true; tls = \"none\"; } );\n"
      "queue = { path = \"/tmp/q\"; max_lifetime = \"20s\"; retry = [ \"1s\", \"2s\" ]; };\n"
      "dns = { servers = [ \"127.0.0.1@5353\", \"::1\" ]; timeout = \"2s\"; };\n"
      "limits = { connections = 10; connections_per_ip = 2; command_timeout = \"2s\"; data_timeout = \"3s\";\n"
      "           shutdown_timeout = \"1s\"; };\n"
      "log = { format = \"json\"; level = \"debug\"; };\n");
  auto r = load_config_text(text, "t.cfg");
  CHECK_TEXT(r.config != nullptr, joined(r).c_str());
  const auto& c = *r.config;
  STRCMP_EQUAL("relay.example.com", c.hostname.c_str());
  STRCMP_EQUAL("partner.example", c.address_lists[0].entries[0].c_str());
  STRCMP_EQUAL("ceo@supplier.example", c.address_lists[0].entries[2].c_str());
  CHECK(c.routes[0].min_tls_version == config::TlsVersion::V1_3);
  CHECK_EQUAL(1u, c.routes[0].ciphers.size());
  CHECK(c.routes[1].kind == config::RouteKind::Host);
  CHECK(c.routes[1].mx_lookup);
  CHECK_EQUAL(587, c.routes[1].port);
  CHECK_EQUAL(20u, c.queue.max_lifetime);
  CHECK_EQUAL(2u, c.dns.timeout);
  CHECK_EQUAL(3u, c.limits.data_timeout);
  CHECK_EQUAL(1u, c.limits.shutdown_timeout);
  CHECK(c.log.format == config::LogFormat::Json);
  CHECK(c.log.level == config::LogLevel::Debug);
}

// Each case appends or replaces lines of kMinimal and expects one error.
TEST(ConfigLoader, ErrorClasses) {
  struct {
    const char* name;
    std::string text;
    const char* want;  // the whole first error line
  } cases[] = {
      {"syntax", std::string(kMinimal) + "hostname = ;\n", "t.cfg:4: syntax error: syntax error"},
      {"unknown top-level key", std::string(kMinimal) + "hostnme = \"x\";\n",
       "t.cfg:4: hostnme: unknown key (allowed here: hostname, listen, tls, allow, inbound_tls, "
       "address_lists, routes, queue, dns, mta_sts, tlsrpt, relay_policy, dkim_sign, limits, log, user, "
       "tls_required_header, admin)"},
      {"unknown route key", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                            "routes = ( { name = \"d\"; match = [ \"*\" ]; verfy_ca = true; } );\n",
       "t.cfg:3: routes[0].verfy_ca: unknown key (allowed here: name, match, kind, host, port, mx_lookup, "
       "tls, verify_ca, verify_hostname, min_tls_version, ciphers, client_cert, max_connections, dane_fallback)"},
      {"missing allow", "queue = { path = \"/q\"; };\nroutes = ( { name = \"d\"; match = [ \"*\" ]; } );\n",
       "t.cfg: allow: is required: list the upstream servers' addresses or CIDR ranges that may relay"},
      {"bad CIDR", "allow = [ \"10.0.0.0/33\" ];\nqueue = { path = \"/q\"; };\n"
                   "routes = ( { name = \"d\"; match = [ \"*\" ]; } );\n",
       "t.cfg:1: allow[0]: '10.0.0.0/33' has a bad prefix length (0..32 allowed)"},
      {"bad log level", std::string(kMinimal) + "log = { level = \"trace\"; };\n",
       "t.cfg:4: log.level: 'trace' is not allowed (use \"info\", \"debug\")"},
      {"wrong type", std::string(kMinimal) + "limits = { connections = \"many\"; };\n",
       "t.cfg:4: limits.connections: must be a whole number"},
      {"out of range", std::string(kMinimal) + "listen = ( { address = \"::\"; port = 70000; } );\n",
       "t.cfg:4: listen[0].port: must be between 1 and 65535"},
      {"bad duration", std::string(kMinimal) + "limits = { command_timeout = \"5 minutes\"; };\n",
       "t.cfg:4: limits.command_timeout: must be a duration string such as \"30s\", \"5m\", \"2h\" or \"5d\""},
      {"bad enum", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                   "routes = ( { name = \"d\"; match = [ \"*\" ]; tls = \"must\"; } );\n",
       "t.cfg:3: routes[0].tls: 'must' is not allowed (use \"none\", \"opportunistic\", \"required\", \"dane\", "
       "\"dane-only\")"},
      {"dane without dnssec", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                              "routes = ( { name = \"d\"; match = [ \"*\" ]; tls = \"dane-only\"; } );\n",
       "t.cfg:3: routes[0].tls: \"dane-only\" needs dns.dnssec = true (and dns.trust_anchor): TLSA records count "
       "only when DNSSEC-validated"},
      {"dane_fallback without dane", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                                     "routes = ( { name = \"d\"; match = [ \"*\" ]; dane_fallback = \"required\"; } );\n",
       "t.cfg:3: routes[0].dane_fallback: only for tls = \"dane\""},
      {"dane with a missing trust anchor", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                                           "routes = ( { name = \"d\"; match = [ \"*\" ]; tls = \"dane\"; } );\n"
                                           "dns = { dnssec = true; trust_anchor = \"/nonexistent.key\"; };\n",
       "t.cfg:4: dns.trust_anchor: cannot read '/nonexistent.key': No such file or directory"},
      {"TLS 1.0 refused", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                          "routes = ( { name = \"d\"; match = [ \"*\" ]; min_tls_version = \"1.0\"; } );\n",
       "t.cfg:3: routes[0].min_tls_version: TLS 1.0 is not supported: this build of wolfSSL has no TLS 1.0 "
       "and RFC 8996 deprecates it (use \"1.1\", \"1.2\" or \"1.3\")"},
      {"unknown cipher", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                         "routes = ( { name = \"d\"; match = [ \"*\" ];\n ciphers = [ \"TLS_FOO\" ]; } );\n",
       "t.cfg:4: routes[0].ciphers: "},
      {"unknown list", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                       "routes = ( { name = \"d\"; match = [ \"partners\" ]; } );\n",
       "t.cfg:3: routes[0].match[0]: no address list named 'partners' (known: none; or \"*\" for every recipient)"},
      {"host route without host", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                                  "routes = ( { name = \"d\"; match = [ \"*\" ]; kind = \"host\"; } );\n",
       "t.cfg:3: routes[0]: kind = \"host\" needs host = \"NAME or IP\""},
      {"verify with tls none", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                               "routes = ( { name = \"d\"; match = [ \"*\" ]; tls = \"none\"; verify_ca = true; } );\n",
       "t.cfg:3: routes[0].verify_ca: has no effect with tls = \"none\": remove it or set tls = \"opportunistic\" or \"required\""},
      {"hostname without ca", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                              "routes = ( { name = \"d\"; match = [ \"*\" ]; verify_hostname = true; } );\n",
       "t.cfg:3: routes[0].verify_hostname: needs verify_ca = true: a host name in an unverified certificate proves nothing"},
      {"duplicate route", "allow = [ \"127.0.0.1\" ];\nqueue = { path = \"/q\"; };\n"
                          "routes = ( { name = \"d\"; match = [ \"*\" ]; },\n { name = \"d\"; match = [ \"*\" ]; } );\n",
       "t.cfg:4: routes[1].name: route name 'd' is used twice"},
      {"bad address list entry", std::string(kMinimal) + "address_lists = { l = [ \"not a domain\" ]; };\n",
       "t.cfg:4: address_lists.l[0]: 'not a domain' is not a domain (example.com), subdomain pattern (.example.com) or address"},
      {"unreadable cert", std::string(kMinimal) + "tls = { cert = \"/nonexistent.pem\"; key = \"/nonexistent.key\"; };\n",
       "t.cfg:4: tls.cert: cannot read '/nonexistent.pem': No such file or directory"},
      {"required inbound without cert", std::string(kMinimal) + "inbound_tls = { default = \"required\"; };\n",
       "t.cfg:4: inbound_tls: a \"required\" level needs tls.cert and tls.key for STARTTLS"},
      {"bad dns server", std::string(kMinimal) + "dns = { servers = [ \"127.0.0.1:53\" ]; };\n",
       "t.cfg:4: dns.servers[0]: '127.0.0.1:53' is not ADDRESS or ADDRESS@PORT (numeric IP)"},
      {"relay_policy bad domain", std::string(kMinimal) + "relay_policy = { sender_domains = [ \"ok.example\",\n \"not a domain\" ]; };\n",
       "t.cfg:5: relay_policy.sender_domains[1]: 'not a domain' is not a domain (example.com or .example.com for its subdomains)"},
      {"relay_policy dkim subdomain pattern", std::string(kMinimal) + "relay_policy = { require_dkim = [ \".example.com\" ]; };\n",
       "t.cfg:4: relay_policy.require_dkim[0]: '.example.com' is not a domain (example.com)"},
      {"check_from without sender_domains", std::string(kMinimal) + "relay_policy = { check_from = true; };\n",
       "t.cfg:4: relay_policy.check_from: needs sender_domains: the domains the From: header may hold"},
      {"relay_policy bad exempt", std::string(kMinimal) + "relay_policy = { exempt = [ \"10.0.0.0/40\" ]; };\n",
       "t.cfg:4: relay_policy.exempt[0]: '10.0.0.0/40' has a bad prefix length"},
      {"dkim_sign without key", std::string(kMinimal) + "dkim_sign = ( { domain = \"example.com\"; selector = \"s1\"; } );\n",
       "t.cfg:4: dkim_sign[0].key: is required"},
      {"dkim_sign headers without from", std::string(kMinimal) + "dkim_sign = ( { domain = \"example.com\"; selector = \"s1\";\n key = \"/dev/null\"; headers = [ \"to\" ]; } );\n",
       "t.cfg:5: dkim_sign[0].headers: must include \"from\" (RFC 6376 5.4)"},
      {"admin without users", std::string(kMinimal) + "admin = { tls = false; };\n",
       "t.cfg:4: admin.users: is required"},
      {"admin password not yescrypt", std::string(kMinimal) +
           "admin = { tls = false; users = ( { name = \"a\"; password_hash = \"$6$x$y\"; } ); };\n",
       "t.cfg:4: admin.users[0].password_hash: must be a yescrypt crypt(3) hash"},
      {"admin plain http off loopback", std::string(kMinimal) +
           "admin = { tls = false; listen = ( { address = \"192.0.2.1\"; port = 8080; } );\n"
           "  users = ( { name = \"a\"; password_hash = \"$y$j9T$a$b\"; } ); };\n",
       "t.cfg:4: admin.listen[0]: '192.0.2.1' is not a loopback address"},
      {"admin https without a certificate", std::string(kMinimal) +
           "admin = { users = ( { name = \"a\"; password_hash = \"$y$j9T$a$b\"; } ); };\n",
       "t.cfg:4: admin: the console speaks HTTPS with tls.cert and tls.key"},
      {"missing queue path", "allow = [ \"127.0.0.1\" ];\nqueue = { };\nroutes = ( { name = \"d\"; match = [ \"*\" ]; } );\n",
       "t.cfg:2: queue.path: is required: the folder that holds the LMDB queue"},
  };
  for (const auto& c : cases) {
    auto r = load_config_text(c.text, "t.cfg");
    CHECK_TEXT(r.config == nullptr, c.name);
    CHECK_TEXT(!r.errors.empty(), c.name);
    std::string got = r.errors[0];
    std::string want = c.want;
    std::string msg = std::string(c.name) + ":\n got  " + got + "\n want " + want;
    CHECK_TEXT(got.compare(0, want.size(), want) == 0, msg.c_str());
  }
}

TEST(ConfigLoader, AllErrorsAreReported) {
  auto r = load_config_text("hostnme = 1;\nallow = [ \"x\" ];\nqueue = { path = 1; };\nroutes = ( { } );\n", "t.cfg");
  CHECK(r.config == nullptr);
  CHECK_TEXT(r.errors.size() >= 5, joined(r).c_str());
}

TEST(ConfigLoader, Durations) {
  CHECK_EQUAL(30u, *config::parse_duration("30s"));
  CHECK_EQUAL(300u, *config::parse_duration("5m"));
  CHECK_EQUAL(7200u, *config::parse_duration("2h"));
  CHECK_EQUAL(432000u, *config::parse_duration("5d"));
  const char* bad[] = {"", "5", "m", "0s", "-1s", "1.5h", "5w", "s5"};
  for (const char* b : bad) CHECK_TEXT(!config::parse_duration(b).has_value(), b);
  STRCMP_EQUAL("5m", config::format_duration(300).c_str());
  STRCMP_EQUAL("90s", config::format_duration(90).c_str());
}

// Issue 14 item 4: a duration in words is the setting's own ("60s" stays "60s", never "0h");
// a value the setting does not hold (a capped lifetime) is written in its largest exact unit.
TEST(ConfigLoader, DurationWordsFollowTheSetting) {
  std::string text = kMinimal;
  text.replace(text.find("path = \"/tmp/q\";"), 17, "path = \"/tmp/q\"; max_lifetime = \"60s\";");
  auto r = load_config_text(text + "limits = { shutdown_timeout = \"2m\"; };\n", "t.cfg");
  CHECK_TEXT(r.config != nullptr, joined(r).c_str());
  const auto& c = *r.config;
  STRCMP_EQUAL("60s", c.duration_words("queue.max_lifetime", c.queue.max_lifetime).c_str());
  STRCMP_EQUAL("2m", c.duration_words("limits.shutdown_timeout", c.limits.shutdown_timeout).c_str());
  STRCMP_EQUAL("1d", c.duration_words("queue.max_lifetime", 86400).c_str());
  STRCMP_EQUAL("30s", c.duration_words("limits.command_timeout", 30).c_str());  // not in the file
}
