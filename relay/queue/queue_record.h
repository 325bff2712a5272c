// queue_record.h - what the queue keeps for one message, and its encoding.
//
// The envelope (everything but the body) is one LMDB value, encoded as tagged
// fields so that later versions can add fields and still read old queues.
// decode_envelope() fails (returns false) on a truncated or corrupt value; a
// failure kind or TLS problem it does not know (written by a newer binary)
// reads as "none" / HandshakeFailed rather than failing the whole record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "certs/tls_summary.h"
#include "router/delivery_outcome.h"

namespace relay {

enum class RcptState : uint8_t { Pending = 0, Sent = 1, Deferred = 2, Bounced = 3 };
const char* rcpt_state_name(RcptState s);

// Facts about the TLS session of one hop, for the log, DSNs and queue show.
using TlsInfo = certs::TlsSummary;

struct Recipient {
  std::string address;
  uint32_t notify = 0;     // relay::Notify bits; 0 = not given
  std::string orcpt;       // as given, xtext
  std::string route;       // route name chosen at RCPT time
  RcptState state = RcptState::Pending;
  uint32_t attempts = 0;
  int64_t next_attempt = 0;  // unix seconds
  std::string last_error;    // plain words
  std::string dsn_status;    // "5.7.4"
  std::string remote_mta;    // host that answered, if any
  std::string diagnostic;    // remote reply, if the host replied
  std::string advice;        // what the admin can do (DSN human part)
  TlsInfo tls;               // of the last attempt
  router::FailureKind failure = router::FailureKind::None;  // why the last attempt failed
  certs::TlsProblem tls_problem = certs::TlsProblem::HandshakeFailed;  // when failure is Tls
  std::string relay;         // "host[ip]:port" of the last attempt's session, if any
};

// Who wrote the message: a client over SMTP, or the relay itself (issue 12: one injector for
// locally generated mail, relay/queue/local_mail.h). Delivery treats TlsReport specially: a day's
// lifetime and never counted in TLS-RPT (RFC 8460 section 3: no report loops).
enum class Origin : uint8_t { Smtp = 0, Dsn = 1, TlsReport = 2 };

// The facts of the recipient's last outcome, and back: the queue record keeps
// every field of router::Outcome but the disposition, which becomes `state`
// through the scheduler's retry rules. record_outcome() leaves state alone.
router::Outcome outcome_of(const Recipient& r);
void record_outcome(Recipient* r, const router::Outcome& o);

struct Envelope {
  std::string id;
  std::string sender;       // empty: null sender (a bounce)
  int64_t arrival_us = 0;   // unix microseconds
  uint64_t size = 0;        // body octets as stored
  bool eight_bit = false;   // MAIL had BODY=8BITMIME
  bool smtputf8 = false;    // MAIL had SMTPUTF8 (RFC 6531): UTF-8 addresses and headers allowed
  // MAIL had REQUIRETLS (RFC 8689): delivered only over verified TLS to a hop that offers
  // REQUIRETLS (router/tls_demand.h); its DSNs carry the headers only and require TLS too.
  bool require_tls = false;
  uint8_t ret = 0;          // relay::Ret
  std::string envid;
  std::string client_ip;
  std::string helo;
  TlsInfo tls_in;
  std::vector<Recipient> recipients;
  Origin origin = Origin::Smtp;
  // `queue hold` (postsuper -h): no delivery, and no expiry, until `queue release`.
  bool held = false;
};

std::string encode_envelope(const Envelope& e);
bool decode_envelope(const std::string& data, Envelope* e);

// Queue ids: 16 upper-case hex digits, time-ordered, unique per process.
std::string new_queue_id();

}  // namespace relay
