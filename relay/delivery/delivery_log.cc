// delivery_log.cc - the delivery log line (see delivery_log.h).
#include "relay/delivery/delivery_log.h"

#include "relay/core/log.h"

namespace relay {

void log_delivery(const std::string& session, const std::string& id, const std::string& rcpt,
                  const std::string& route, const router::Outcome& o) {
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
