// lmdb_handles.h - RAII owners for LMDB environments and transactions, and
// the opening of the small single-database environments beside the queue
// (MTA-STS policy cache, TLS-RPT counters).
#pragma once

#include <lmdb.h>

#include <memory>
#include <string>

namespace base {

struct MdbEnvClose {
  void operator()(MDB_env* e) const { mdb_env_close(e); }
};
using MdbEnvPtr = std::unique_ptr<MDB_env, MdbEnvClose>;

// A transaction that aborts unless commit() succeeded.
class MdbTxn {
 public:
  MdbTxn() = default;
  MdbTxn(const MdbTxn&) = delete;
  MdbTxn& operator=(const MdbTxn&) = delete;
  ~MdbTxn() { abort(); }

  int begin(MDB_env* env, unsigned flags) { return mdb_txn_begin(env, nullptr, flags, &txn_); }
  int commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;  // commit frees the handle even on failure
    return rc;
  }
  void abort() {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

struct MdbCursorClose {
  void operator()(MDB_cursor* c) const { mdb_cursor_close(c); }
};
using MdbCursorPtr = std::unique_ptr<MDB_cursor, MdbCursorClose>;

inline MDB_val mdb_val(const std::string& s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string mdb_str(const MDB_val& v) {
  return std::string(static_cast<const char*>(v.mv_data), v.mv_size);
}

// Creates `dir` (and its parent) mode 0700 and opens an LMDB environment in
// it with MDB_NOTLS | flags and its unnamed database in *dbi. Null, with
// *error naming `what` and the cause, when it cannot.
MdbEnvPtr open_lmdb_dir(const std::string& dir, size_t map_bytes, unsigned flags, MDB_dbi* dbi,
                        const std::string& what, std::string* error);

}  // namespace base
