// queue_backup.h - a consistent copy of the queue while the relay runs, and putting one back.
//
// backup_queue copies the queue's LMDB (QUEUE/data.mdb) as mdb_copy -c does: mdb_env_copyfd2 with
// MDB_CP_COMPACT inside one read transaction, so the copy is one committed state of the queue
// (every message answered with 250 before the copy began is in it) and the relay keeps writing
// meanwhile. The copy goes to FILE.tmp, is synced, then renamed: FILE is complete or absent.
//
// restore_queue puts such a file back as QUEUE/data.mdb. It refuses (nothing changed) when the file
// is not a complete smarthost queue (verify_queue_file: an LMDB file as long as its last page says,
// with the "env" and "body" databases and every envelope readable), when a relay holds the queue
// lock QUEUE/smarthost.lock, or when the queue still holds messages (restore adds nothing to a live
// queue: it replaces it, so it only goes into an empty one). The new file takes the queue folder's
// owner (the relay's user) and is synced and renamed into place.
//
// Failures are values: false with *error saying what and why, one line.
#pragma once

#include <cstdint>
#include <string>

namespace relay {

struct QueueFileInfo {
  uint64_t messages = 0;
  uint64_t bytes = 0;  // the file's length
};

// FILE "-": standard output (then nothing else may be written there).
bool backup_queue(const std::string& queue_dir, uint64_t map_size_mb, const std::string& file,
                  QueueFileInfo* info, std::string* error);

// Is `file` a complete smarthost queue? Fills *info.
bool verify_queue_file(const std::string& file, QueueFileInfo* info, std::string* error);

// FILE "-": standard input (read into the queue folder first, then verified).
bool restore_queue(const std::string& queue_dir, uint64_t map_size_mb, const std::string& file,
                   QueueFileInfo* info, std::string* error);

}  // namespace relay
