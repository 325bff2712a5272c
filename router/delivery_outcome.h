// delivery_outcome.h - what became of a delivery attempt for a recipient, typed where it is
// decided (the client session's failure funnel, the destination planner's judge of a failed
// lookup, the queue's lifetime check, an admin's bounce) and carried unchanged to the queue
// record, the one delivery log line and the DSN builder, so none of them has to guess the
// failure back from words.
//
// Plain values; nothing here can fail.
#pragma once

#include <cstdint>
#include <string>

#include "certs/tls_summary.h"

namespace router {

enum class Disposition : uint8_t { Pending, Sent, Defer, Bounce };
const char* disposition_name(Disposition d);  // "pending", "sent", "deferred", "bounced"

// Why an attempt did not end in "sent". Stored in the queue record as a number: append only.
enum class FailureKind : uint8_t {
  None = 0,      // sent, or not failed yet
  Connect,       // no connection, lost connection, timeout
  Protocol,      // malformed or unexpected replies
  RemoteReply,   // the remote host answered 4xx/5xx (remote_reply holds it)
  Tls,           // the route's or a policy's TLS requirement failed: tls_problem says how
  DnsTemp,       // candidate hosts could not be looked up now
  NoSuchDomain,  // the recipient domain does not exist (5.1.2)
  NullMx,        // RFC 7505 null MX: the domain accepts no mail (5.1.10)
  StsNoHost,     // an MTA-STS enforce policy leaves no usable MX host (4.7.5)
  Expired,       // queue.max_lifetime ran out (5.4.7)
  RouteGone,     // a reload removed the route (4.3.5)
  Local,         // our own trouble (cannot start TLS, queue write)
  Admin,         // bounced by the admin (smarthost queue bounce)
  NoSmtpUtf8,    // the message needs SMTPUTF8 and the next hop did not offer it (5.6.7, RFC 6531)
  No8BitMime,    // 8-bit content and the next hop did not offer 8BITMIME (5.6.3, RFC 6152)
  NoRequireTls,  // a REQUIRETLS message and the next hop did not offer REQUIRETLS (5.7.30, RFC 8689)
};
const char* failure_kind_name(FailureKind k);  // "connect", "tls", "null-mx", ...

struct Outcome {
  Disposition disposition = Disposition::Pending;
  std::string status;       // RFC 3463: "2.0.0", "4.4.1", "5.7.4"
  FailureKind kind = FailureKind::None;
  certs::TlsProblem tls_problem = certs::TlsProblem::HandshakeFailed;  // meaningful for kind Tls
  std::string reason;       // plain words for logs, queue show and DSNs
  std::string advice;       // what the admin can do, when we know
  std::string remote_host;  // host name of the peer that decided it (DSN Remote-MTA)
  std::string relay;        // "host[ip]:port" of that session
  std::string remote_reply; // the remote's reply, only when it replied (DSN Diagnostic-Code)
  certs::TlsSummary tls;    // the session's TLS facts, also when a check failed after the handshake
};

// An outcome decided without a session: a judged lookup, a removed route, an expired lifetime.
Outcome decided(Disposition d, const std::string& status, FailureKind kind, const std::string& reason);

}  // namespace router
