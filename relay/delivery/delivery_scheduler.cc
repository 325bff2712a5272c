// delivery_scheduler.cc - queue → destinations → sessions → queue (see the header).
#include "relay/delivery/delivery_scheduler.h"

#include <sys/time.h>

#include <algorithm>
#include <deque>

#include "relay/notify/dsn_builder.h"
#include "router/base/event_handles.h"
#include "relay/core/log.h"
#include "relay/delivery/delivery_log.h"
#include "relay/core/observer.h"
#include "router/base/utc_time.h"
#include "relay/queue/envelope_params.h"
#include "relay/queue/local_mail.h"
#include "relay/notify/tlsrpt_report.h"
#include "router/tls_demand.h"
#include "relay/notify/tlsrpt_store.h"
#include "router/base/utf8_text.h"
#include "router/destination_plan.h"

namespace relay {

namespace {

constexpr int64_t kCandidateCacheSeconds = 60;
// Messages in memory at once (envelope and body, waiting for or in a session). Due messages
// beyond it wait in wakeups_ until some leave: after an outage a deep queue drains in arrival
// order without loading every body at once (Postfix's qmgr_message_active_limit is 20000).
constexpr size_t kMaxLive = 10000;
// Due messages taken into work per loop turn: sockets are served between the batches.
constexpr int kPumpBatch = 256;

int64_t now_s() { return static_cast<int64_t>(time(nullptr)); }

bool is_final(RcptState s) { return s == RcptState::Sent || s == RcptState::Bounced; }

// The recipient domain as DNS wants it: the A-label form (a U-label domain converted by libidn2,
// IDNA2008 non-transitional), the one the destination planner and MTA-STS take.
std::string dns_domain(const std::string& address) {
  auto r = router::parse_recipient(address);
  return r ? r->domain : address_domain(address);
}

}  // namespace

// One destination: its candidate hosts, its waiting jobs and its sessions.
class DeliveryScheduler::Destination : public JobSource {
 public:
  // `report`: this destination carries TLS-RPT reports only (their MTA-STS rule differs).
  // `demand`: what its messages ask of TLS beyond the route (router/tls_demand.h).
  Destination(DeliveryScheduler& owner, std::string route, std::string domain, bool report,
              router::TlsDemand demand)
      : owner_(owner), route_(std::move(route)), domain_(std::move(domain)), report_(report), demand_(demand) {}

  void add(std::unique_ptr<DeliveryJob> job) {
    jobs_.push_back(std::move(job));
    kick();
  }

  size_t sessions() const { return sessions_.size(); }

  // The admin acts on message `id`: its waiting jobs leave the queue, and sessions delivering it
  // stop where they still can. Returns the jobs taken back; *stopped / *late name the hosts.
  std::vector<std::unique_ptr<DeliveryJob>> withdraw(const std::string& id, std::string* stopped,
                                                     std::string* late) {
    std::vector<std::unique_ptr<DeliveryJob>> back;
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if ((*it)->id == id) {
        back.push_back(std::move(*it));
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<SmtpClientSession*> carrying;  // withdraw() ends the session: not while iterating
    for (const auto& s : sessions_) {
      if (s.first->carries(id)) carrying.push_back(s.first);
    }
    for (SmtpClientSession* s : carrying) {
      std::string relay;
      auto job = s->withdraw(&relay);
      if (job) {
        *stopped = relay;
        back.push_back(std::move(job));
      } else {
        *late = relay;
      }
    }
    return back;
  }

  std::unique_ptr<DeliveryJob> next_job() override {
    if (jobs_.empty()) return nullptr;
    auto j = std::move(jobs_.front());
    jobs_.pop_front();
    log_policy(*j);
    return j;
  }

  void job_done(std::unique_ptr<DeliveryJob> job) override {
    if (sts_deferred(*job)) plan_expiry_ = 0;  // RFC 8461 5.1: the policy is looked up again first
    if (!busy(*job) && unreachable(*job)) suspend(job->results.front());
    for (const auto& r : job->results) {
      if (r.disposition == router::Disposition::Sent) speed_up();
    }
    owner_.job_done(std::move(job));
  }

  // A job a busy host turned away is our concurrency's fault, not the message's: it goes back to
  // the head of the queue (up to kBusyRetries times; then it is deferred as usual), and kick()
  // runs when the session ends (session_done).
  bool take_back(std::unique_ptr<DeliveryJob>& job) override {
    if (!busy(*job)) return false;
    slow_down(job->results.front());
    if (job->busy_retries >= kBusyRetries) return false;
    ++job->busy_retries;
    for (auto& r : job->results) r = router::Outcome{};
    jobs_.push_front(std::move(job));
    return true;
  }

  // `queue flush`: a destination found down is tried again at once.
  void resume() {
    suspended_until_ = 0;
    kick();
  }

  // A connection cache: a session with no job waits, connected, for the next.
  bool park(SmtpClientSession* s) override {
    if (stale(s)) return false;
    idle_.push_back(s);
    return true;
  }

  bool stale(const SmtpClientSession* s) const override {
    return stale_.count(s) != 0;
  }

  // A reload: the cached plan (route, hosts, TLS policy) and every session
  // opened under it are of the old configuration. A plan still being made
  // is dropped when it comes in; the next job plans again.
  void runtime_changed() {
    plan_.reset();
    failure_.reset();
    plan_expiry_ = 0;
    replan_ = planner_ != nullptr;
    for (const auto& s : sessions_) stale_.insert(s.first);
    auto idle = std::move(idle_);
    idle_.clear();
    for (SmtpClientSession* s : idle) s->retire();
  }

  void session_done(SmtpClientSession* s) override {
    auto it = sessions_.find(s);
    if (it == sessions_.end()) return;
    // Freed from a later loop turn: we are inside its callback now.
    base::delete_later(owner_.base_, std::move(it->second));
    sessions_.erase(it);
    stale_.erase(s);
    idle_.erase(std::remove(idle_.begin(), idle_.end(), s), idle_.end());
    kick();
  }

  // Starts sessions while there is work and room; plans the destination first.
  void kick() {
    if (jobs_.empty() || planner_) return;
    const config::Route* route = owner_.rt_->config->find_route(route_);
    if (!route) return fail_all(route_gone());
    if (!plan_ || now_s() >= plan_expiry_) return start_plan(router::route_for_demand(*route, demand_));
    if (failure_) {
      fail_all(*failure_);
      // The policy named no MX host: the next attempt re-checks the TXT id (RFC 8461 5.1).
      if (failure_->kind == router::FailureKind::StsNoHost) plan_expiry_ = 0;
      return;
    }
    if (suspended_until_ > now_s()) return fail_all(suspended_);
    // Idle connections first (most recently parked first: the others may
    // time out); new ones only for the work that is left.
    while (!jobs_.empty() && !idle_.empty()) {
      SmtpClientSession* s = idle_.back();
      idle_.pop_back();
      s->wake();
    }
    while (!jobs_.empty() && sessions_.size() < window(plan_->route)) {
      auto s = std::make_unique<SmtpClientSession>(owner_.base_, owner_.rt_, plan_->route, plan_->candidates,
                                                   next_job(), *this);
      s->set_single_attempt(plan_->bounce_on_tls_failure);
      auto plan = plan_;
      auto policy = policy_;
      std::function<void(const TlsReportEvent&)> report;
      if (counted()) {
        report = [this, plan, policy](const TlsReportEvent& e) { owner_.record_tls(*plan, policy, domain_, e); };
      }
      s->set_sts(plan_, std::move(report));
      SmtpClientSession* raw = s.get();
      sessions_.emplace(raw, std::move(s));
      raw->start();
    }
  }

 private:
  // Candidate hosts and, for MTA-STS, the policy (router/destination_plan.h).
  void start_plan(const config::Route& route) {
    router::PlanServices services;
    services.https_ctx = owner_.sts_.https_ctx;
    services.cache = owner_.sts_.cache;
    services.mta_sts = owner_.rt_->config->mta_sts;
    services.tlsrpt = owner_.sts_.tlsrpt && !report_;
    services.report_mail = report_ || router::sts_as_testing(demand_);
    planner_ = router::DestinationPlanner::start(owner_.dns_, owner_.base_, route, domain_, services,
                                                 [this](router::DestinationPlan p) { planned(std::move(p)); });
  }

  // The plan is in: the hosts and options a delivery may use now, or the judged failure.
  void planned(router::DestinationPlan p) {
    base::delete_later(owner_.base_, std::move(planner_));  // we are inside its callback
    if (replan_) {  // made under the configuration a reload replaced
      replan_ = false;
      return kick();
    }
    // A report's own delivery is never reported on (RFC 8460 section 3: no report loops).
    if (!p.policy.failure_type.empty() && !report_) owner_.record_policy_failure(p.policy);
    if (!owner_.rt_->config->find_route(route_)) return kick();
    plan_ = std::make_shared<const router::StsEnforcement>(std::move(p.sts));
    policy_ = std::move(p.policy);
    failure_ = std::move(p.failure);
    tlsrpt_published_ = p.tlsrpt_published;
    if (failure_ && failure_->kind == router::FailureKind::StsNoHost && !report_)
      owner_.record_mx_mismatch(*plan_, policy_);
    plan_expiry_ = now_s() + (p.candidates.status == router::CandidateStatus::Ok ? kCandidateCacheSeconds : 5);
    kick();
  }

  // The MTA-STS policy a message's attempt goes under, on a line of its own that names the
  // message (the plan itself serves every message to the destination for a while).
  void log_policy(const DeliveryJob& j) const {
    if (!plan_ || !(plan_->enforce || plan_->testing)) return;
    log_event("mta-sts", {{"id", j.id}, {"route", route_}, {"domain", plan_->policy_domain},
                          {"policy", plan_->summary}});
  }

  // Sessions are counted for TLS-RPT under a policy, or with none when the domain asks for
  // reports anyway (no-policy-found); never a report's own delivery.
  // DANE routes count when the domain publishes _smtp._tls (the planner asks for DANE routes too).
  bool counted() const { return !report_ && (plan_->enforce || plan_->testing || tlsrpt_published_); }

  // A job deferred because the enforce policy's TLS requirement failed.
  bool sts_deferred(const DeliveryJob& job) const {
    if (!plan_ || !plan_->enforce) return false;
    return std::any_of(job.results.begin(), job.results.end(), [](const router::Outcome& o) {
      return o.disposition == router::Disposition::Defer && o.kind == router::FailureKind::Tls;
    });
  }

  // No host of the destination took a connection (every one tried, the last refused or timed out
  // before its banner): the destination is down, not this message's fault.
  static bool unreachable(const DeliveryJob& job) {
    return !job.results.empty() && std::all_of(job.results.begin(), job.results.end(), [](const router::Outcome& o) {
      return o.disposition == router::Disposition::Defer && o.kind == router::FailureKind::Connect &&
             o.status == "4.4.1";
    });
  }

  // A destination that is down is not tried again by every waiting message (after an outage of
  // the next hop that would be one connection attempt per queued message, as each comes due, and
  // one per message accepted meanwhile): until the first retry interval has passed (at most a
  // minute) its jobs are deferred with the reason of the failed attempt, as Postfix's queue
  // manager does ("delivery temporarily suspended"). `queue flush` ends it at once.
  void suspend(const router::Outcome& o) {
    const auto& retry = owner_.rt_->config->queue.retry;
    int64_t pause = std::min<int64_t>(60, retry.empty() ? 60 : static_cast<int64_t>(retry.front()));
    suspended_until_ = now_s() + pause;
    suspended_ = o;
    if (o.reason.rfind(kSuspended, 0) != 0) suspended_.reason = kSuspended + o.reason;
    log_event("destination-suspended", {{"route", route_}, {"domain", domain_}, {"seconds", std::to_string(pause)},
                                        {"reason", o.reason}});
  }
  static constexpr const char* kSuspended = "delivery temporarily suspended: ";

  // Concurrency that adapts to replies, as Postfix's feedback control does: a destination that
  // turns a session away (421 at any stage, or a refused connection) while other sessions to it
  // are alive has more sessions than it takes. The window drops to the sessions that worked, the
  // job goes back to the queue (take_back), and each window's worth of deliveries opens one more
  // session, up to max_connections.
  static constexpr int kBusyRetries = 3;

  bool busy(const DeliveryJob& job) const {
    if (sessions_.size() < 2 || job.results.empty()) return false;  // no other session: unreachable()
    return std::all_of(job.results.begin(), job.results.end(), [](const router::Outcome& o) {
      if (o.disposition != router::Disposition::Defer) return false;
      if (o.kind == router::FailureKind::Connect) return o.status == "4.4.1";
      return o.kind == router::FailureKind::RemoteReply && o.remote_reply.rfind("421", 0) == 0;
    });
  }

  size_t window(const config::Route& route) const {
    size_t max = static_cast<size_t>(route.max_connections);
    return window_ ? std::min(window_, max) : max;
  }

  void slow_down(const router::Outcome& o) {
    size_t others = sessions_.size() - 1;  // the one turned away is still counted
    if (window_ && window_ <= others) return;  // already at or below what works
    window_ = std::max<size_t>(1, others);
    delivered_in_window_ = 0;
    log_event("destination-busy", {{"route", route_}, {"domain", domain_}, {"sessions", std::to_string(window_)},
                                   {"reason", o.reason}});
  }

  void speed_up() {
    if (!window_ || ++delivered_in_window_ < window_) return;
    delivered_in_window_ = 0;
    const config::Route* route = owner_.rt_->config->find_route(route_);
    ++window_;
    if (!route || window_ >= static_cast<size_t>(route->max_connections)) window_ = 0;
  }

  router::Outcome route_gone() const {
    return router::decided(router::Disposition::Defer, "4.3.5", router::FailureKind::RouteGone,
                        "route " + route_ + " no longer exists in the configuration");
  }

  void fail_all(const router::Outcome& o) {
    while (auto j = next_job()) {
      j->settle(o);
      for (const auto& r : j->rcpts) log_delivery("", j->id, r.address, route_, o);
      owner_.job_done(std::move(j));
    }
  }

  DeliveryScheduler& owner_;
  std::string route_;
  std::string domain_;
  bool report_;
  router::TlsDemand demand_;
  bool tlsrpt_published_ = false;                       // of plan_
  std::deque<std::unique_ptr<DeliveryJob>> jobs_;
  std::map<SmtpClientSession*, std::unique_ptr<SmtpClientSession>> sessions_;
  std::vector<SmtpClientSession*> idle_;  // parked, in sessions_ too
  std::set<const SmtpClientSession*> stale_;  // opened before a reload, in sessions_ too
  bool replan_ = false;                   // the plan being made predates a reload
  std::unique_ptr<router::DestinationPlanner> planner_;
  std::shared_ptr<const router::StsEnforcement> plan_;  // sessions keep it alive
  router::PolicyResult policy_;                         // of plan_, for TLS-RPT
  std::optional<router::Outcome> failure_;              // of plan_: its hosts cannot be used
  int64_t plan_expiry_ = 0;
  size_t window_ = 0;               // sessions allowed now; 0: the route's max_connections
  size_t delivered_in_window_ = 0;  // deliveries since the window last changed
  int64_t suspended_until_ = 0;  // the destination was found down (suspend())
  router::Outcome suspended_;    // what its jobs are deferred with meanwhile
};

DeliveryScheduler::DeliveryScheduler(event_base* base, QueueStore& store, router::DnsService& dns,
                                     std::shared_ptr<const Runtime> rt)
    : base_(base), store_(store), dns_(dns), rt_(std::move(rt)) {
  timer_.reset(evtimer_new(base_, &DeliveryScheduler::on_timer, this));
}

DeliveryScheduler::~DeliveryScheduler() { dests_.clear(); }

void DeliveryScheduler::set_runtime(std::shared_ptr<const Runtime> rt) {
  rt_ = std::move(rt);
  for (auto& d : dests_) d.second->runtime_changed();
  rescan();  // messages no route took wait for a reload (dispatch); retry times may have changed
}

size_t DeliveryScheduler::active_sessions() const {
  size_t n = 0;
  for (const auto& d : dests_) n += d.second->sessions();
  return n;
}

// Each message's next moment goes into wakeups_ (nothing is loaded here beyond the envelope
// list): due ones are taken in arrival order by pump(), the others when their time comes. The
// expiry time counts as a moment, so a message past queue.max_lifetime bounces at once.
void DeliveryScheduler::rescan() {
  const auto& q = rt_->config->queue;
  int64_t now = now_s();
  for (const auto& e : store_.list()) {
    if (e.held) continue;  // nothing runs for it until released (admin)
    int64_t when = INT64_MAX;
    for (const auto& r : e.recipients) {
      if (!is_final(r.state)) when = std::min(when, r.next_attempt);
    }
    int64_t lifetime = queue_lifetime(e.origin == Origin::TlsReport, static_cast<int64_t>(q.max_lifetime));
    when = std::min(when, e.arrival_us / 1000000 + lifetime);
    wakeups_.emplace(std::max(when, now), e.id);
  }
  arm_timer();
}

void DeliveryScheduler::message_queued(const std::string& id) { schedule(id); }

DeliveryScheduler::Live* DeliveryScheduler::load(const std::string& id) {
  auto it = live_.find(id);
  if (it != live_.end()) return &it->second;
  Envelope env;
  if (store_.get_envelope(id, &env) != StoreStatus::Ok) return nullptr;
  Live& l = live_[id];
  l.env = std::move(env);
  return &l;
}

// What the next hop must offer for this message, besides what its addresses need: 8BITMIME for
// any octet above 127 (RFC 6152: never 8-bit to a 7-bit hop, whatever BODY said), SMTPUTF8 for
// UTF-8 in the header section (RFC 6532).
void DeliveryScheduler::note_8bit(Live& live) {
  const std::string& b = *live.body;
  size_t end = b.find("\r\n\r\n");
  std::string_view head(b.data(), end == std::string::npos ? b.size() : end);
  live.headers_8bit = base::has_8bit(head);
  live.body_8bit = live.headers_8bit || base::has_8bit(b);
}

void DeliveryScheduler::schedule(const std::string& id) {
  Live* live = load(id);
  if (!live || live->deleting) return;
  int64_t now = now_s();
  if (flushed_.erase(id)) {  // `queue flush`: the retry time is now (written back after the attempt)
    for (auto& r : live->env.recipients) {
      if (!is_final(r.state) && r.next_attempt > now) r.next_attempt = now;
    }
  }
  expire(*live, now);
  dispatch(*live, now);
  if (live->jobs == 0 && live->writes == 0) release(id);
}

// Past the queue lifetime: every unfinished recipient bounces with 5.4.7.
void DeliveryScheduler::expire(Live& live, int64_t now) {
  if (live.env.held) return;  // the admin holds it: no clock runs out meanwhile
  const auto& q = rt_->config->queue;
  // Reports are worth a day's retries at most (RFC 8460 section 3).
  int64_t lifetime = queue_lifetime(live.env.origin == Origin::TlsReport, static_cast<int64_t>(q.max_lifetime));
  if (now - live.env.arrival_us / 1000000 < lifetime) return;
  std::vector<size_t> failed;
  for (size_t i = 0; i < live.env.recipients.size(); ++i) {
    auto& r = live.env.recipients[i];
    if (is_final(r.state) || live.in_flight.count(i)) continue;
    // The last attempt's host, reply and TLS facts stay for the DSN.
    router::Outcome o = outcome_of(r);
    o.disposition = router::Disposition::Bounce;
    o.status = "5.4.7";
    o.kind = router::FailureKind::Expired;
    o.reason = "delivery time expired after " +
               rt_->config->duration_words("queue.max_lifetime", static_cast<uint64_t>(lifetime)) +
               (r.last_error.empty() ? "" : "; last error: " + r.last_error);
    r.state = RcptState::Bounced;
    record_outcome(&r, o);
    failed.push_back(i);
    log_delivery("", live.env.id, r.address, r.route, o);
  }
  if (failed.empty()) return;
  send_dsn(live, failed, now);
  write_back(live);
}

void DeliveryScheduler::dispatch(Live& live, int64_t now) {
  if (live.env.held || live.deleting) return;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<DeliveryJob>> jobs;
  for (size_t i = 0; i < live.env.recipients.size(); ++i) {
    auto& r = live.env.recipients[i];
    if (is_final(r.state) || live.in_flight.count(i)) continue;
    if (r.next_attempt > now) {
      wake_at(r.next_attempt, live.env.id);
      continue;
    }
    const config::Route* route = rt_->config->find_route(r.route);
    if (!route) route = rt_->routes->route_for(r.address);  // renamed by a reload
    if (!route) continue;  // no route any more: waits for the config to be fixed
    std::string domain = route->kind == config::RouteKind::Mx ? dns_domain(r.address) : "";
    auto& job = jobs[{route->name, domain}];  // one message: one origin
    if (!job) {
      if (!live.body) {
        std::string body;
        if (store_.get_body(live.env.id, &body) != StoreStatus::Ok) return;
        live.body = std::make_shared<const std::string>(std::move(body));
        note_8bit(live);
        live.tls_required_no = router::says_tls_required_no(*live.body);
      }
      job = std::make_unique<DeliveryJob>();
      job->id = live.env.id;
      job->route = route->name;
      job->sender = live.env.sender;
      job->eight_bit = live.env.eight_bit || live.body_8bit;
      job->smtputf8 = live.env.smtputf8;
      job->require_tls = live.env.require_tls;
      job->utf8_headers = live.headers_8bit;
      job->ret = live.env.ret;
      job->envid = live.env.envid;
      job->size = live.env.size;
      job->body = live.body;
      job->no_tlsrpt = live.env.origin == Origin::TlsReport;
    }
    job->rcpt_index.push_back(i);
    job->rcpts.push_back(r);
    job->results.emplace_back();
    live.in_flight.insert(i);
  }
  router::TlsDemand demand = router::tls_demand(live.env.require_tls, live.tls_required_no,
                                                rt_->config->tls_required_header);
  for (auto& kv : jobs) {
    ++live.jobs;
    const config::Route* route = rt_->config->find_route(kv.first.first);
    destination(*route, kv.first.second, live.env.origin == Origin::TlsReport, demand).add(std::move(kv.second));
  }
}

DeliveryScheduler::Destination& DeliveryScheduler::destination(const config::Route& route, const std::string& domain,
                                                               bool report, router::TlsDemand demand) {
  std::string key = route.name + "|" + domain + (report ? "|report" : "");
  if (demand != router::TlsDemand::Route) key += std::string("|") + router::tls_demand_name(demand);
  auto& d = dests_[key];
  if (!d) d = std::make_unique<Destination>(*this, route.name, domain, report, demand);
  return *d;
}

void DeliveryScheduler::job_done(std::unique_ptr<DeliveryJob> job) {
  auto it = live_.find(job->id);
  if (it == live_.end()) return;
  Live& live = it->second;
  --live.jobs;
  int64_t now = now_s();
  remember(*job, now);
  if (live.deleting) {  // deleted while its end of data was out: the outcome is only logged
    if (live.jobs == 0 && live.writes == 0) release(job->id);
    return;
  }
  apply(live, *job, now);
  if (live.jobs == 0 && live.writes == 0) release(job->id);
}

void DeliveryScheduler::apply(Live& live, const DeliveryJob& job, int64_t now) {
  const auto& q = rt_->config->queue;
  std::vector<size_t> failed;
  for (size_t k = 0; k < job.rcpt_index.size(); ++k) {
    size_t i = job.rcpt_index[k];
    live.in_flight.erase(i);
    auto& r = live.env.recipients[i];
    const router::Outcome& res = job.results[k];
    ++r.attempts;
    record_outcome(&r, res);
    switch (res.disposition) {
      case router::Disposition::Sent:
        r.state = RcptState::Sent;
        break;
      case router::Disposition::Bounce:
        r.state = RcptState::Bounced;
        failed.push_back(i);
        break;
      case router::Disposition::Pending:
      case router::Disposition::Defer: {
        r.state = RcptState::Deferred;
        size_t step = std::min<size_t>(r.attempts, q.retry.size()) - 1;
        r.next_attempt = now + static_cast<int64_t>(q.retry[step]);
        wake_at(r.next_attempt, live.env.id);
        break;
      }
    }
  }
  if (live.bounce_on_return && live.in_flight.empty()) admin_bounce(live, &failed);
  if (!failed.empty()) send_dsn(live, failed, now);
  expire(live, now);
  write_back(live);
}

void DeliveryScheduler::send_dsn(const Live& live, const std::vector<size_t>& failed, int64_t now) {
  std::string original;
  if (live.body) {
    original = *live.body;
  } else {
    store_.get_body(live.env.id, &original);
  }
  DsnRequest req;
  req.reporting_mta = rt_->config->hostname;
  req.config_path = rt_->config->source;
  req.env = &live.env;
  req.failed = failed;
  req.original = &original;
  req.now = now;
  std::vector<size_t> reported;
  auto text = build_dsn(req, &reported);
  if (!text) return;  // a bounce is never bounced; NOTIFY may forbid it
  LocalMail mail{Origin::Dsn, "", {live.env.sender}, std::move(*text)};
  mail.require_tls = live.env.require_tls;  // RFC 8689 5: the report requires TLS as the message did
  Injected in = inject_local_mail_async(store_, *rt_->routes, std::move(mail), [this](const Injected& done) {
    if (done.ok()) schedule(done.id);
  });
  if (!in.no_route.empty()) {
    log_event("dsn-dropped", {{"id", live.env.id}, {"to", "<" + live.env.sender + ">"}, {"reason", "no route"}});
    return;
  }
  log_event("dsn", {{"id", in.id}, {"original", live.env.id}, {"to", "<" + live.env.sender + ">"},
                    {"recipients", reported.size()}});
  HistoryEvent e;
  e.time_us = base::now_us();
  e.kind = HistoryKind::Dsn;
  e.id = live.env.id;
  e.rcpt = live.env.sender;
  e.reason = "bounce notice " + in.id + " sent to <" + live.env.sender + "> for " + std::to_string(reported.size()) +
             (reported.size() == 1 ? " recipient" : " recipients");
  observer().event(e);
}

void DeliveryScheduler::write_back(Live& live, std::function<void(StoreStatus)> then) {
  bool done = all_final(live.env) || live.deleting;
  ++live.writes;
  std::string id = live.env.id;
  auto finished = [this, id, then](StoreStatus st) {
    auto it = live_.find(id);
    if (it != live_.end() && --it->second.writes == 0 && it->second.jobs == 0) release(id);
    if (then) then(st);
  };
  if (live.deleting) {
    store_.remove_async(id, finished);
  } else if (done) {
    log_event("removed", {{"id", id}});
    store_.remove_async(id, finished);
  } else {
    store_.update_envelope_async(live.env, finished);
  }
}

void DeliveryScheduler::release(const std::string& id) {
  live_.erase(id);
  // Room again for due messages held back by kMaxLive.
  if (live_.size() == kMaxLive - 1 && !wakeups_.empty() && wakeups_.begin()->first <= now_s()) arm_timer();
}

void DeliveryScheduler::admin(AdminAction action, const std::string& id,
                              std::function<void(const AdminResult&)> done) {
  Live* live = load(id);
  if (!live || live->deleting) return done(AdminResult{});
  AdminResult res;
  res.found = true;
  withdraw(*live, &res);
  int64_t now = now_s();
  std::vector<size_t> failed;
  switch (action) {
    case AdminAction::Delete: live->deleting = true; break;
    case AdminAction::Hold: live->env.held = true; break;
    case AdminAction::Release: release_hold(&live->env, now); break;
    case AdminAction::Bounce:
      admin_bounce(*live, &failed);
      live->bounce_on_return = !live->in_flight.empty();  // a job too far along: when it is back
      break;
  }
  res.bounced = failed.size();
  if (!failed.empty()) send_dsn(*live, failed, now);
  write_back(*live, [res, done](StoreStatus st) mutable {
    res.status = st;
    done(res);
  });
  if (action == AdminAction::Release) schedule(id);  // due now: the write above is first in line
}

// Jobs of this message that have not gone too far come back: their recipients are as before the
// attempt (not counted as one).
void DeliveryScheduler::withdraw(Live& live, AdminResult* res) {
  for (auto& d : dests_) {
    for (auto& job : d.second->withdraw(live.env.id, &res->stopped, &res->late)) {
      --live.jobs;
      for (size_t i : job->rcpt_index) live.in_flight.erase(i);
    }
  }
}

void DeliveryScheduler::admin_bounce(Live& live, std::vector<size_t>* failed) {
  live.bounce_on_return = false;
  for (size_t i : bounce_by_admin(&live.env, live.in_flight)) {
    const Recipient& r = live.env.recipients[i];
    log_delivery("", live.env.id, r.address, r.route, outcome_of(r));
    failed->push_back(i);
  }
}

// Every message waiting for its retry time (wakeups_ holds them all: rescan() at start and
// reload, each deferral since) is due now, in arrival order. Nothing is read or written here:
// pump() takes them as memory allows, and each attempt writes its own result.
size_t DeliveryScheduler::flush() {
  int64_t now = now_s();
  std::set<std::string> ids;
  for (const auto& w : wakeups_) ids.insert(w.second);
  wakeups_.clear();
  for (const auto& id : ids) {
    wakeups_.emplace(now, id);
    flushed_.insert(id);
  }
  for (auto& d : dests_) d.second->resume();  // a destination found down is tried again too
  arm_timer();
  return ids.size();
}

std::vector<std::string> DeliveryScheduler::active() const {
  std::vector<std::string> ids;
  for (const auto& l : live_) {
    if (l.second.jobs > 0 && !l.second.deleting) ids.push_back(l.first);
  }
  return ids;
}

// The last attempt on the job's route, and the last delivery, for `smarthost status`.
void DeliveryScheduler::remember(const DeliveryJob& job, int64_t now) {
  for (size_t k = 0; k < job.results.size() && k < job.rcpts.size(); ++k) {
    const router::Outcome& o = job.results[k];
    RouteAttempt a;
    a.time = now;
    a.id = job.id;
    a.recipient = job.rcpts[k].address;
    a.status = o.disposition == router::Disposition::Sent     ? "sent"
               : o.disposition == router::Disposition::Bounce ? "bounced"
                                                              : "deferred";
    a.dsn = o.status;
    a.relay = o.relay;
    a.tls_version = o.tls.version;
    a.reason = o.reason;
    RouteActivity& act = activity_[job.route];
    if (o.disposition == router::Disposition::Sent) act.last_sent = a;
    act.last = std::move(a);
  }
}

void DeliveryScheduler::record_tls(const router::StsEnforcement& plan, const router::PolicyResult& policy,
                                   const std::string& domain, const TlsReportEvent& e) {
  // A DANE host's sessions count under policy-type "tlsa" (RFC 8460 4.1, RFC 8461 2: DANE wins).
  const std::string policy_domain =
      !plan.policy_domain.empty() ? plan.policy_domain : e.dane ? router::sts_policy_domain(plan.route, domain) : "";
  if (!sts_.tlsrpt || policy_domain.empty()) return;
  TlsrptPolicy p = tlsrpt_policy(policy);
  if (e.dane) {
    p.type = "tlsa";
    p.id.clear();
    p.strings = e.tlsa;
    p.mx_hosts = {e.host};
  }
  if (e.ok) {
    sts_.tlsrpt->record_success(policy_domain, p, e.host);
    return;
  }
  sts_.tlsrpt->record_failure(policy_domain, p,
                              session_failure_detail(e.result_type, e.sending_ip, e.host, e.ip, e.detail));
}

void DeliveryScheduler::record_mx_mismatch(const router::StsEnforcement& plan, const router::PolicyResult& policy) {
  if (!sts_.tlsrpt || plan.policy_domain.empty()) return;
  sts_.tlsrpt->record_failure(plan.policy_domain, tlsrpt_policy(policy), mx_mismatch_detail(plan.excluded));
}

void DeliveryScheduler::record_policy_failure(const router::PolicyResult& policy) {
  if (!sts_.tlsrpt) return;
  FailureDetail d;
  d.result_type = policy.failure_type;
  d.failure_reason_code = policy.error;  // words; additional-information is for a URI
  sts_.tlsrpt->record_failure(policy.domain, tlsrpt_policy(policy), d);
}

void DeliveryScheduler::wake_at(int64_t when, const std::string& id) {
  wakeups_.emplace(when, id);  // a set: the same moment twice is one entry
  arm_timer();
}

// The timer fires at the first moment in wakeups_, or on the next loop turn while due messages
// wait and memory has room; with memory full, release() calls again when a message leaves.
void DeliveryScheduler::arm_timer() {
  if (wakeups_.empty()) return;
  int64_t delta = wakeups_.begin()->first - now_s();
  if (delta <= 0 && live_.size() >= kMaxLive) return;
  timeval tv{static_cast<time_t>(std::max<int64_t>(0, delta)), 0};
  evtimer_add(timer_.get(), &tv);
}

void DeliveryScheduler::on_timer(evutil_socket_t, short, void* arg) {
  static_cast<DeliveryScheduler*>(arg)->pump();
}

// Due messages into work: the earliest moment first, and within one moment the oldest message
// (queue ids sort by arrival), a batch per loop turn, while memory has room.
void DeliveryScheduler::pump() {
  int64_t now = now_s();
  for (int n = 0; n < kPumpBatch && !wakeups_.empty() && wakeups_.begin()->first <= now && live_.size() < kMaxLive;
       ++n) {
    std::string id = wakeups_.begin()->second;
    wakeups_.erase(wakeups_.begin());
    schedule(id);
  }
  arm_timer();
}

}  // namespace relay
