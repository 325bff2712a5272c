// sync_probe.h - counts the fdatasync(2)/fsync(2) calls this process makes on LMDB data files.
//
// The unit-test binary defines fdatasync and fsync itself (sync_probe.cc); the dynamic linker
// binds liblmdb's calls to them (symbol interposition), and they pass on to libc's. A queue
// opened with MDB_NOSYNC would make no such call: that is what the durability tests look for.
#pragma once

#include <cstdint>
#include <string>

namespace sync_probe {

// Syncs so far of a file named data.mdb inside `dir` (any thread).
uint64_t data_syncs(const std::string& dir);

}  // namespace sync_probe
