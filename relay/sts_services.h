// sts_services.h - the daemon's MTA-STS and TLS-RPT machinery.
//
// Owns the HTTPS context for policy fetches, the policy cache and the TLS-RPT
// counters (each its own LMDB environment under queue.path), hands them to
// the delivery scheduler, and once a day (00:05 UTC) sends the previous day's
// reports through the queue. Start-up failures are values: open() returns
// null with *error, and the relay refuses to start, as for any bad config.
#pragma once

#include <event2/event.h>

#include <functional>
#include <memory>
#include <string>

#include "relay/notify/tlsrpt_sender.h"
#include "relay/delivery/delivery_scheduler.h"
#include "relay/queue/queue_store.h"
#include "relay/core/smtp_runtime.h"
#include "relay/notify/tlsrpt_store.h"
#include "router/mta_sts/mta_sts_cache.h"

namespace relay {

class StsRuntime {
 public:
  using Queued = std::function<void(const std::string& id)>;

  static std::unique_ptr<StsRuntime> open(event_base* base, router::DnsService& dns, QueueStore& queue,
                                          std::shared_ptr<const Runtime> rt, Queued queued, std::string* error);
  ~StsRuntime();

  StsServices services() const;
  TlsrptStore* tlsrpt() const { return tlsrpt_.get(); }  // the console's TLS reports page reads it
  void set_runtime(std::shared_ptr<const Runtime> rt) { rt_ = std::move(rt); }
  // Sends the reports of `day` now (the daily timer calls this for yesterday).
  void send_reports(const std::string& day);

 private:
  StsRuntime(event_base* base, router::DnsService& dns, QueueStore& queue) : base_(base), dns_(dns), queue_(queue) {}
  void arm_daily();
  static void on_daily(evutil_socket_t, short, void* self);

  event_base* base_;
  router::DnsService& dns_;
  QueueStore& queue_;
  std::shared_ptr<const Runtime> rt_;
  Queued queued_;
  certs::CtxPtr https_ctx_;
  std::unique_ptr<router::StsCache> cache_;
  std::unique_ptr<TlsrptStore> tlsrpt_;
  std::unique_ptr<TlsrptSender> sender_;
  base::EventPtr daily_;
};

}  // namespace relay
