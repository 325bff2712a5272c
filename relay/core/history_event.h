// history_event.h - one event in a message's story, as the admin console's tracking keeps it
// (SPEC R-CONSOLE): its arrival, each delivery attempt's outcome per recipient, the bounce
// notice sent for it, and what an admin did to it. Plain values with a JSON encoding for the
// history database (relay/queue/history_store.h).
//
// decode_history_event returns false (and leaves *out partly filled) on text it cannot read.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace relay {

enum class HistoryKind { Accepted, Delivery, Dsn, Admin };
const char* history_kind_name(HistoryKind k);  // "accepted", "delivery", "dsn", "admin"

struct HistoryEvent {
  int64_t time_us = 0;
  HistoryKind kind = HistoryKind::Accepted;
  std::string id;  // queue ID of the message it is about
  // Accepted: the message.
  std::string message_id;  // as in the header, with its <>
  std::string sender;
  std::vector<std::string> recipients;
  uint64_t size = 0;
  std::string client;
  std::string tls_in;  // "TLS1_3"; empty: plaintext
  // Delivery (and Admin, Dsn: rcpt/reason/status as they apply).
  std::string rcpt;
  std::string route;
  std::string relay;   // "host[ip]:port"; empty: no session
  std::string status;  // "sent", "deferred", "bounced"; admin: the action
  std::string dsn;     // "2.0.0"
  std::string tls_version;
  std::string cipher;
  std::string verify;  // Verified / Trusted / Untrusted / Anonymous
  std::string reason;
  std::string remote_host;  // host name of the peer (policy impact preview: per destination)
  std::string tls_problem;  // failure_kind / TLS problem words when a TLS check failed
  // The peer's leaf certificate (certificates page, expiry warnings); empty/0 without one.
  std::string cert_subject;
  std::string cert_issuer;
  std::string cert_sha256;
  int64_t cert_not_after = 0;  // unix seconds
};

std::string encode_history_event(const HistoryEvent& e);
bool decode_history_event(const std::string& text, HistoryEvent* out);

}  // namespace relay
