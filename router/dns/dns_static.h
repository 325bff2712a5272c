// dns_static.h - a DnsService that answers from a table, for tests of DNS users (router, relay).
//
// Behaves like a static zone: a name with records answers Ok for its types and NoData for the
// others; an unknown name is NxDomain; fail() scripts a TempFail (timeout, SERVFAIL) or any status
// for one name and type. Answers are delivered from the event loop in the order asked, never
// inside lookup(), and a cancelled (destroyed) DnsLookup never gets its callback, exactly like
// DnsResolver. Cannot fail; the object must be destroyed before its event_base.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "router/dns/dns_resolver.h"

struct event_base;

namespace router {

class StaticDns : public DnsService {
 public:
  explicit StaticDns(event_base* base);
  ~StaticDns() override;

  void add_mx(const std::string& name, std::vector<MxRecord> records);
  void add_a(const std::string& name, std::vector<std::string> addresses);
  void add_aaaa(const std::string& name, std::vector<std::string> addresses);
  void add_txt(const std::string& name, std::vector<std::string> records);
  void add_tlsa(const std::string& name, std::vector<TlsaRecord> records);
  // The name exists (NoData for every type without records).
  void add_name(const std::string& name);
  void fail(const std::string& name, DnsType type, DnsStatus status, const std::string& reason);
  void set_security(DnsSecurity s);  // stamped on every answer

  DnsLookup lookup(const std::string& name, DnsType type, DnsCallback cb) override;
  // Names asked so far, "TYPE name", in order (for assertions about what was looked up).
  std::vector<std::string> asked() const;

  class State;

 private:
  DnsAnswer& entry(const std::string& name, DnsType type);
  std::map<std::pair<std::string, DnsType>, DnsAnswer> table_;
  std::map<std::string, bool> names_;
  DnsSecurity security_ = DnsSecurity::Insecure;
  std::shared_ptr<State> state_;
};

}  // namespace router
