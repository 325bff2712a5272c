// background_worker.cc - one worker thread for the console (see background_worker.h).
#include "relay/console/background_worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace relay {

BackgroundWorker::~BackgroundWorker() {
  if (worker_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    worker_.join();
  }
  wake_event_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool BackgroundWorker::attach(event_base* base, std::string* error) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    *error = std::string("eventfd: ") + strerror(errno);
    return false;
  }
  wake_event_.reset(event_new(base, wake_fd_, EV_READ | EV_PERSIST, &BackgroundWorker::on_done, this));
  event_add(wake_event_.get(), nullptr);
  worker_ = std::thread([this] { worker_main(); });
  return true;
}

void BackgroundWorker::post(std::function<void()> work, std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    todo_.push_back(Job{std::move(work), std::move(done)});
  }
  cv_.notify_one();
}

void BackgroundWorker::worker_main() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !todo_.empty(); });
      if (stopping_) return;
      job = std::move(todo_.front());
      todo_.erase(todo_.begin());
    }
    job.work();
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(job));
    }
    uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof one);
    (void)n;  // the eventfd counter cannot overflow at our rates
  }
}

void BackgroundWorker::on_done(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<BackgroundWorker*>(arg);
  uint64_t count;
  ssize_t n = read(fd, &count, sizeof count);
  (void)n;
  std::vector<Job> done;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    done.swap(self->done_);
  }
  for (auto& j : done) {
    if (j.done) j.done();
  }
}

}  // namespace relay
