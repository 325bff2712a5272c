// queue_control.cc - the queue lock, the PID file and SIGUSR1 to the running relay (see
// queue_control.h). Failures to lock are values (nullptr with the reason).
#include "relay/queue/queue_control.h"

#include <time.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "relay/queue/control_socket.h"

namespace relay {

namespace {

std::string lock_file(const std::string& queue_dir) { return queue_dir + "/smarthost.lock"; }

// The holder's PID, which it writes into the lock file right after locking; 0 when not (yet) there.
long lock_holder(int fd) {
  char buf[32] = {};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? std::strtol(buf, nullptr, 10) : 0;
}

// Our PID over the old text, then cut to length: a reader never sees the file empty.
void record_holder(int fd) {
  std::string text = std::to_string(getpid()) + "\n";
  if (pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size())) {
    (void)ftruncate(fd, static_cast<off_t>(text.size()));
  }
}

}  // namespace

std::string pid_file(const std::string& queue_dir) { return queue_dir + "/smarthost.pid"; }

namespace {

// One try: the locked descriptor, or -1 with *error (*busy: another process holds the lock).
int try_lock(const std::string& queue_dir, std::string* error, bool* busy) {
  *busy = false;
  if (mkdir(queue_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create queue folder " + queue_dir + ": " + std::strerror(errno);
    return -1;
  }
  std::string path = lock_file(queue_dir);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    *error = "cannot open the queue lock " + path + ": " + std::strerror(errno);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    long holder = e == EWOULDBLOCK ? lock_holder(fd) : 0;
    close(fd);
    if (e != EWOULDBLOCK) {
      *error = "cannot lock " + path + ": " + std::strerror(e);
    } else {
      *busy = true;
      *error = "queue " + queue_dir + " is in use by " +
               (holder > 0 ? "pid " + std::to_string(holder) : std::string("another process"));
    }
    return -1;
  }
  record_holder(fd);
  return fd;
}

void sleep_ms(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

constexpr int kRetryMs = 50;

}  // namespace

std::unique_ptr<QueueLock> QueueLock::acquire(const std::string& queue_dir, std::string* error, int wait_ms) {
  bool busy = false;
  for (int waited = 0;; waited += kRetryMs) {
    int fd = try_lock(queue_dir, error, &busy);
    if (fd >= 0) return std::make_unique<QueueLock>(Key{}, queue_dir, fd);
    if (!busy || waited >= wait_ms) return nullptr;
    sleep_ms(kRetryMs);
  }
}

QueueOwner QueueLock::owner(const std::string& queue_dir, std::unique_ptr<QueueLock>* lock, std::string* error,
                            int wait_ms) {
  for (int waited = 0;; waited += kRetryMs) {
    if (control_listening(queue_dir)) return QueueOwner::Relay;
    bool busy = false;
    int fd = try_lock(queue_dir, error, &busy);
    if (fd >= 0) {
      *lock = std::make_unique<QueueLock>(Key{}, queue_dir, fd);
      return QueueOwner::Locked;
    }
    // Busy: a relay starting (locked, not serving yet) or another tool's moment.
    if (!busy) return QueueOwner::Busy;
    if (waited >= wait_ms) {
      *error += ", and no relay answers on " + control_socket_path(queue_dir);
      return QueueOwner::Busy;
    }
    sleep_ms(kRetryMs);
  }
}

QueueLock::~QueueLock() {
  if (pid_written_) unlink(pid_file(dir_).c_str());
  close(fd_);
}

void QueueLock::write_pid_file() {
  std::ofstream f(pid_file(dir_), std::ios::trunc);
  f << getpid() << "\n";
  pid_written_ = true;
}

}  // namespace relay
