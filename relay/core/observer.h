// observer.h - where the relay's moving parts tell the admin console what happened: the
// console's metrics and delivery history (SPEC R-CONSOLE) listen here.
//
// One per process, like the log (relay/core/log.h), and fed from the same funnels that write
// the log lines (accepted, log_delivery, dsn, admin), so the console can never count something
// the log does not say. Without an `admin` section nobody is installed and every call is a
// no-op; the command-line tools never install one. Calls come from the event loop only.
#pragma once

#include <string>

#include "relay/core/history_event.h"

namespace relay {

class Observer {
 public:
  virtual ~Observer() = default;
  virtual void event(const HistoryEvent& e) {}
  // An inbound SMTP session ended; tls_version empty: it never started TLS.
  virtual void inbound_session(const std::string& tls_version) {}
};

// The installed observer, or one that does nothing.
Observer& observer();
// Installs `o` (null: none); the caller keeps it alive until it installs null again.
void set_observer(Observer* o);

}  // namespace relay
