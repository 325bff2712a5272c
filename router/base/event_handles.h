// event_handles.h - RAII owners for libevent handles, shared by router/ and relay/, and the
// one way to free an object from a later loop turn (an object must not be destroyed inside its
// own callback: its callers' frames still use it).
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

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

struct ListenerFree {
  void operator()(evconnlistener* l) const { evconnlistener_free(l); }
};
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerFree>;

// Takes `p` over and deletes it from the next turn of `base`'s loop. Nothing happens for null.
// The loop must turn again (event_base_free() does not run pending one-shot callbacks).
template <typename T>
void delete_later(event_base* base, std::unique_ptr<T> p) {
  if (!p) return;
  event_base_once(base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* q) { delete static_cast<T*>(q); },
                  p.release(), nullptr);
}

}  // namespace base
