// local_mail.h - the one way mail the relay writes itself enters the queue: DSNs (delivery and
// `queue bounce`) and TLS-RPT reports.
//
// The envelope is built here and nowhere else: a new queue id, arrival now, the size of the text,
// client 127.0.0.1 with HELO "localhost", the origin (Envelope::origin: what delivery goes by, never
// the HELO), and each recipient with the route the route table gives it, due at once.
// inject_local_mail() writes synchronously (the command-line tools); inject_local_mail_async()
// hands the message to the queue's writer thread (the daemon) and calls back on the loop, so the
// caller can schedule the id.
//
// How it fails: a recipient without a route refuses the whole message before anything is written
// (Injected::no_route names it); a queue failure is Injected::status. Nothing throws.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "relay/queue/queue_record.h"
#include "relay/queue/queue_store.h"
#include "router/route_table.h"

namespace relay {

struct LocalMail {
  Origin origin = Origin::Dsn;
  std::string sender;                   // empty: the null sender (DSNs)
  std::vector<std::string> recipients;
  std::string text;                     // the whole message, CRLF line ends
  bool require_tls = false;             // RFC 8689: a DSN of a REQUIRETLS message requires TLS too
};

// What became of one message.
struct Injected {
  std::string id;                        // its queue id; empty when refused
  std::string no_route;                  // the recipient without a route: refused, nothing queued
  StoreStatus status = StoreStatus::Ok;  // the queue's answer (Error when refused)
  bool ok() const { return no_route.empty() && status == StoreStatus::Ok; }
};

// Refused (no route) or written, before it returns.
Injected inject_local_mail(QueueStore& store, const router::RouteTable& routes, LocalMail mail);

// Returns at once: refused (`done` never runs), or handed to the queue with its id set (for the
// log) and `done` runs later on the store's loop with the queue's answer.
Injected inject_local_mail_async(QueueStore& store, const router::RouteTable& routes, LocalMail mail,
                                 std::function<void(const Injected&)> done);

}  // namespace relay
