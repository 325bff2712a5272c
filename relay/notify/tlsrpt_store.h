// tlsrpt_store.h - TLS-RPT (RFC 8460) session counts per policy domain and UTC day, in LMDB.
//
// Every outbound TLS session attempt the delivery makes to a domain is counted once: a success
// (record_success) or a failure with its RFC 8460 result-type and details (record_failure).
// Entries are keyed by UTC day, policy domain and policy (type + id), so a report can list each
// policy that was in force that day. Identical failure details are merged with a count; at most
// kMaxDetails distinct details are kept per entry (further ones only raise the failure count).
// Days already reported are marked (mark_sent) so `tlsrpt send` does not report twice.
//
// Location: its own LMDB environment in QUEUE_PATH/tlsrpt/ (tlsrpt_dir()), beside the MTA-STS
// cache; never the queue's environment. Opened with MDB_NOSYNC: a record is a short write
// transaction that never waits on fsync (safe on the event loop); a crash may lose the last
// seconds of counts, which only makes one report slightly low.
//
// How it fails: open() returns nullptr and *error; record_*() and mark_sent() return false (and
// the delivery goes on: reporting must never stop mail); readers return empty results. A corrupt
// entry is skipped by readers and started afresh by writers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace relay {

// The policy a session was made under, as a report lists it (RFC 8460 4.4 "policy").
struct TlsrptPolicy {
  std::string type = "no-policy-found";  // "sts", "tlsa" or "no-policy-found"
  std::string id;                        // MTA-STS id (part of the key; not in the JSON)
  std::vector<std::string> strings;      // policy-string: the policy's lines
  std::vector<std::string> mx_hosts;     // mx-host: the policy's patterns
};

struct FailureDetail {
  std::string result_type;            // "certificate-expired", "sts-policy-fetch-error", ...
  std::string sending_mta_ip;
  std::string receiving_mx_hostname;
  std::string receiving_mx_helo;
  std::string receiving_ip;
  std::string failure_reason_code;
  std::string additional_information;
  uint64_t count = 1;                 // failed-session-count (ignored on record_failure)
};

struct TlsrptEntry {
  std::string day;     // "2026-11-23" (UTC)
  std::string domain;  // policy domain
  TlsrptPolicy policy;
  uint64_t success = 0;
  uint64_t failure = 0;
  std::vector<FailureDetail> details;
};

constexpr size_t kMaxDetails = 100;

std::string tlsrpt_dir(const std::string& queue_path);  // QUEUE_PATH/tlsrpt
std::string utc_day(int64_t unix_seconds);               // "2026-11-23"
// Unix seconds of 00:00:00 UTC of "YYYY-MM-DD"; nullopt when the text is not such a date.
std::optional<int64_t> day_start(const std::string& day);

std::string encode_tlsrpt_entry(const TlsrptEntry& e);
std::optional<TlsrptEntry> decode_tlsrpt_entry(const std::string& data);

class TlsrptStore {
 public:
  static std::unique_ptr<TlsrptStore> open(const std::string& dir, std::string* error);
  ~TlsrptStore();
  TlsrptStore(const TlsrptStore&) = delete;
  TlsrptStore& operator=(const TlsrptStore&) = delete;

  // `when` in unix seconds; 0 means now. `mx` is the receiving MX host name (not kept for
  // successes; accepted so call sites read alike).
  bool record_success(const std::string& domain, const TlsrptPolicy& policy, const std::string& mx,
                      int64_t when = 0);
  bool record_failure(const std::string& domain, const TlsrptPolicy& policy, const FailureDetail& detail,
                      int64_t when = 0);

  std::vector<TlsrptEntry> entries(const std::string& day);  // every domain and policy of one day
  std::vector<std::string> days();                           // days with entries, oldest first
  bool mark_sent(const std::string& day, const std::string& domain);
  bool is_sent(const std::string& day, const std::string& domain);
  // Deletes entries and marks of days before `day` (housekeeping). Returns how many keys went.
  size_t prune_before(const std::string& day);

  class Env;

 private:
  explicit TlsrptStore(std::unique_ptr<Env> env);
  bool update(const std::string& domain, const TlsrptPolicy& policy, int64_t when, const FailureDetail* fail);
  std::unique_ptr<Env> env_;
};

}  // namespace relay
