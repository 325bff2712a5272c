// delivery_log.cc - the delivery log line (see delivery_log.h).
#include "relay/delivery/delivery_log.h"

#include "relay/core/log.h"
#include "relay/core/observer.h"
#include "router/base/utc_time.h"

namespace relay {

namespace {

// The console's history and metrics hear of every outcome the log line names (observer.h).
void observe(const std::string& id, const std::string& rcpt, const std::string& route, const router::Outcome& o) {
  HistoryEvent e;
  e.time_us = base::now_us();
  e.kind = HistoryKind::Delivery;
  e.id = id;
  e.rcpt = rcpt;
  e.route = route;
  e.relay = o.relay;
  e.status = router::disposition_name(o.disposition);
  e.dsn = o.status;
  e.tls_version = o.tls.version;
  e.cipher = o.tls.cipher;
  e.verify = o.tls.verdict;
  e.reason = o.reason;
  e.remote_host = o.remote_host;
  e.cert_subject = o.tls.peer_subject;
  e.cert_issuer = o.tls.peer_issuer;
  e.cert_sha256 = o.tls.peer_sha256;
  e.cert_not_after = o.tls.peer_not_after;
  if (o.kind == router::FailureKind::Tls) e.tls_problem = certs::tls_problem_name(o.tls_problem);
  observer().event(e);
}

}  // namespace

void log_delivery(const std::string& session, const std::string& id, const std::string& rcpt,
                  const std::string& route, const router::Outcome& o) {
  observe(id, rcpt, route, o);
  const std::string status = router::disposition_name(o.disposition);
  if (session.empty()) {
    log_event("delivery", {{"id", id}, {"rcpt", "<" + rcpt + ">"}, {"route", route}, {"status", status},
                           {"dsn", o.status}, {"reason", o.reason}});
    return;
  }
  const std::string tls = o.tls.version.empty() ? "none" : o.tls.version;
  if (o.tls.dane.empty()) {
    log_event("delivery", {{"session", session}, {"id", id}, {"rcpt", "<" + rcpt + ">"}, {"route", route},
                           {"relay", o.relay}, {"status", status}, {"dsn", o.status}, {"tls", tls},
                           {"cipher", o.tls.cipher}, {"verify", o.tls.verdict}, {"reason", o.reason}});
    return;
  }
  // DANE routes (SPEC R-DANE): dane= verified, failed, no-tlsa, insecure, unusable or bogus.
  log_event("delivery", {{"session", session}, {"id", id}, {"rcpt", "<" + rcpt + ">"}, {"route", route},
                         {"relay", o.relay}, {"status", status}, {"dsn", o.status}, {"tls", tls},
                         {"cipher", o.tls.cipher}, {"verify", o.tls.verdict}, {"dane", o.tls.dane},
                         {"reason", o.reason}});
}

}  // namespace relay
