// delivery_job.h - one unit of outbound work: a message's recipients that
// share a route and destination, and what became of each (a router::Outcome,
// typed where it was decided). Plain data; nothing here fails.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "certs/tls_context.h"
#include "relay/queue/queue_record.h"
#include "router/delivery_outcome.h"

namespace relay {

// What one connection attempt to one address saw: the route tester prints
// it, and delivery logs it when asked. Filled in only when a job asks for it.
struct HostTrace {
  std::string host;
  std::string address;
  int port = 0;
  int preference = 0;
  bool connected = false;
  double connect_ms = 0;
  std::string banner;
  std::vector<std::string> ehlo;          // extensions, first EHLO
  bool starttls_offered = false;
  bool smtputf8_offered = false;           // of the last EHLO (over TLS when there was TLS)
  bool eightbitmime_offered = false;       // likewise
  bool requiretls_offered = false;         // likewise (RFC 8689: only ever offered over TLS)
  bool plaintext_retry = false;            // opportunistic retry after a failed handshake
  bool tls_attempted = false;
  bool handshake_ok = false;
  std::string handshake_error;
  certs::TlsProblem handshake_problem = certs::TlsProblem::HandshakeFailed;  // when handshake_error is set
  certs::TlsFacts facts;                   // when handshake_ok
  bool policy_ok = false;                  // the route's TLS checks passed (or do not apply)
  std::string policy_error;                // why not, in plain words
  std::string advice;
  std::string status;                      // RFC 3463 of the failure, if any
  std::string error;                       // the failure that ended this attempt, if any
  // DANE routes (SPEC R-DANE): the verdict word ("verified", "failed", "no-tlsa", ...), the
  // record that matched ("3 1 1 <hex>") and why each other record did not.
  std::string dane_result;                 // empty: the route does not use DANE
  std::string dane_matched;
  std::vector<std::string> dane_notes;
  bool dane_secure = false;                // MX, address and TLSA answers all DNSSEC-secure
  std::string dane_dns;                    // "MX secure, A/AAAA secure, TLSA secure"
  std::string dane_state;                  // the planner's words: why DANE does or does not apply
  std::vector<std::string> dane_records;   // "3 1 1 <hex>", as published
};

struct DeliveryJob {
  std::string id;
  std::string route;
  std::string sender;
  bool eight_bit = false;     // 8-bit content: BODY=8BITMIME was given, or octets above 127 are in it
  bool smtputf8 = false;      // MAIL had SMTPUTF8: say it again where the next hop offers it
  bool utf8_headers = false;  // the header section holds UTF-8 (RFC 6532): needs SMTPUTF8 like a UTF-8 address
  bool require_tls = false;   // MAIL had REQUIRETLS: only to a hop offering it, over verified TLS
  uint8_t ret = 0;
  std::string envid;
  uint64_t size = 0;
  std::vector<size_t> rcpt_index;            // into the envelope's recipients
  std::vector<Recipient> rcpts;              // copies, for MAIL/RCPT parameters
  std::shared_ptr<const std::string> body;
  std::vector<router::Outcome> results;      // parallel to rcpts
  // Route tester: walk every host, send no mail (QUIT after EHLO), and
  // record each attempt. A probe has no recipients.
  bool probe = false;
  bool no_tlsrpt = false;                    // a TLS report: its delivery is not counted
  int busy_retries = 0;                      // sent back to its destination's queue: turned away by a busy host
  bool probe_ok = false;                     // some host would have taken the mail
  std::shared_ptr<std::vector<HostTrace>> trace;
  // Probe only: what the session settled, kept here because a probe has no
  // results to hold it. The first settle wins, as for a recipient. Pending:
  // never settled.
  router::Outcome probe_result;

  bool all_done() const {
    for (const auto& r : results) {
      if (r.disposition == router::Disposition::Pending) return false;
    }
    return true;
  }
  // Every still-pending recipient gets this outcome.
  void settle(const router::Outcome& o) {
    if (probe && probe_result.disposition == router::Disposition::Pending) probe_result = o;
    for (auto& r : results) {
      if (r.disposition == router::Disposition::Pending) r = o;
    }
  }
};

}  // namespace relay
