// delivery_log.h - the one writer of the `event=delivery` log line (SPEC R-LOG).
//
// Every place that decides a recipient's outcome (the client session, a
// destination whose lookup failed or whose route is gone, the queue's
// lifetime check) logs it here, so the keys and their order are the same
// everywhere:
//   event=delivery session id rcpt route relay status dsn tls cipher verify reason
// A line for an outcome that no session carried (session empty) has no
// session, relay or TLS keys: there was no connection to describe.
//
// Nothing here fails; the line goes where relay/core/log.h sends it.
#pragma once

#include <string>

#include "router/delivery_outcome.h"

namespace relay {

void log_delivery(const std::string& session, const std::string& id, const std::string& rcpt,
                  const std::string& route, const router::Outcome& o);

}  // namespace relay
