// message_check.cc - DKIM verdict of the tenant binding (see message_check.h).
#include "relay/tenant/message_check.h"

#include <algorithm>
#include <ctime>

#include "relay/tenant/tenant_binding.h"

namespace relay {

const char* verdict_kind_name(MessageVerdict::Kind k) {
  switch (k) {
    case MessageVerdict::Kind::Accept: return "accept";
    case MessageVerdict::Kind::Reject: return "reject";
    case MessageVerdict::Kind::TempFail: return "temporary failure";
  }
  return "?";
}

std::string MessageVerdict::summary() const {
  std::string out;
  for (const auto& o : checked) {
    out += (out.empty() ? "" : "; ") + std::string(dkim_result_name(o.result)) + " d=" + o.domain + " s=" + o.selector;
    if (!o.reason.empty()) out += " (" + o.reason + ")";
  }
  return out.empty() ? "none" : out;
}

std::unique_ptr<MessageCheck> MessageCheck::start(DkimKeyCache& keys, const std::vector<std::string>& require,
                                                  const std::string& sign_domain, const std::string& message,
                                                  Callback cb) {
  std::unique_ptr<MessageCheck> c(new MessageCheck());
  c->require_ = require;
  c->sign_domain_ = sign_domain;
  c->message_ = &message;
  c->cb_ = std::move(cb);
  std::vector<DkimSignature> all = dkim_signatures(message);
  for (auto& s : all) {
    bool listed = std::find(require.begin(), require.end(), s.domain) != require.end();
    bool ours = !sign_domain.empty() && s.domain == sign_domain;
    if ((!listed && !ours) || c->sigs_.size() >= kMaxChecked) continue;
    DkimOutcome o;
    o.domain = s.domain;
    o.selector = s.selector;
    o.algorithm = s.algorithm;
    o.b_prefix = s.b_prefix;
    c->outcomes_.push_back(o);
    c->listed_.push_back(listed);
    c->sigs_.push_back(std::move(s));
  }
  c->waiting_ = c->sigs_.size();
  c->lookups_.resize(c->sigs_.size());
  for (size_t i = 0; i < c->sigs_.size(); ++i) {
    if (!c->sigs_[i].error.empty()) {
      // Unusable before any lookup: no key is fetched for it.
      c->outcomes_[i].result = DkimResult::PermError;
      c->outcomes_[i].reason = c->sigs_[i].error;
      --c->waiting_;
      continue;
    }
    MessageCheck* self = c.get();
    c->lookups_[i] = keys.fetch(c->sigs_[i].key_name(), [self, i](DkimKeyAnswer a) { self->key_arrived(i, a); });
  }
  c->started_ = true;
  if (c->waiting_ == 0) c->finish();
  return c;
}

MessageCheck::~MessageCheck() = default;

void MessageCheck::key_arrived(size_t i, const DkimKeyAnswer& a) {
  DkimOutcome& o = outcomes_[i];
  o.secure = a.secure;
  switch (a.status) {
    case DkimKeyAnswer::Status::Found: {
      DkimCheck r = dkim_verify(*message_, sigs_[i], a.record, static_cast<int64_t>(time(nullptr)));
      o.result = r.result;
      o.reason = r.reason;
      break;
    }
    case DkimKeyAnswer::Status::None:
      o.result = DkimResult::PermError;
      o.reason = a.reason;
      break;
    case DkimKeyAnswer::Status::TempFail:
      o.result = DkimResult::TempError;
      o.reason = a.reason;
      if (listed_[i]) temp_fail_ = true;
      break;
  }
  --waiting_;
  if (started_ && waiting_ == 0) finish();  // a cache hit inside start() waits for start's own call
}

void MessageCheck::finish() {
  if (finished_) return;
  finished_ = true;
  MessageVerdict v;
  v.checked_dkim = !require_.empty();
  bool pass = false;
  for (size_t i = 0; i < outcomes_.size(); ++i) {
    const bool ok = outcomes_[i].result == DkimResult::Pass;
    if (listed_[i]) {
      pass |= ok;
      v.checked.push_back(outcomes_[i]);
    }
    if (ok && outcomes_[i].domain == sign_domain_) v.sign_domain_valid = true;
  }
  const std::string expected = domain_words(require_);
  if (require_.empty() || pass) {
    v.kind = MessageVerdict::Kind::Accept;
  } else if (temp_fail_) {
    v.kind = MessageVerdict::Kind::TempFail;
    v.text = "DKIM key of " + expected + " could not be looked up now, try again later";
  } else {
    v.kind = MessageVerdict::Kind::Reject;
    v.text = "no valid DKIM signature by " + expected + " (the relay for this range only takes mail signed by " +
             (require_.size() == 1 ? "that domain" : "one of them") + ")";
  }
  Callback cb = std::move(cb_);
  cb(std::move(v));  // may destroy this object: nothing after
}

}  // namespace relay
