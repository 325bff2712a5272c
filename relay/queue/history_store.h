// history_store.h - the delivery history behind the admin console's tracking, overview and TLS
// views (SPEC R-CONSOLE): every HistoryEvent, kept `history_days` and within `history_max_mb`.
//
// Its own LMDB environment in QUEUE/history, not named databases in the queue's, because:
//  - its map size is its bound: history can never take the space the queue needs for mail
//    (a full history drops its oldest events; a full queue would refuse mail with 452);
//  - it is opened MDB_NOSYNC: its commits never fsync, so writing it costs the accept path
//    nothing; a power cut may lose the last seconds of history, never a message;
//  - its size is measured and pruned on its own (mdb_stat of two databases, not the queue's).
// Written by the queue's writer thread (QueueStore::run_after_commits), after the queue writes
// pending at that moment are committed and reported, so it never delays a 250.
//
// Databases: "ev" (8-byte big-endian key = time in µs, unique, time ordered → encoded event)
// and "ix" (DUPSORT "q:ID", "m:MESSAGE-ID", "s:sender", "r:recipient" → event keys; m/s/r only
// for accepted events, lower-cased, Message-ID without <>).
//
// How it fails: open() returns null with *error; a batch that cannot be written even after
// pruning is dropped and counted (dropped()), the relay goes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "relay/core/history_event.h"
#include "router/base/lmdb_handles.h"

namespace relay {

class HistoryStore {
 public:
  static std::unique_ptr<HistoryStore> open(const std::string& dir, uint32_t days, uint64_t max_mb,
                                            std::string* error);
  ~HistoryStore();

  // Who makes the writer call flush() soon (the queue's writer thread); tests leave it unset.
  void set_kick(std::function<void()> kick) { kick_ = std::move(kick); }

  // Loop thread: hands `e` over; nothing waits for the disk.
  void record(HistoryEvent e);
  // Writer thread: writes what record() gathered in one transaction (no fsync), dropping events
  // older than history_days and the oldest ones while the databases use more than their share.
  void flush(int64_t now_us);

  // Queue IDs whose messages match `q` (queue ID, Message-ID with or without <>, sender,
  // recipient), newest first, at most `limit`.
  std::vector<std::string> find(const std::string& q, size_t limit) const;
  // Every event of a message, oldest first.
  std::vector<HistoryEvent> events_of(const std::string& id) const;
  // Events since `since_us`, oldest first; `f` returns false to stop.
  void scan_since(int64_t since_us, const std::function<bool(const HistoryEvent&)>& f) const;

  uint64_t map_bytes() const { return map_bytes_; }
  uint64_t used_bytes() const;  // pages the two databases hold
  uint64_t file_bytes() const;  // data.mdb on disk
  uint64_t dropped() const { return dropped_; }
  size_t count() const;

 private:
  HistoryStore() = default;
  int write_batch(MDB_txn* txn, std::vector<HistoryEvent>& batch);
  int prune(MDB_txn* txn, int64_t now_us, double share);
  int drop_oldest(MDB_txn* txn, MDB_cursor* cur, bool* more);
  uint64_t used_pages(MDB_txn* txn) const;

  base::MdbEnvPtr env_;
  MDB_dbi ev_ = 0;
  MDB_dbi ix_ = 0;
  uint64_t map_bytes_ = 0;
  uint64_t page_size_ = 4096;
  int64_t keep_us_ = 0;
  uint64_t last_key_ = 0;  // writer thread only
  std::function<void()> kick_;
  mutable std::mutex mu_;
  std::vector<HistoryEvent> pending_;
  std::atomic<uint64_t> dropped_{0};
};

// The index key for a search text: "<ABC@x>" and "abc@x" are the same Message-ID.
std::string history_index_key(char kind, const std::string& text);

}  // namespace relay
