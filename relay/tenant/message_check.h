// message_check.h - the DKIM half of the tenant binding (SPEC R-TENANT), for one message at the
// end of DATA (and for `smarthost check-message`).
//
// Only signatures whose d= is in relay_policy.require_dkim are checked, and keys are fetched
// only for them (DkimKeyCache, through the relay's asynchronous resolver); one that verifies is
// enough. The verdict: Accept; Reject (550 5.7.1, the text naming the domains expected) when none
// verifies; TempFail (451 4.7.5) only when none verified and the key lookup of a listed one
// failed temporarily. Besides, when the message will be signed for `sign_domain` (dkim_sign
// without resign), a signature by that domain is checked too, to know whether one is there
// already (its failures never refuse the message).
//
// Verification is CPU work on the event loop (one canonicalised body hash per checked signature,
// capped at kMaxChecked signatures); nothing here blocks.
//
// How it fails: every outcome is a MessageVerdict; start() never fails. Destroying the
// MessageCheck cancels its lookups: the callback then never runs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "relay/message/dkim_key_cache.h"
#include "relay/message/dkim_verifier.h"

namespace relay {

struct DkimOutcome {
  std::string domain, selector, algorithm, b_prefix;
  DkimResult result = DkimResult::PermError;
  std::string reason;
  bool secure = false;  // key DNSSEC-validated
};

struct MessageVerdict {
  enum class Kind { Accept, Reject, TempFail } kind = Kind::Accept;
  std::string text;                   // the reply text (after the status) when not Accept
  std::vector<DkimOutcome> checked;   // the listed signatures, in message order
  bool checked_dkim = false;          // require_dkim applied
  bool sign_domain_valid = false;     // a valid signature by sign_domain is present
  std::string summary() const;        // for the log: "pass d=example.com s=s1; fail d=... (body hash mismatch)"
};

const char* verdict_kind_name(MessageVerdict::Kind k);  // "accept", "reject", "temporary failure"

class MessageCheck {
 public:
  static constexpr size_t kMaxChecked = 8;
  using Callback = std::function<void(MessageVerdict)>;

  // `require`: require_dkim's domains (empty: no DKIM binding for this message). `sign_domain`:
  // see above ("" for none). `message` must outlive the check. The callback may run before
  // start() returns (every key cached) or later from the event loop.
  static std::unique_ptr<MessageCheck> start(DkimKeyCache& keys, const std::vector<std::string>& require,
                                             const std::string& sign_domain, const std::string& message, Callback cb);
  ~MessageCheck();

 private:
  MessageCheck() = default;
  void key_arrived(size_t index, const DkimKeyAnswer& a);
  void finish();

  struct Pending;
  std::vector<std::string> require_;
  std::string sign_domain_;
  const std::string* message_ = nullptr;
  std::vector<DkimSignature> sigs_;
  std::vector<DkimOutcome> outcomes_;
  std::vector<bool> listed_;
  std::vector<router::DnsLookup> lookups_;
  size_t waiting_ = 0;
  bool temp_fail_ = false;
  bool started_ = false, finished_ = false;
  Callback cb_;
};

}  // namespace relay
