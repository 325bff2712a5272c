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
  log_event("delivery", {{"session", session}, {"id", id}, {"rcpt", "<" + rcpt + ">"}, {"route", route},
                         {"relay", o.relay}, {"status", status}, {"dsn", o.status},
                         {"tls", o.tls.version.empty() ? "none" : o.tls.version}, {"cipher", o.tls.cipher},
                         {"verify", o.tls.verdict}, {"reason", o.reason}});
}

}  // namespace relay
