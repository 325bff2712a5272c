// queue_admin.cc - the admin's edits of a queue record (see queue_admin.h).
#include "relay/queue/queue_admin.h"

#include <algorithm>

namespace relay {

namespace {

bool is_final(RcptState s) { return s == RcptState::Sent || s == RcptState::Bounced; }

}  // namespace

const char* admin_action_name(AdminAction a) {
  switch (a) {
    case AdminAction::Delete: return "delete";
    case AdminAction::Bounce: return "bounce";
    case AdminAction::Hold: return "hold";
    case AdminAction::Release: return "release";
  }
  return "?";
}

const char* admin_action_done(AdminAction a) {
  switch (a) {
    case AdminAction::Delete: return "deleted";
    case AdminAction::Bounce: return "bounced";
    case AdminAction::Hold: return "held";
    case AdminAction::Release: return "released";
  }
  return "?";
}

bool parse_admin_action(const std::string& word, AdminAction* out) {
  for (AdminAction a : {AdminAction::Delete, AdminAction::Bounce, AdminAction::Hold, AdminAction::Release}) {
    if (word == admin_action_name(a)) {
      *out = a;
      return true;
    }
  }
  return false;
}

std::vector<size_t> bounce_by_admin(Envelope* e, const std::set<size_t>& skip) {
  std::vector<size_t> failed;
  for (size_t i = 0; i < e->recipients.size(); ++i) {
    Recipient& r = e->recipients[i];
    if (is_final(r.state) || skip.count(i)) continue;
    r.state = RcptState::Bounced;
    r.dsn_status = "5.0.0";
    r.failure = router::FailureKind::Admin;
    r.last_error = "returned to sender by the mail administrator" +
                   (r.last_error.empty() ? std::string() : " (last error: " + r.last_error + ")");
    r.diagnostic.clear();
    failed.push_back(i);
  }
  return failed;
}

void release_hold(Envelope* e, int64_t now) {
  e->held = false;
  for (Recipient& r : e->recipients) {
    if (!is_final(r.state)) r.next_attempt = now;
  }
}

bool all_final(const Envelope& e) {
  return std::all_of(e.recipients.begin(), e.recipients.end(), [](const Recipient& r) { return is_final(r.state); });
}

}  // namespace relay
