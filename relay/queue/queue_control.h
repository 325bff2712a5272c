// queue_control.h - who owns a queue folder, and how the queue tools reach the relay that does.
//
// One relay per queue: `smarthost run` holds an exclusive flock(2) on QUEUE/smarthost.lock for
// its whole life (QueueLock), taken before it writes anything into the queue. A second relay on
// the same queue.path gets "queue PATH is in use by pid N" and must exit; the lock goes with the
// process, so a relay killed with SIGKILL leaves nothing stale behind. The lock file is never
// removed (removing it would let two relays lock two different files of one name).
//
// The relay writes its PID into QUEUE/smarthost.pid once it runs, and only the lock's holder
// writes or removes that file. SIGUSR1 still makes a running relay rescan the queue (`kill -USR1
// $(cat QUEUE/smarthost.pid)`); the tools use the control socket instead.
//
// One writer per message: a tool never changes a message under a running relay (whose in-memory
// copy is authoritative). It asks the relay over its control socket (control_socket.h); when no
// relay answers, the tool takes this lock for the moment of its change, so that no relay starts
// in between (queue_owner below). New messages a tool queues itself (a DSN, a TLS report) are
// fresh ids no one else has: LMDB's own locking makes that write safe beside a running relay.
#pragma once

#include <memory>
#include <string>

namespace relay {

std::string pid_file(const std::string& queue_dir);

class QueueLock;

// Who may change the queue for a tool, found within wait_ms: Relay (its control socket answers),
// Locked (no relay: *lock holds the queue for the caller), or Busy (*error says who holds it).
enum class QueueOwner { Relay, Locked, Busy };

class QueueLock {
  struct Key {  // only acquire() makes a QueueLock
    explicit Key() = default;
  };

 public:
  // Locks queue_dir (created with mode 0700 when missing; its parent must exist). nullptr with
  // *error when another process holds it ("queue PATH is in use by pid N") or the lock file
  // cannot be opened or locked. wait_ms: how long to keep trying while another holds it (a queue
  // tool acting on a stopped relay's queue holds it for a moment).
  static std::unique_ptr<QueueLock> acquire(const std::string& queue_dir, std::string* error, int wait_ms = 0);
  // Removes the PID file if this lock wrote it, then releases the lock.
  ~QueueLock();
  QueueLock(const QueueLock&) = delete;
  QueueLock& operator=(const QueueLock&) = delete;

  // Writes our PID into QUEUE/smarthost.pid (for the queue tools).
  void write_pid_file();

  QueueLock(Key, std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}

  // A queue tool's question: is a relay serving this queue, or may I take it for a moment?
  static QueueOwner owner(const std::string& queue_dir, std::unique_ptr<QueueLock>* lock, std::string* error,
                          int wait_ms = 5000);

 private:

  std::string dir_;
  int fd_;  // open for our whole life: the flock lives on it (kept across the privilege drop)
  bool pid_written_ = false;
};

}  // namespace relay
