// dns_resolver.h - asynchronous DNS (MX, A, AAAA, TXT, TLSA) through libunbound on a libevent loop.
//
// libunbound resolves in its own thread (ub_ctx_async); its result pipe ub_fd() is watched by a
// persistent EV_READ event that calls ub_process(). Forwarders come from dns.servers
// ("ADDRESS[@PORT]"), else /etc/resolv.conf; with dns.dnssec the answers are validated against
// dns.trust_anchor and every answer keeps its security status for DANE and MTA-STS.
//
// How it fails: every outcome is a DnsAnswer value. Timeouts (our own timer of dns.timeout
// seconds: a dead forwarder makes libunbound wait ~17 s), SERVFAIL, other error rcodes, DNSSEC
// bogus data and resolver errors are TempFail; NXDOMAIN is NxDomain (permanent); an existing name
// without records of the type is NoData. Only create() can fail outright (bad forwarder, unreadable
// trust anchor): it returns nullptr and a one-line reason.
//
// Callbacks always run later from the event loop, never inside lookup(). Destroying the DnsLookup
// handle, or the resolver, cancels the query: its callback never runs. A callback may destroy the
// resolver. The resolver must be destroyed before its event_base.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

struct event_base;

namespace router {

enum class DnsType { A, AAAA, MX, TXT, TLSA };
enum class DnsStatus { Ok, NoData, NxDomain, TempFail };
enum class DnsSecurity { Insecure, Secure, Bogus };

const char* dns_type_name(DnsType t);          // "A", "AAAA", "MX", "TXT", "TLSA"
const char* dns_status_name(DnsStatus s);      // "ok", "no data", "NXDOMAIN", "temporary failure"
const char* dns_security_name(DnsSecurity s);  // "insecure", "secure", "bogus"

struct MxRecord {
  uint16_t preference = 0;
  std::string exchange;  // lower case, no trailing dot; "" is the root: RFC 7505 null MX
};

struct TlsaRecord {
  uint8_t usage = 0;
  uint8_t selector = 0;
  uint8_t matching_type = 0;
  std::vector<uint8_t> data;  // certificate association data
};

struct DnsAnswer {
  std::string name;  // the name asked for
  DnsType type = DnsType::A;
  DnsStatus status = DnsStatus::TempFail;
  DnsSecurity security = DnsSecurity::Insecure;
  std::string reason;          // not Ok: what went wrong, in words ("timed out after 10s")
  std::string canonical_name;  // after CNAMEs (no trailing dot); empty when libunbound gave none
  uint32_t ttl = 0;
  std::vector<std::string> addresses;  // A / AAAA, numeric text
  std::vector<MxRecord> mx;
  std::vector<std::string> txt;        // one entry per record, its strings concatenated
  std::vector<TlsaRecord> tlsa;
};

using DnsCallback = std::function<void(DnsAnswer)>;

// Whoever runs lookups and can forget one of them.
class DnsCanceller {
 public:
  virtual ~DnsCanceller() = default;
  virtual void cancel(uint64_t id) = 0;  // unknown or finished id: no effect
};

// A pending lookup. Move-only; destroying or cancel() stops the callback from ever running.
// Safe to outlive the resolver (then it does nothing).
class DnsLookup {
 public:
  DnsLookup() = default;
  DnsLookup(std::weak_ptr<DnsCanceller> owner, uint64_t id) : owner_(std::move(owner)), id_(id) {}
  DnsLookup(DnsLookup&& o) noexcept : owner_(std::move(o.owner_)), id_(o.id_) { o.id_ = 0; }
  DnsLookup& operator=(DnsLookup&& o) noexcept;
  DnsLookup(const DnsLookup&) = delete;
  DnsLookup& operator=(const DnsLookup&) = delete;
  ~DnsLookup() { cancel(); }
  void cancel();

 private:
  std::weak_ptr<DnsCanceller> owner_;
  uint64_t id_ = 0;
};

// The lookup interface the rest of the router uses; tests substitute a scripted fake.
class DnsService {
 public:
  virtual ~DnsService() = default;
  [[nodiscard]] virtual DnsLookup lookup(const std::string& name, DnsType type,
                                         DnsCallback cb) = 0;
};

class DnsResolver : public DnsService {
 public:
  // nullptr and *err ("dns.servers: ...") when libunbound refuses the configuration.
  static std::unique_ptr<DnsResolver> create(event_base* base, const config::Dns& cfg,
                                             std::string* err);
  ~DnsResolver() override;
  // Lookups of one name and type while a query for it runs share that query and its answer.
  DnsLookup lookup(const std::string& name, DnsType type, DnsCallback cb) override;
  // For tests: queries handed to libunbound so far.
  uint64_t queries_started() const;

  class Core;  // libunbound context, pending queries; shared with DnsLookup handles by weak_ptr
  struct Key {  // only create() can make one: construction goes through create()
   private:
    friend class DnsResolver;
    Key() = default;
  };
  DnsResolver(Key, std::shared_ptr<Core> core) : core_(std::move(core)) {}

 private:
  std::shared_ptr<Core> core_;
};

// RDATA parsers (network order, uncompressed as libunbound stores it); nullopt when malformed.
// Exposed for unit tests.
std::optional<std::string> parse_wire_name(const uint8_t* p, size_t len, size_t* used);
std::optional<MxRecord> parse_mx_rdata(const uint8_t* p, size_t len);
std::optional<std::string> parse_txt_rdata(const uint8_t* p, size_t len);
std::optional<TlsaRecord> parse_tlsa_rdata(const uint8_t* p, size_t len);
std::optional<std::string> parse_address_rdata(const uint8_t* p, size_t len, DnsType type);

}  // namespace router
