// background_worker.h - the console's slow work off the event loop: yescrypt password checks
// (tens of ms of CPU by design) and counting the queue by state (a scan of every envelope).
//
// One worker thread runs each job's `work`; its `done` then runs on the loop, woken through an
// eventfd like the queue's completions (relay/queue/queue_store.h). Jobs run in order.
// attach() returns false (with *error) when the eventfd cannot be made; `done` never runs
// before post() returns, nor after the worker is destroyed.
#pragma once

#include <event2/event.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "router/base/event_handles.h"

namespace relay {

class BackgroundWorker {
 public:
  ~BackgroundWorker();
  bool attach(event_base* base, std::string* error);
  void post(std::function<void()> work, std::function<void()> done);

 private:
  struct Job {
    std::function<void()> work, done;
  };
  void worker_main();
  static void on_done(evutil_socket_t fd, short, void* self);

  int wake_fd_ = -1;
  base::EventPtr wake_event_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Job> todo_, done_;
};

}  // namespace relay
