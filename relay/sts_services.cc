// sts_services.cc - MTA-STS/TLS-RPT services of the daemon (see sts_services.h).
#include "relay/sts_services.h"
#include "router/base/event_handles.h"

#include <ctime>

#include "relay/core/log.h"
#include "router/https/https_client.h"

namespace relay {

namespace {
constexpr int64_t kDay = 86400;
constexpr int64_t kSendAt = 5 * 60;  // 00:05 UTC: the day is over everywhere it matters
}  // namespace

std::unique_ptr<StsRuntime> StsRuntime::open(event_base* base, router::DnsService& dns, QueueStore& queue,
                                             std::shared_ptr<const Runtime> rt, Queued queued, std::string* error) {
  std::unique_ptr<StsRuntime> s(new StsRuntime(base, dns, queue));
  const auto& cfg = *rt->config;
  s->rt_ = std::move(rt);
  s->queued_ = std::move(queued);
  if (cfg.mta_sts.enabled) {
    s->https_ctx_ = router::make_https_context(cfg.tls.ca_file, error);
    if (!s->https_ctx_) {
      *error = "mta_sts: " + *error;
      return nullptr;
    }
    s->cache_ = router::StsCache::open(router::sts_cache_dir(cfg.queue.path), error);
    if (!s->cache_) return nullptr;
  }
  s->tlsrpt_ = TlsrptStore::open(tlsrpt_dir(cfg.queue.path), error);
  if (!s->tlsrpt_) return nullptr;
  s->daily_.reset(evtimer_new(base, &StsRuntime::on_daily, s.get()));
  s->arm_daily();
  return s;
}

StsRuntime::~StsRuntime() = default;

StsServices StsRuntime::services() const {
  StsServices s;
  s.https_ctx = https_ctx_.get();
  s.cache = cache_.get();
  s.tlsrpt = tlsrpt_.get();
  return s;
}

void StsRuntime::arm_daily() {
  int64_t now = time(nullptr);
  int64_t next = now - now % kDay + kSendAt;
  if (next <= now) next += kDay;
  timeval tv{static_cast<time_t>(next - now), 0};
  evtimer_add(daily_.get(), &tv);
}

void StsRuntime::on_daily(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<StsRuntime*>(arg);
  int64_t now = time(nullptr);
  self->send_reports(utc_day(now - kDay));
  self->tlsrpt_->prune_before(utc_day(now - 30 * kDay));
  self->arm_daily();
}

void StsRuntime::send_reports(const std::string& day) {
  if (!rt_->config->tlsrpt.enabled || sender_) return;
  auto rt = rt_;  // the sender refers into this runtime's config and routes
  ReportEnqueue enqueue = [this, rt](LocalMail mail, std::function<void(const Injected&)> done) {
    Injected in = inject_local_mail_async(queue_, *rt->routes, std::move(mail), [this, done](const Injected& answer) {
      if (answer.ok() && queued_) queued_(answer.id);
      done(answer);
    });
    if (!in.no_route.empty()) done(in);
  };
  sender_ = TlsrptSender::start(base_, dns_, https_ctx_.get(), *rt->config, *tlsrpt_, enqueue, day,
                                time(nullptr), [this, rt, day](TlsrptSendSummary sum) {
                                  for (const auto& l : sum.lines) log_event("tlsrpt", {{"day", day}, {"report", l}});
                                  // Freed on a later turn: we are inside its callback.
                                  base::delete_later(base_, std::move(sender_));
                                });
}

}  // namespace relay
