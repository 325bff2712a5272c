// lmdb_handles.cc - opening a small LMDB environment in its own folder.
#include "router/base/lmdb_handles.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace base {

MdbEnvPtr open_lmdb_dir(const std::string& dir, size_t map_bytes, unsigned flags, MDB_dbi* dbi,
                        const std::string& what, std::string* error) {
  // The queue folder may not exist yet when a command runs before the first `run`.
  std::string parent = dir.substr(0, dir.find_last_of('/'));
  if (!parent.empty() && parent != dir) mkdir(parent.c_str(), 0700);
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create " + dir + ": " + strerror(errno);
    return nullptr;
  }
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) {
    *error = std::string("mdb_env_create: ") + mdb_strerror(rc);
    return nullptr;
  }
  MdbEnvPtr env(raw);
  mdb_env_set_mapsize(raw, map_bytes);
  rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | flags, 0600);
  MdbTxn txn;
  if (rc == 0 && (rc = txn.begin(raw, 0)) == 0 && (rc = mdb_dbi_open(txn.get(), nullptr, 0, dbi)) == 0) {
    rc = txn.commit();
  }
  if (rc != 0) {
    *error = "cannot open " + what + " " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  return env;
}

}  // namespace base
