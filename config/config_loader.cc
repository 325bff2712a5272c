// config_loader.cc - libconfig file → validated config::Config.
//
// The file is parsed by libconfig (syntax), then every section is walked by a
// Checker that knows the allowed keys and their types (meaning). All problems
// are collected as "FILE:LINE: path: message" and any of them refuses the
// file, so a typo can never pass silently. A few checks look across sections
// (route match names refer to address_lists, client_cert needs tls.cert).
#include "config/config_loader.h"

#include <libconfig.h++>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>

#include "certs/tls_context.h"
#include "config/duration.h"

namespace config {

namespace {

using libconfig::Setting;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool valid_domain(const std::string& d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  size_t label = 0;
  for (unsigned char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    // UTF-8 bytes are allowed: IDNA names are turned into A-labels by the router.
    if (!(std::isalnum(c) || c == '-' || c == '_' || c >= 0x80)) return false;
    if (++label > 63) return false;
  }
  return true;
}

class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  std::vector<std::string> errors;

  void error(const Setting& s, const std::string& path, const std::string& msg) {
    const char* f = s.getSourceFile();
    int line = static_cast<int>(s.getSourceLine());
    std::string where = (f && *f) ? f : file_;
    if (line > 0) where += ":" + std::to_string(line);
    errors.push_back(where + ": " + path + ": " + msg);
  }

  // Reports every key of `group` that is not in `allowed`.
  void only_keys(const Setting& group, const std::string& path,
                 std::initializer_list<const char*> allowed) {
    for (int i = 0; i < group.getLength(); ++i) {
      const Setting& child = group[i];
      const char* name = child.getName();
      if (!name) continue;
      bool ok = std::any_of(allowed.begin(), allowed.end(),
                            [&](const char* a) { return std::string(a) == name; });
      if (!ok) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        error(child, join(path, name), "unknown key (allowed here: " + list + ")");
      }
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  bool is_group(const Setting& s, const std::string& path) {
    if (s.getType() == Setting::TypeGroup) return true;
    error(s, path, "must be a group { ... }");
    return false;
  }

  bool is_list(const Setting& s, const std::string& path) {
    if (s.getType() == Setting::TypeList || s.getType() == Setting::TypeArray) return true;
    error(s, path, "must be a list [ ... ] or ( ... )");
    return false;
  }

  // Each reader leaves `out` untouched when the key is absent or wrong.
  bool str(const Setting& g, const std::string& path, const char* key, std::string& out) {
    if (!g.exists(key)) return false;
    const Setting& s = g[key];
    if (s.getType() != Setting::TypeString) {
      error(s, join(path, key), "must be a string in double quotes");
      return false;
    }
    out = s.c_str();
    return true;
  }

  bool boolean(const Setting& g, const std::string& path, const char* key, bool& out) {
    if (!g.exists(key)) return false;
    const Setting& s = g[key];
    if (s.getType() != Setting::TypeBoolean) {
      error(s, join(path, key), "must be true or false");
      return false;
    }
    out = s;
    return true;
  }

  template <typename T>
  bool integer(const Setting& g, const std::string& path, const char* key, T& out, long long lo,
               long long hi) {
    if (!g.exists(key)) return false;
    const Setting& s = g[key];
    long long v = 0;
    if (s.getType() == Setting::TypeInt) {
      v = static_cast<int>(s);
    } else if (s.getType() == Setting::TypeInt64) {
      v = static_cast<long long>(s);
    } else {
      error(s, join(path, key), "must be a whole number");
      return false;
    }
    if (v < lo || v > hi) {
      error(s, join(path, key),
            "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
      return false;
    }
    out = static_cast<T>(v);
    return true;
  }

  bool duration(const Setting& g, const std::string& path, const char* key, uint64_t& out) {
    if (!g.exists(key)) return false;
    const Setting& s = g[key];
    return duration_value(s, join(path, key), out);
  }

  bool duration_value(const Setting& s, const std::string& path, uint64_t& out) {
    if (s.getType() == Setting::TypeString) {
      if (auto d = parse_duration(s.c_str())) {
        out = *d;
        return true;
      }
    }
    error(s, path, "must be a duration string such as \"30s\", \"5m\", \"2h\" or \"5d\"");
    return false;
  }

  bool strings(const Setting& g, const std::string& path, const char* key,
               std::vector<std::string>& out) {
    if (!g.exists(key)) return false;
    const Setting& s = g[key];
    if (!is_list(s, join(path, key))) return false;
    std::vector<std::string> v;
    for (int i = 0; i < s.getLength(); ++i) {
      const Setting& e = s[i];
      if (e.getType() != Setting::TypeString) {
        error(e, join(path, key) + "[" + std::to_string(i) + "]", "must be a string");
        return false;
      }
      v.emplace_back(e.c_str());
    }
    out = std::move(v);
    return true;
  }

  template <typename E>
  bool choice(const Setting& g, const std::string& path, const char* key, E& out,
              std::initializer_list<std::pair<const char*, E>> options) {
    std::string v;
    if (!str(g, path, key, v)) return false;
    std::string list;
    for (const auto& o : options) {
      if (v == o.first) {
        out = o.second;
        return true;
      }
      list += std::string(list.empty() ? "" : ", ") + "\"" + o.first + "\"";
    }
    error(g[key], join(path, key), "'" + v + "' is not allowed (use " + list + ")");
    return false;
  }

  bool tls_version(const Setting& g, const std::string& path, const char* key, TlsVersion& out) {
    std::string v;
    if (!str(g, path, key, v)) return false;
    if (v == "1.1") out = TlsVersion::V1_1;
    else if (v == "1.2") out = TlsVersion::V1_2;
    else if (v == "1.3") out = TlsVersion::V1_3;
    else if (v == "1.0" || v == "1" || v == "1.0.0") {
      error(g[key], join(path, key),
            "TLS 1.0 is not supported: this build of wolfSSL has no TLS 1.0 and RFC 8996 "
            "deprecates it (use \"1.1\", \"1.2\" or \"1.3\")");
      return false;
    } else {
      error(g[key], join(path, key), "'" + v + "' is not a TLS version (use \"1.1\", \"1.2\" or \"1.3\")");
      return false;
    }
    return true;
  }

  void ciphers(const Setting& g, const std::string& path, std::vector<std::string>& out) {
    if (!strings(g, path, "ciphers", out)) return;
    std::string why;
    if (out.empty()) {
      error(g["ciphers"], join(path, "ciphers"), "must name at least one cipher suite");
    } else if (!certs::validate_cipher_names(out, &why)) {
      error(g["ciphers"], join(path, "ciphers"), why);
    }
  }

  void readable_file(const Setting& g, const std::string& path, const char* key) {
    if (!g.exists(key)) return;
    std::string f = g[key].getType() == Setting::TypeString ? g[key].c_str() : "";
    if (!f.empty() && access(f.c_str(), R_OK) != 0) {
      error(g[key], join(path, key), "cannot read '" + f + "': " + strerror(errno));
    }
  }

 private:
  std::string file_;
};

class Loader {
 public:
  Loader(Checker& c, Config& cfg) : c_(c), cfg_(cfg) {}

  void load(const Setting& root) {
    c_.only_keys(root, "", {"hostname", "listen", "tls", "allow", "inbound_tls", "address_lists",
                            "routes", "queue", "dns", "mta_sts", "tlsrpt", "relay_policy", "dkim_sign",
                            "limits", "log", "user", "tls_required_header", "admin"});
    hostname(root);
    listen(root);
    tls(root);
    allow(root);
    inbound_tls(root);
    address_lists(root);
    routes(root);
    queue(root);
    dns(root);
    dane_needs_dnssec(root);
    small_sections(root);
    relay_policy(root);
    dkim_sign(root);
    admin(root);
  }

 private:
  void hostname(const Setting& root) {
    if (c_.str(root, "", "hostname", cfg_.hostname)) {
      cfg_.hostname = lower(cfg_.hostname);
      if (!valid_domain(cfg_.hostname)) {
        c_.error(root["hostname"], "hostname", "'" + cfg_.hostname + "' is not a host name");
      }
      return;
    }
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    cfg_.hostname = lower(buf);
  }

  void listen(const Setting& root) {
    if (!root.exists("listen")) {
      cfg_.listen = {{"0.0.0.0", 25, 0}, {"::", 25, 0}};
      return;
    }
    listen_list(root["listen"], "listen", cfg_.listen);
  }

  void listen_list(const Setting& l, const std::string& where, std::vector<Listen>& out) {
    if (!c_.is_list(l, where)) return;
    for (int i = 0; i < l.getLength(); ++i) {
      std::string path = where + "[" + std::to_string(i) + "]";
      const Setting& g = l[i];
      if (!c_.is_group(g, path)) continue;
      c_.only_keys(g, path, {"address", "port"});
      Listen li;
      li.line = static_cast<int>(g.getSourceLine());
      if (!c_.str(g, path, "address", li.address)) {
        if (!g.exists("address")) c_.error(g, path, "needs an address such as \"0.0.0.0\" or \"::\"");
      } else if (!parse_ip(li.address)) {
        c_.error(g["address"], path + ".address", "'" + li.address + "' is not a numeric IPv4 or IPv6 address");
      }
      c_.integer(g, path, "port", li.port, 1, 65535);
      out.push_back(li);
    }
    if (out.empty()) c_.error(l, where, "must name at least one address");
  }

  void tls(const Setting& root) {
    if (!root.exists("tls")) return;
    const Setting& g = root["tls"];
    if (!c_.is_group(g, "tls")) return;
    c_.only_keys(g, "tls", {"cert", "key", "ca_file"});
    c_.str(g, "tls", "cert", cfg_.tls.cert);
    c_.str(g, "tls", "key", cfg_.tls.key);
    c_.str(g, "tls", "ca_file", cfg_.tls.ca_file);
    if (cfg_.tls.cert.empty() != cfg_.tls.key.empty()) {
      c_.error(g, "tls", "cert and key go together: set both or neither");
    }
    c_.readable_file(g, "tls", "cert");
    c_.readable_file(g, "tls", "key");
  }

  void allow(const Setting& root) {
    if (!root.exists("allow")) {
      c_.error(root, "allow",
               "is required: list the upstream servers' addresses or CIDR ranges that may relay");
      return;
    }
    cidr_list(root["allow"], "allow", cfg_.allow);
  }

  void cidr_list(const Setting& s, const std::string& path, std::vector<Cidr>& out) {
    std::vector<std::string> texts;
    if (!c_.is_list(s, path)) return;
    for (int i = 0; i < s.getLength(); ++i) {
      std::string p = path + "[" + std::to_string(i) + "]";
      if (s[i].getType() != Setting::TypeString) {
        c_.error(s[i], p, "must be an address or CIDR range in double quotes");
        continue;
      }
      std::string why;
      if (auto c = parse_cidr(s[i].c_str(), &why)) {
        out.push_back(*c);
      } else {
        c_.error(s[i], p, why);
      }
    }
    if (s.getLength() == 0) c_.error(s, path, "must not be empty");
  }

  void inbound_tls(const Setting& root) {
    auto& in = cfg_.inbound_tls;
    in.ciphers = default_inbound_ciphers();
    if (!root.exists("inbound_tls")) return;
    const Setting& g = root["inbound_tls"];
    const std::string path = "inbound_tls";
    if (!c_.is_group(g, path)) return;
    c_.only_keys(g, path, {"default", "min_version", "ciphers", "peers"});
    c_.choice(g, path, "default", in.default_level,
              {{"opportunistic", InboundLevel::Opportunistic}, {"required", InboundLevel::Required}});
    in.has_min_version = c_.tls_version(g, path, "min_version", in.min_version);
    c_.ciphers(g, path, in.ciphers);
    if (g.exists("peers")) peers(g["peers"]);
    bool any_required = in.default_level == InboundLevel::Required;
    for (const auto& p : in.peers) any_required |= p.level == InboundLevel::Required;
    if (any_required && cfg_.tls.cert.empty()) {
      c_.error(g, path, "a \"required\" level needs tls.cert and tls.key for STARTTLS");
    }
  }

  void peers(const Setting& l) {
    const std::string path = "inbound_tls.peers";
    if (!c_.is_list(l, path)) return;
    for (int i = 0; i < l.getLength(); ++i) {
      std::string p = path + "[" + std::to_string(i) + "]";
      const Setting& g = l[i];
      if (!c_.is_group(g, p)) continue;
      c_.only_keys(g, p, {"match", "level"});
      InboundPeer peer;
      if (g.exists("match")) {
        cidr_list(g["match"], p + ".match", peer.match);
      } else {
        c_.error(g, p, "needs match = [ \"CIDR\", ... ]");
      }
      if (!c_.choice(g, p, "level", peer.level,
                     {{"opportunistic", InboundLevel::Opportunistic},
                      {"required", InboundLevel::Required}}) &&
          !g.exists("level")) {
        c_.error(g, p, "needs level = \"opportunistic\" or \"required\"");
      }
      cfg_.inbound_tls.peers.push_back(std::move(peer));
    }
  }

  void address_lists(const Setting& root) {
    if (!root.exists("address_lists")) return;
    const Setting& g = root["address_lists"];
    if (!c_.is_group(g, "address_lists")) return;
    for (int i = 0; i < g.getLength(); ++i) {
      const Setting& l = g[i];
      AddressList al;
      al.name = l.getName();
      al.line = static_cast<int>(l.getSourceLine());
      std::string path = "address_lists." + al.name;
      if (!c_.strings(g, "address_lists", l.getName(), al.entries)) continue;
      for (size_t k = 0; k < al.entries.size(); ++k) {
        std::string why = address_entry(al.entries[k]);
        if (!why.empty()) c_.error(l[static_cast<int>(k)], path + "[" + std::to_string(k) + "]", why);
      }
      if (al.entries.empty()) c_.error(l, path, "is empty: list domains or addresses");
      cfg_.address_lists.push_back(std::move(al));
    }
  }

  // Normalises an entry in place; returns why it is wrong, or "".
  static std::string address_entry(std::string& e) {
    auto at = e.rfind('@');
    if (at != std::string::npos) {
      std::string dom = lower(e.substr(at + 1));
      if (at == 0 || !valid_domain(dom)) return "'" + e + "' is not an address like user@example.com";
      e = e.substr(0, at + 1) + dom;
      return "";
    }
    std::string dom = lower(e);
    bool sub = !dom.empty() && dom[0] == '.';
    if (!valid_domain(sub ? dom.substr(1) : dom)) {
      return "'" + e + "' is not a domain (example.com), subdomain pattern (.example.com) or address";
    }
    e = dom;
    return "";
  }

  void routes(const Setting& root) {
    if (!root.exists("routes")) {
      c_.error(root, "routes", "is required: at least one route, e.g. { name = \"default\"; match = [ \"*\" ]; kind = \"mx\"; }");
      return;
    }
    const Setting& l = root["routes"];
    if (!c_.is_list(l, "routes")) return;
    if (l.getLength() == 0) c_.error(l, "routes", "must hold at least one route");
    std::set<std::string> names;
    for (int i = 0; i < l.getLength(); ++i) {
      std::string path = "routes[" + std::to_string(i) + "]";
      if (!c_.is_group(l[i], path)) continue;
      Route r = route(l[i], path);
      if (!r.name.empty() && !names.insert(r.name).second) {
        c_.error(l[i], path + ".name", "route name '" + r.name + "' is used twice");
      }
      cfg_.routes.push_back(std::move(r));
    }
  }

  Route route(const Setting& g, const std::string& path) {
    c_.only_keys(g, path, {"name", "match", "kind", "host", "port", "mx_lookup", "tls", "verify_ca",
                           "verify_hostname", "min_tls_version", "ciphers", "client_cert",
                           "max_connections", "dane_fallback"});
    Route r;
    r.line = static_cast<int>(g.getSourceLine());
    r.ciphers = default_outbound_ciphers();
    if (!c_.str(g, path, "name", r.name) && !g.exists("name")) c_.error(g, path, "needs a name");
    if (g.exists("name") && r.name.empty()) c_.error(g["name"], path + ".name", "must not be empty");
    route_match(g, path, r);
    c_.choice(g, path, "kind", r.kind, {{"mx", RouteKind::Mx}, {"host", RouteKind::Host}});
    c_.str(g, path, "host", r.host);
    c_.integer(g, path, "port", r.port, 1, 65535);
    c_.boolean(g, path, "mx_lookup", r.mx_lookup);
    c_.choice(g, path, "tls", r.tls,
              {{"none", TlsMode::None}, {"opportunistic", TlsMode::Opportunistic},
               {"required", TlsMode::Required}, {"dane", TlsMode::Dane},
               {"dane-only", TlsMode::DaneOnly}});
    c_.choice(g, path, "dane_fallback", r.dane_fallback,
              {{"opportunistic", DaneFallback::Opportunistic}, {"required", DaneFallback::Required}});
    c_.boolean(g, path, "verify_ca", r.verify_ca);
    c_.boolean(g, path, "verify_hostname", r.verify_hostname);
    r.has_min_tls_version = c_.tls_version(g, path, "min_tls_version", r.min_tls_version);
    c_.ciphers(g, path, r.ciphers);
    c_.boolean(g, path, "client_cert", r.client_cert);
    c_.integer(g, path, "max_connections", r.max_connections, 1, 10000);
    route_consistency(g, path, r);
    return r;
  }

  // DANE trusts TLSA records only as far as DNSSEC proves them (RFC 7672 2.1).
  void dane_needs_dnssec(const Setting& root) {
    if (cfg_.dns.dnssec || !root.exists("routes") || !root["routes"].isList()) return;
    const Setting& l = root["routes"];
    for (int i = 0; i < l.getLength() && i < static_cast<int>(cfg_.routes.size()); ++i) {
      const Route& r = cfg_.routes[static_cast<size_t>(i)];
      if (!is_dane(r.tls) || !l[i].exists("tls")) continue;
      c_.error(l[i]["tls"], "routes[" + std::to_string(i) + "].tls",
               std::string("\"") + tls_mode_name(r.tls) +
                   "\" needs dns.dnssec = true (and dns.trust_anchor): TLSA records count only when DNSSEC-validated");
    }
  }

  void route_match(const Setting& g, const std::string& path, Route& r) {
    if (!c_.strings(g, path, "match", r.match)) {
      if (!g.exists("match")) c_.error(g, path, "needs match = [ \"LIST\", ... ] or [ \"*\" ]");
      return;
    }
    if (r.match.empty()) c_.error(g["match"], path + ".match", "must not be empty");
    for (size_t k = 0; k < r.match.size(); ++k) {
      const std::string& m = r.match[k];
      if (m == "*" || cfg_.find_list(m)) continue;
      std::string known;
      for (const auto& l : cfg_.address_lists) known += (known.empty() ? "" : ", ") + l.name;
      c_.error(g["match"][static_cast<int>(k)], path + ".match[" + std::to_string(k) + "]",
               "no address list named '" + m + "' (known: " + (known.empty() ? "none" : known) +
                   "; or \"*\" for every recipient)");
    }
  }

  void route_consistency(const Setting& g, const std::string& path, Route& r) {
    if (r.kind == RouteKind::Host && r.host.empty()) {
      c_.error(g, path, "kind = \"host\" needs host = \"NAME or IP\"");
    }
    if (r.kind == RouteKind::Mx && g.exists("host")) {
      c_.error(g["host"], path + ".host", "only for kind = \"host\" (an mx route uses the recipient domain's MX)");
    }
    if (r.kind == RouteKind::Mx && g.exists("mx_lookup")) {
      c_.error(g["mx_lookup"], path + ".mx_lookup", "only for kind = \"host\"");
    }
    if (r.tls == TlsMode::None) {
      for (const char* k : {"verify_ca", "verify_hostname", "min_tls_version", "ciphers", "client_cert"}) {
        if (g.exists(k)) {
          c_.error(g[k], path + "." + k, std::string("has no effect with tls = \"none\": remove it or set tls = \"opportunistic\" or \"required\""));
        }
      }
    }
    if (g.exists("dane_fallback") && r.tls != TlsMode::Dane) {
      c_.error(g["dane_fallback"], path + ".dane_fallback", "only for tls = \"dane\"");
    }
    if (r.verify_hostname && !r.verify_ca) {
      c_.error(g["verify_hostname"], path + ".verify_hostname",
               "needs verify_ca = true: a host name in an unverified certificate proves nothing");
    }
    if (r.client_cert && cfg_.tls.cert.empty()) {
      c_.error(g["client_cert"], path + ".client_cert", "needs tls.cert and tls.key to present");
    }
  }

  void queue(const Setting& root) {
    if (!root.exists("queue")) {
      c_.error(root, "queue", "is required: queue = { path = \"/var/lib/smarthost/queue\"; };");
      return;
    }
    const Setting& g = root["queue"];
    if (!c_.is_group(g, "queue")) return;
    auto& q = cfg_.queue;
    c_.only_keys(g, "queue", {"path", "map_size_mb", "max_lifetime", "retry", "max_message_size",
                              "max_recipients"});
    if (!c_.str(g, "queue", "path", q.path) && !g.exists("path")) {
      c_.error(g, "queue.path", "is required: the folder that holds the LMDB queue");
    } else if (g.exists("path") && q.path.empty()) {
      c_.error(g["path"], "queue.path", "must not be empty");
    }
    c_.integer(g, "queue", "map_size_mb", q.map_size_mb, 1, 1LL << 24);
    c_.duration(g, "queue", "max_lifetime", q.max_lifetime);
    if (g.exists("retry") && c_.is_list(g["retry"], "queue.retry")) {
      const Setting& r = g["retry"];
      std::vector<uint64_t> v;
      for (int i = 0; i < r.getLength(); ++i) {
        uint64_t d = 0;
        if (c_.duration_value(r[i], "queue.retry[" + std::to_string(i) + "]", d)) v.push_back(d);
      }
      if (r.getLength() == 0) c_.error(r, "queue.retry", "must hold at least one interval");
      q.retry = v;
    }
    c_.integer(g, "queue", "max_message_size", q.max_message_size, 1024, 1LL << 31);
    c_.integer(g, "queue", "max_recipients", q.max_recipients, 1, 100000);
  }

  void dns(const Setting& root) {
    if (!root.exists("dns")) return;
    const Setting& g = root["dns"];
    if (!c_.is_group(g, "dns")) return;
    c_.only_keys(g, "dns", {"servers", "dnssec", "trust_anchor", "timeout"});
    if (c_.strings(g, "dns", "servers", cfg_.dns.servers)) {
      for (size_t i = 0; i < cfg_.dns.servers.size(); ++i) {
        const std::string& s = cfg_.dns.servers[i];
        auto at = s.find('@');
        std::string addr = s.substr(0, at);
        bool ok = parse_ip(addr).has_value();
        if (ok && at != std::string::npos) {
          std::string port = s.substr(at + 1);
          ok = !port.empty() && port.size() <= 5 &&
               port.find_first_not_of("0123456789") == std::string::npos && std::stoi(port) > 0 &&
               std::stoi(port) <= 65535;
        }
        if (!ok) {
          c_.error(g["servers"][static_cast<int>(i)], "dns.servers[" + std::to_string(i) + "]",
                   "'" + s + "' is not ADDRESS or ADDRESS@PORT (numeric IP)");
        }
      }
    }
    c_.boolean(g, "dns", "dnssec", cfg_.dns.dnssec);
    c_.str(g, "dns", "trust_anchor", cfg_.dns.trust_anchor);
    if (cfg_.dns.dnssec) c_.readable_file(g, "dns", "trust_anchor");
    c_.duration(g, "dns", "timeout", cfg_.dns.timeout);
  }

  void small_sections(const Setting& root) {
    c_.choice(root, "", "tls_required_header", cfg_.tls_required_header,
              {{"ignore", TlsRequiredHeader::Ignore}, {"honour", TlsRequiredHeader::Honour}});
    if (root.exists("mta_sts") && c_.is_group(root["mta_sts"], "mta_sts")) {
      const Setting& g = root["mta_sts"];
      c_.only_keys(g, "mta_sts", {"enabled", "https_port", "fetch_timeout"});
      c_.boolean(g, "mta_sts", "enabled", cfg_.mta_sts.enabled);
      c_.integer(g, "mta_sts", "https_port", cfg_.mta_sts.https_port, 1, 65535);
      c_.duration(g, "mta_sts", "fetch_timeout", cfg_.mta_sts.fetch_timeout);
    }
    if (root.exists("tlsrpt") && c_.is_group(root["tlsrpt"], "tlsrpt")) tlsrpt(root["tlsrpt"]);
    if (root.exists("limits") && c_.is_group(root["limits"], "limits")) {
      const Setting& g = root["limits"];
      auto& l = cfg_.limits;
      c_.only_keys(g, "limits", {"connections", "connections_per_ip", "command_timeout", "data_timeout",
                                 "connect_timeout", "reply_timeout", "shutdown_timeout"});
      c_.integer(g, "limits", "connections", l.connections, 1, 1000000);
      c_.integer(g, "limits", "connections_per_ip", l.connections_per_ip, 1, 1000000);
      c_.duration(g, "limits", "command_timeout", l.command_timeout);
      c_.duration(g, "limits", "data_timeout", l.data_timeout);
      c_.duration(g, "limits", "connect_timeout", l.connect_timeout);
      c_.duration(g, "limits", "reply_timeout", l.reply_timeout);
      c_.duration(g, "limits", "shutdown_timeout", l.shutdown_timeout);
    }
    if (root.exists("log") && c_.is_group(root["log"], "log")) {
      const Setting& g = root["log"];
      c_.only_keys(g, "log", {"format", "file", "level"});
      c_.choice(g, "log", "format", cfg_.log.format, {{"kv", LogFormat::Kv}, {"json", LogFormat::Json}});
      c_.choice(g, "log", "level", cfg_.log.level, {{"info", LogLevel::Info}, {"debug", LogLevel::Debug}});
      c_.str(g, "log", "file", cfg_.log.file);
    }
    if (c_.str(root, "", "user", cfg_.user) && cfg_.user.empty()) {
      c_.error(root["user"], "user", "must not be empty");
    }
  }

  // SPEC R-TENANT. Domains are "example.com" or ".example.com" (every subdomain).
  void relay_policy(const Setting& root) {
    if (!root.exists("relay_policy")) return;
    const Setting& g = root["relay_policy"];
    const std::string path = "relay_policy";
    if (!c_.is_group(g, path)) return;
    auto& p = cfg_.relay_policy;
    p.configured = true;
    c_.only_keys(g, path, {"sender_domains", "check_from", "allow_null_sender", "require_dkim", "exempt"});
    if (c_.strings(g, path, "sender_domains", p.sender_domains)) {
      domain_list(g["sender_domains"], path + ".sender_domains", p.sender_domains, true);
    }
    c_.boolean(g, path, "check_from", p.check_from);
    c_.boolean(g, path, "allow_null_sender", p.allow_null_sender);
    if (c_.strings(g, path, "require_dkim", p.require_dkim)) {
      domain_list(g["require_dkim"], path + ".require_dkim", p.require_dkim, false);
    }
    if (g.exists("exempt")) cidr_list(g["exempt"], path + ".exempt", p.exempt);
    if (p.check_from && p.sender_domains.empty()) {
      c_.error(g["check_from"], path + ".check_from", "needs sender_domains: the domains the From: header may hold");
    }
  }

  void domain_list(const Setting& s, const std::string& path, std::vector<std::string>& v, bool subdomains) {
    if (v.empty()) c_.error(s, path, "must not be empty (leave the key out to not check it)");
    for (size_t k = 0; k < v.size(); ++k) {
      std::string d = lower(v[k]);
      bool sub = subdomains && !d.empty() && d[0] == '.';
      if (!valid_domain(sub ? d.substr(1) : d)) {
        c_.error(s[static_cast<int>(k)], path + "[" + std::to_string(k) + "]",
                 "'" + v[k] + "' is not a domain (example.com" + (subdomains ? " or .example.com for its subdomains" : "") + ")");
      }
      v[k] = d;
    }
  }

  void dkim_sign(const Setting& root) {
    if (!root.exists("dkim_sign")) return;
    const Setting& l = root["dkim_sign"];
    if (!c_.is_list(l, "dkim_sign")) return;
    std::set<std::string> domains;
    for (int i = 0; i < l.getLength(); ++i) {
      std::string path = "dkim_sign[" + std::to_string(i) + "]";
      const Setting& g = l[i];
      if (!c_.is_group(g, path)) continue;
      c_.only_keys(g, path, {"domain", "selector", "key", "headers", "resign"});
      DkimSign d;
      d.line = static_cast<int>(g.getSourceLine());
      for (auto [k, v] : {std::pair<const char*, std::string*>{"domain", &d.domain}, {"selector", &d.selector},
                          {"key", &d.key}}) {
        if (!c_.str(g, path, k, *v) && !g.exists(k)) c_.error(g, path + "." + k, "is required");
      }
      d.domain = lower(d.domain);
      if (g.exists("domain") && !valid_domain(d.domain)) {
        c_.error(g["domain"], path + ".domain", "'" + d.domain + "' is not a domain");
      } else if (!d.domain.empty() && !domains.insert(d.domain).second) {
        c_.error(g["domain"], path + ".domain", "domain '" + d.domain + "' has two entries");
      }
      if (g.exists("selector") && !valid_domain(d.selector)) {
        c_.error(g["selector"], path + ".selector", "'" + d.selector + "' is not a selector (letters, digits, '-', '.')");
      }
      c_.readable_file(g, path, "key");
      if (c_.strings(g, path, "headers", d.headers)) {
        for (auto& h : d.headers) h = lower(h);
        if (std::find(d.headers.begin(), d.headers.end(), "from") == d.headers.end()) {
          c_.error(g["headers"], path + ".headers", "must include \"from\" (RFC 6376 5.4)");
        }
      }
      c_.boolean(g, path, "resign", d.resign);
      cfg_.dkim_sign.push_back(std::move(d));
    }
  }

  void tlsrpt(const Setting& g) {
    auto& t = cfg_.tlsrpt;
    c_.only_keys(g, "tlsrpt", {"enabled", "organization", "contact", "submitter", "dkim"});
    c_.boolean(g, "tlsrpt", "enabled", t.enabled);
    c_.str(g, "tlsrpt", "organization", t.organization);
    c_.str(g, "tlsrpt", "contact", t.contact);
    c_.str(g, "tlsrpt", "submitter", t.submitter);
    if (g.exists("dkim") && c_.is_group(g["dkim"], "tlsrpt.dkim")) {
      const Setting& d = g["dkim"];
      c_.only_keys(d, "tlsrpt.dkim", {"domain", "selector", "key"});
      c_.str(d, "tlsrpt.dkim", "domain", t.dkim.domain);
      c_.str(d, "tlsrpt.dkim", "selector", t.dkim.selector);
      c_.str(d, "tlsrpt.dkim", "key", t.dkim.key);
      c_.readable_file(d, "tlsrpt.dkim", "key");
    }
    if (t.enabled) {
      for (auto [k, v] : {std::pair<const char*, std::string*>{"organization", &t.organization},
                          {"contact", &t.contact},
                          {"submitter", &t.submitter}}) {
        if (v->empty()) c_.error(g, std::string("tlsrpt.") + k, "is required when tlsrpt.enabled = true");
      }
    }
  }

  // SPEC R-CONSOLE. HTTPS uses the top-level tls.cert/tls.key; plain HTTP only where nobody
  // but this machine can listen in (loopback), e.g. behind nginx on the appliance.
  void admin(const Setting& root) {
    if (!root.exists("admin") || !c_.is_group(root["admin"], "admin")) return;
    const Setting& g = root["admin"];
    auto& a = cfg_.admin;
    a.enabled = true;
    c_.only_keys(g, "admin", {"listen", "users", "metrics_allow", "history_days", "history_max_mb", "tls"});
    if (g.exists("listen")) {
      listen_list(g["listen"], "admin.listen", a.listen);
    } else {
      a.listen = {{"127.0.0.1", 8443, static_cast<int>(g.getSourceLine())}};
    }
    c_.boolean(g, "admin", "tls", a.tls);
    if (g.exists("metrics_allow")) cidr_list(g["metrics_allow"], "admin.metrics_allow", a.metrics_allow);
    c_.integer(g, "admin", "history_days", a.history_days, 1, 3650);
    c_.integer(g, "admin", "history_max_mb", a.history_max_mb, 1, 1048576);
    admin_users(g);
    if (a.tls && cfg_.tls.cert.empty()) {
      c_.error(g, "admin", "the console speaks HTTPS with tls.cert and tls.key: set them (or admin.tls = false "
                           "on a loopback address, with a TLS terminator in front)");
    }
    if (!a.tls) {
      for (size_t i = 0; i < a.listen.size(); ++i) {
        auto ip = parse_ip(a.listen[i].address);
        if (ip && !ip->is_loopback()) {
          c_.error(g["tls"], "admin.listen[" + std::to_string(i) + "]",
                   "'" + a.listen[i].address + "' is not a loopback address: plain HTTP (admin.tls = false) "
                   "is allowed only on 127.0.0.0/8 or ::1");
        }
      }
    }
  }

  void admin_users(const Setting& g) {
    if (!g.exists("users")) {
      c_.error(g, "admin.users", "is required: at least one { name = \"admin\"; password_hash = \"$y$...\"; } "
                                 "(smarthost admin-passwd prints a hash)");
      return;
    }
    const Setting& l = g["users"];
    if (!c_.is_list(l, "admin.users")) return;
    for (int i = 0; i < l.getLength(); ++i) {
      std::string path = "admin.users[" + std::to_string(i) + "]";
      if (!c_.is_group(l[i], path)) continue;
      c_.only_keys(l[i], path, {"name", "password_hash"});
      AdminUser u;
      if (!c_.str(l[i], path, "name", u.name) || u.name.empty()) c_.error(l[i], path + ".name", "is required");
      if (!c_.str(l[i], path, "password_hash", u.password_hash)) {
        c_.error(l[i], path + ".password_hash", "is required (smarthost admin-passwd prints one)");
      } else if (u.password_hash.rfind("$y$", 0) != 0) {
        c_.error(l[i]["password_hash"], path + ".password_hash",
                 "must be a yescrypt crypt(3) hash starting with $y$ (smarthost admin-passwd prints one)");
      }
      cfg_.admin.users.push_back(u);
    }
    if (cfg_.admin.users.empty()) c_.error(l, "admin.users", "must name at least one user");
  }

  Checker& c_;
  Config& cfg_;
};

// Records the line of every setting under `s` by the path errors use for it, and the text of
// every string setting (durations are then named in the file's own words).
void record_lines(const Setting& s, const std::string& path, Config& out) {
  if (!path.empty()) out.lines[path] = static_cast<int>(s.getSourceLine());
  if (!path.empty() && s.getType() == Setting::TypeString) out.texts[path] = s.c_str();
  if (!s.isAggregate()) return;
  for (int i = 0; i < s.getLength(); ++i) {
    const Setting& child = s[i];
    const char* name = child.getName();
    record_lines(child, s.isGroup() && name ? Checker::join(path, name) : path + "[" + std::to_string(i) + "]",
                 out);
  }
}

LoadResult finish(libconfig::Config& lc, const std::string& name) {
  LoadResult res;
  auto cfg = std::make_shared<Config>();
  cfg->source = name;
  Checker checker(name);
  Loader(checker, *cfg).load(lc.getRoot());
  if (!checker.errors.empty()) {
    res.errors = std::move(checker.errors);
    return res;
  }
  record_lines(lc.getRoot(), "", *cfg);
  res.config = std::move(cfg);
  return res;
}

std::string parse_error(const libconfig::ParseException& e, const std::string& name) {
  const char* f = e.getFile();
  return std::string(f && *f ? f : name.c_str()) + ":" + std::to_string(e.getLine()) +
         ": syntax error: " + e.getError();
}

void setup(libconfig::Config& lc, const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  lc.setIncludeDir(dir.empty() ? "/" : dir.c_str());
}

}  // namespace

LoadResult load_config(const std::string& path) {
  libconfig::Config lc;
  setup(lc, path);
  try {
    lc.readFile(path.c_str());
  } catch (const libconfig::FileIOException&) {
    return {nullptr, {path + ": cannot read the file: " + strerror(errno)}};
  } catch (const libconfig::ParseException& e) {
    return {nullptr, {parse_error(e, path)}};
  }
  return finish(lc, path);
}

LoadResult load_config_text(const std::string& text, const std::string& name) {
  libconfig::Config lc;
  setup(lc, name);
  try {
    lc.readString(text);
  } catch (const libconfig::ParseException& e) {
    return {nullptr, {parse_error(e, name)}};
  }
  return finish(lc, name);
}

}  // namespace config

// libconfig 1.7.3 (Debian 12) leaks the string token it was reading when a syntax error stops
// the parse (found by tests/fuzz/fuzz_config_loader: a file holding just `""`): a few bytes per
// refused file or refused SIGHUP reload. Not ours to fix; LeakSanitizer is told to ignore it so
// that sanitised runs still catch our own leaks.
extern "C" __attribute__((used)) const char* __lsan_default_suppressions() {
  return "leak:libconfig_yylex\nleak:strbuf_append\nleak:libconfig_yyparse\n";
}
