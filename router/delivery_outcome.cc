// delivery_outcome.cc - names of dispositions and failure kinds (see delivery_outcome.h).
#include "router/delivery_outcome.h"

namespace router {

const char* disposition_name(Disposition d) {
  switch (d) {
    case Disposition::Pending: return "pending";
    case Disposition::Sent: return "sent";
    case Disposition::Defer: return "deferred";
    case Disposition::Bounce: return "bounced";
  }
  return "?";
}

const char* failure_kind_name(FailureKind k) {
  switch (k) {
    case FailureKind::None: return "none";
    case FailureKind::Connect: return "connect";
    case FailureKind::Protocol: return "protocol";
    case FailureKind::RemoteReply: return "remote-reply";
    case FailureKind::Tls: return "tls";
    case FailureKind::DnsTemp: return "dns";
    case FailureKind::NoSuchDomain: return "no-such-domain";
    case FailureKind::NullMx: return "null-mx";
    case FailureKind::StsNoHost: return "mta-sts";
    case FailureKind::Expired: return "expired";
    case FailureKind::RouteGone: return "route-gone";
    case FailureKind::Local: return "local";
    case FailureKind::Admin: return "admin";
    case FailureKind::NoSmtpUtf8: return "no-smtputf8";
    case FailureKind::No8BitMime: return "no-8bitmime";
    case FailureKind::NoRequireTls: return "no-requiretls";
  }
  return "?";
}

Outcome decided(Disposition d, const std::string& status, FailureKind kind, const std::string& reason) {
  Outcome o;
  o.disposition = d;
  o.status = status;
  o.kind = kind;
  o.reason = reason;
  return o;
}

}  // namespace router
