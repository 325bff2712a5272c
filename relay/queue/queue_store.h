// queue_store.h - the durable message queue in LMDB.
//
// Two databases: "env" (id → encoded Envelope) and "body" (id → message).
// The daemon writes through a writer thread that gathers every pending
// write into one transaction (group commit: one fsync for many messages) and
// reports back on the event loop, so the loop never waits on the disk. The
// command-line tools use the synchronous calls; LMDB's own locking makes both
// safe on one queue at once. Failures are Status values: Full when the map or
// the disk is full (the transaction is aborted: nothing half-written).
#pragma once

#include <event2/event.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "router/base/event_handles.h"
#include "router/base/lmdb_handles.h"
#include "relay/queue/queue_record.h"

namespace relay {

using base::mdb_str;
using base::mdb_val;
using base::MdbCursorPtr;
using base::MdbEnvPtr;
using base::MdbTxn;

enum class StoreStatus { Ok, Full, Exists, NotFound, Error };
const char* store_status_name(StoreStatus s);

using base::EventPtr;

class QueueStore {
 public:
  using Done = std::function<void(StoreStatus)>;

  // Opens (creating mode 0700 if needed) the queue folder. nullptr and
  // *error set when it cannot.
  static std::unique_ptr<QueueStore> open(const std::string& dir, uint64_t map_size_mb,
                                          std::string* error);
  ~QueueStore();

  // Starts the writer thread; completions then run on `base`.
  bool attach(event_base* base, std::string* error);
  // No completion callback runs on the loop after this (shutdown: their
  // owners are gone); writes already queued are still committed.
  void detach() { wake_event_.reset(); }

  void put_message_async(Envelope env, std::string body, Done done);
  void update_envelope_async(Envelope env, Done done);
  void remove_async(std::string id, Done done);

  // A low-priority job for the writer thread (the delivery history, history_store.h): it runs
  // after the queue writes pending now are committed and reported to the loop, so it never
  // delays a 250. Without attach() it never runs.
  void run_after_commits(std::function<void()> job);

  StoreStatus put_message(const Envelope& env, const std::string& body);
  StoreStatus update_envelope(const Envelope& env);
  StoreStatus remove(const std::string& id);
  StoreStatus get_envelope(const std::string& id, Envelope* env);
  StoreStatus get_body(const std::string& id, std::string* body);
  // Every envelope, oldest id first. Corrupt records are skipped and counted.
  std::vector<Envelope> list(size_t* corrupt = nullptr);

  // For tests and the benchmark: transactions committed by the writer.
  uint64_t commits() const { return commits_; }

 private:
  using Apply = std::function<int(MDB_txn*)>;
  struct Op {
    Apply apply;
    Done done;
    StoreStatus status = StoreStatus::Ok;
  };

  QueueStore() = default;
  StoreStatus run_sync(const Apply& apply);
  void enqueue(Apply apply, Done done);
  void writer_main();
  void commit_batch(std::vector<Op>& batch);
  static void on_completed(evutil_socket_t fd, short, void* self);

  int put_message_txn(MDB_txn* txn, const Envelope& env, const std::string& body);
  int update_envelope_txn(MDB_txn* txn, const Envelope& env);
  int remove_txn(MDB_txn* txn, const std::string& id);

  base::MdbEnvPtr env_;
  MDB_dbi env_db_ = 0;
  MDB_dbi body_db_ = 0;

  int wake_fd_ = -1;   // eventfd: writer → loop
  base::EventPtr wake_event_;
  std::thread writer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<Op> pending_;
  std::vector<Op> completed_;
  std::vector<std::function<void()>> later_;
  std::atomic<uint64_t> commits_{0};  // writer thread and CLI callers
};

}  // namespace relay
