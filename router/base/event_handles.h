// event_handles.h - RAII owners for libevent handles, shared by router/ and relay/.
#pragma once

#include <event2/event.h>

#include <memory>

namespace base {

struct EventBaseFree {
  void operator()(event_base* b) const { event_base_free(b); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseFree>;

struct EventFree {
  void operator()(event* e) const { event_free(e); }
};
using EventPtr = std::unique_ptr<event, EventFree>;

}  // namespace base
