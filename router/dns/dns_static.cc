// dns_static.cc - table-driven DnsService; answers queue up and one event delivers them.
//
// A callback may destroy the StaticDns (and with it State's owner): delivery keeps State alive
// through a local shared_ptr and stops as soon as `dead` is set.
#include "router/dns/dns_static.h"
#include "router/base/event_handles.h"

#include <event2/event.h>

#include <deque>

namespace router {
class StaticDns::State : public DnsCanceller, public std::enable_shared_from_this<State> {
 public:
  struct Queued {
    uint64_t id;
    DnsAnswer answer;
    DnsCallback cb;
  };

  explicit State(event_base* base) : ev_(evtimer_new(base, on_event, this)) {
    if (!ev_) throw std::bad_alloc();
  }
  void push(DnsAnswer a, DnsCallback cb, uint64_t id) {
    queue_.push_back(Queued{id, std::move(a), std::move(cb)});
    event_active(ev_.get(), EV_TIMEOUT, 0);
  }
  void cancel(uint64_t id) override {
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (it->id == id) {
        queue_.erase(it);
        return;
      }
  }

  bool dead = false;
  uint64_t next_id = 1;
  std::vector<std::string> asked;

 private:
  static void on_event(evutil_socket_t, short, void* arg) {
    auto self = static_cast<State*>(arg)->shared_from_this();
    while (!self->dead && !self->queue_.empty()) {
      Queued q = std::move(self->queue_.front());
      self->queue_.pop_front();
      q.cb(std::move(q.answer));
    }
  }

  std::deque<Queued> queue_;
  base::EventPtr ev_;
};

StaticDns::StaticDns(event_base* base) : state_(std::make_shared<State>(base)) {}

StaticDns::~StaticDns() { state_->dead = true; }

DnsAnswer& StaticDns::entry(const std::string& name, DnsType type) {
  names_[name] = true;
  DnsAnswer& a = table_[{name, type}];
  a.name = name;
  a.type = type;
  a.status = DnsStatus::Ok;
  return a;
}

void StaticDns::add_mx(const std::string& name, std::vector<MxRecord> records) {
  entry(name, DnsType::MX).mx = std::move(records);
}
void StaticDns::add_a(const std::string& name, std::vector<std::string> addresses) {
  entry(name, DnsType::A).addresses = std::move(addresses);
}
void StaticDns::add_aaaa(const std::string& name, std::vector<std::string> addresses) {
  entry(name, DnsType::AAAA).addresses = std::move(addresses);
}
void StaticDns::add_txt(const std::string& name, std::vector<std::string> records) {
  entry(name, DnsType::TXT).txt = std::move(records);
}
void StaticDns::add_tlsa(const std::string& name, std::vector<TlsaRecord> records) {
  entry(name, DnsType::TLSA).tlsa = std::move(records);
}
void StaticDns::add_name(const std::string& name) { names_[name] = true; }
void StaticDns::set_security(DnsSecurity s) { security_ = s; }

void StaticDns::fail(const std::string& name, DnsType type, DnsStatus status,
                     const std::string& reason) {
  DnsAnswer& a = entry(name, type);
  a.status = status;
  a.reason = reason;
}

DnsLookup StaticDns::lookup(const std::string& name, DnsType type, DnsCallback cb) {
  state_->asked.push_back(std::string(dns_type_name(type)) + " " + name);
  DnsAnswer a;
  auto it = table_.find({name, type});
  if (it != table_.end()) {
    a = it->second;
  } else {
    a.name = name;
    a.type = type;
    a.status = names_.count(name) ? DnsStatus::NoData : DnsStatus::NxDomain;
    a.reason = names_.count(name) ? std::string("no ") + dns_type_name(type) + " records"
                                  : "name does not exist (NXDOMAIN)";
  }
  a.security = security_;
  uint64_t id = state_->next_id++;
  state_->push(std::move(a), std::move(cb), id);
  return DnsLookup(state_, id);
}

std::vector<std::string> StaticDns::asked() const { return state_->asked; }

}  // namespace router
