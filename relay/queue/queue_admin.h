// queue_admin.h - what the admin's queue actions (postsuper habits) do to one message's record.
//
// `queue delete|bounce|hold|release ID…`: the same edits whether the running relay makes them (the
// scheduler, on its in-memory copy, relay/delivery/delivery_scheduler.h) or a tool does with no
// relay running (relay/cli/cmd_queue.cc, holding the queue lock). Plain functions on an Envelope;
// nothing here touches the disk or fails.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "relay/queue/queue_record.h"

namespace relay {

enum class AdminAction { Delete, Bounce, Hold, Release };

const char* admin_action_name(AdminAction a);  // "delete", ... (the log's action=)
const char* admin_action_done(AdminAction a);  // "deleted", ... (what the tools print)
bool parse_admin_action(const std::string& word, AdminAction* out);

// Every recipient not final and not in `skip` (being delivered right now) bounces: state, status
// 5.0.0, failure Admin and the words the DSN gives. Returns their indices.
std::vector<size_t> bounce_by_admin(Envelope* e, const std::set<size_t>& skip = {});
// Not held any more, and every recipient not final is due at `now`.
void release_hold(Envelope* e, int64_t now);
// True when every recipient is sent or bounced: the message leaves the queue.
bool all_final(const Envelope& e);

}  // namespace relay
