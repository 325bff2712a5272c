// delivery_scheduler.h - from the queue to outbound sessions and back.
//
// Due recipients become jobs, grouped by destination (route, and for kind
// "mx" the recipient domain). A destination plans its hosts and MTA-STS policy
// once (router/destination_plan.h; cached for a minute or until a reload;
// hosts that cannot be used settle every job as the planner judged; after a
// deferral an MTA-STS enforce policy caused, the next attempt plans afresh so
// that the policy's TXT id is checked again, RFC 8461 5.1), then runs up to
// the route's max_connections sessions, which reuse their connection for
// further jobs until a reload replaces the configuration they were opened under.
// Results are written back to LMDB: sent and bounced recipients are final,
// deferred ones get the next retry time from queue.retry; a message past
// queue.max_lifetime bounces with 5.4.7. Bounces produce a DSN that enters the
// queue like any message. A message leaves the queue when every recipient is
// final.
//
// The in-memory copy of a message being worked on is authoritative (two jobs
// of one message may finish in either order); LMDB is written after each
// change, so a restart resumes from the last committed state.
//
// The admin's actions (queue_admin.h) on a message go through admin(): the in-memory copy is
// changed and written back through the queue's writer, and a delivery of that message in
// progress is stopped first (SmtpClientSession::withdraw: the next hop never gets the end of the
// data), so that a deleted, held or bounced message does not arrive later. A held message is
// neither delivered nor expired until released.
//
// TLS-RPT reports (Envelope origin TlsReport) go through destinations of
// their own: they are never counted, and an enforce policy of the rua domain
// is applied to them as testing (RFC 8460 5.3.1: a report is sent even when
// the domain's TLS requirements fail; router/destination_plan.h). A report
// waits in the queue a day at most (queue_lifetime, tlsrpt_report.h).
#pragma once

#include <event2/event.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "relay/queue/queue_admin.h"
#include "relay/queue/queue_store.h"
#include "relay/delivery/smtp_client_session.h"
#include "relay/core/smtp_runtime.h"
#include "router/candidate_hosts.h"
#include "router/dns/dns_resolver.h"
#include "router/mta_sts/mta_sts_cache.h"
#include "router/mta_sts/mta_sts_lookup.h"
#include "router/tls_demand.h"

namespace relay {
class TlsrptStore;
}

namespace relay {

// What MTA-STS and TLS-RPT need; owned by the daemon. All null: both off.
struct StsServices {
  WOLFSSL_CTX* https_ctx = nullptr;  // policy fetches (TLS 1.2+, tls.ca_file)
  router::StsCache* cache = nullptr;
  TlsrptStore* tlsrpt = nullptr;
};

// What became of one admin action (DeliveryScheduler::admin).
struct AdminResult {
  bool found = false;                  // the message was in the queue
  StoreStatus status = StoreStatus::Ok;  // of the write that recorded the action
  std::string stopped;                 // "host[ip]:port" whose delivery of it was stopped
  std::string late;                    // "host[ip]:port" that already had the whole message
  size_t bounced = 0;                  // recipients bounced now
};

// The last attempt on a route, for `smarthost status`.
struct RouteAttempt {
  int64_t time = 0;
  std::string id, recipient, status, dsn, relay, tls_version, reason;
};
struct RouteActivity {
  RouteAttempt last;       // the last attempt, whatever its outcome
  RouteAttempt last_sent;  // the last one that delivered
};

class DeliveryScheduler {
 public:
  DeliveryScheduler(event_base* base, QueueStore& store, router::DnsService& dns,
                    std::shared_ptr<const Runtime> rt);
  ~DeliveryScheduler();

  // A reload: every destination plans again before its next job, parked
  // connections say QUIT, and sessions in flight take no further job.
  void set_runtime(std::shared_ptr<const Runtime> rt);
  void set_sts(StsServices sts) { sts_ = sts; }
  // Every message of the queue is taken up again at its next retry time (start-up, a reload,
  // SIGUSR1 and the control socket's "wake": mail another process queued). Nothing scans the
  // queue otherwise: deferred messages wait in an in-memory index (wakeups_).
  void rescan();
  // A message was just committed.
  void message_queued(const std::string& id);
  size_t active_sessions() const;

  // An admin action on message `id`; `done` runs on the loop once the change is committed (at
  // once, found = false, for an id not in the queue).
  void admin(AdminAction action, const std::string& id, std::function<void(const AdminResult&)> done);
  // `queue flush`: every message not held is due now. Returns how many.
  size_t flush();
  // Messages with a delivery in progress (or waiting for a connection slot).
  std::vector<std::string> active() const;
  const std::map<std::string, RouteActivity>& route_activity() const { return activity_; }

 private:
  struct Live {
    Envelope env;
    std::shared_ptr<const std::string> body;
    bool body_8bit = false;     // of body: an octet above 127 anywhere
    bool headers_8bit = false;  // of body: an octet above 127 in the header section
    bool tls_required_no = false;  // of body: "TLS-Required: No" (RFC 8689 4.2.2)
    int jobs = 0;     // in flight
    int writes = 0;   // LMDB writes not yet committed
    std::set<size_t> in_flight;
    bool deleting = false;      // deleted by the admin: nothing more is done, results are ignored
    bool bounce_on_return = false;  // bounced while a job was too far along to stop
  };
  class Destination;

  void schedule(const std::string& id);
  Live* load(const std::string& id);
  static void note_8bit(Live& live);
  void dispatch(Live& live, int64_t now);
  Destination& destination(const config::Route& route, const std::string& domain, bool report,
                           router::TlsDemand demand);
  void job_done(std::unique_ptr<DeliveryJob> job);
  void apply(Live& live, const DeliveryJob& job, int64_t now);
  void expire(Live& live, int64_t now);
  void send_dsn(const Live& live, const std::vector<size_t>& failed, int64_t now);
  void write_back(Live& live, std::function<void(StoreStatus)> then = nullptr);
  void withdraw(Live& live, AdminResult* res);
  void admin_bounce(Live& live, std::vector<size_t>* failed);
  void remember(const DeliveryJob& job, int64_t now);
  void release(const std::string& id);
  // `domain`: the destination's recipient domain (a DANE session's policy-domain without MTA-STS).
  void record_tls(const router::StsEnforcement& plan, const router::PolicyResult& policy,
                  const std::string& domain, const TlsReportEvent& e);
  void record_policy_failure(const router::PolicyResult& policy);
  void record_mx_mismatch(const router::StsEnforcement& plan, const router::PolicyResult& policy);
  void wake_at(int64_t when, const std::string& id);
  void arm_timer();
  void pump();
  static void on_timer(evutil_socket_t, short, void* self);

  event_base* base_;
  QueueStore& store_;
  router::DnsService& dns_;
  std::shared_ptr<const Runtime> rt_;
  StsServices sts_;
  std::map<std::string, Live> live_;
  std::map<std::string, std::unique_ptr<Destination>> dests_;
  std::set<std::pair<int64_t, std::string>> wakeups_;  // (when, id): every waiting message
  std::set<std::string> flushed_;                      // `queue flush`: due now when taken up
  std::map<std::string, RouteActivity> activity_;       // by route name
  base::EventPtr timer_;
};

}  // namespace relay
