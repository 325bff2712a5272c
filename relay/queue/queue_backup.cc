// queue_backup.cc - queue backup and restore (see queue_backup.h).
#include "relay/queue/queue_backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "router/base/lmdb_handles.h"
#include "router/base/unique_fd.h"
#include "relay/queue/queue_control.h"
#include "relay/queue/queue_record.h"
#include "relay/queue/queue_store.h"

namespace relay {

namespace {

std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string lmdb_error(const std::string& what, int rc) { return what + ": " + mdb_strerror(rc); }

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Syncs the folder holding `path` so that a rename into it survives a power cut.
bool sync_parent(const std::string& path, std::string* error) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  base::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || fsync(fd.get()) != 0) {
    *error = sys_error("cannot sync " + dir);
    return false;
  }
  return true;
}

// A new file for the copy, mode 0600 (it holds mail); an old leftover of ours is replaced.
base::UniqueFd create_tmp(const std::string& tmp, std::string* error) {
  ::unlink(tmp.c_str());
  base::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) *error = sys_error("cannot create " + tmp);
  return fd;
}

// Syncs and closes the copy and renames it over `file`; removes it on failure.
bool finish_tmp(base::UniqueFd fd, const std::string& tmp, const std::string& file, std::string* error) {
  bool ok = fsync(fd.get()) == 0;
  if (!ok) *error = sys_error("cannot sync " + tmp);
  fd.reset();
  if (ok && ::rename(tmp.c_str(), file.c_str()) != 0) {
    *error = sys_error("cannot rename " + tmp + " to " + file);
    ok = false;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  return sync_parent(file, error);
}

// The queue's environment, read-only: a backup never creates or changes anything in the queue.
base::MdbEnvPtr open_queue_readonly(const std::string& queue_dir, uint64_t map_size_mb, std::string* error) {
  struct stat st;
  std::string data = queue_dir + "/data.mdb";
  if (::stat(data.c_str(), &st) != 0) {
    *error = sys_error("no queue in " + queue_dir + " (" + data + ")");
    return nullptr;
  }
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) {
    *error = lmdb_error("mdb_env_create", rc);
    return nullptr;
  }
  base::MdbEnvPtr env(raw);
  mdb_env_set_maxdbs(raw, 4);
  mdb_env_set_mapsize(raw, static_cast<size_t>(map_size_mb) << 20);
  if ((rc = mdb_env_open(raw, queue_dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0600)) != 0) {
    *error = lmdb_error("cannot open queue " + queue_dir, rc);
    return nullptr;
  }
  return env;
}

// Counts the envelopes of an open queue file; every one must decode and have its body.
bool count_messages(MDB_env* env, uint64_t* messages, std::string* error) {
  base::MdbTxn txn;
  MDB_dbi env_db = 0, body_db = 0;
  int rc = txn.begin(env, MDB_RDONLY);
  if (rc == 0 && (rc = mdb_dbi_open(txn.get(), "env", 0, &env_db)) == 0) rc = mdb_dbi_open(txn.get(), "body", 0, &body_db);
  if (rc != 0) {
    *error = rc == MDB_NOTFOUND ? "an LMDB file, but not a smarthost queue (no \"env\" and \"body\" databases)"
                                : lmdb_error("cannot read the queue databases", rc);
    return false;
  }
  MDB_cursor* raw = nullptr;
  if ((rc = mdb_cursor_open(txn.get(), env_db, &raw)) != 0) {
    *error = lmdb_error("cannot read the envelopes", rc);
    return false;
  }
  base::MdbCursorPtr cursor(raw);
  MDB_val key, val, body;
  *messages = 0;
  for (rc = mdb_cursor_get(raw, &key, &val, MDB_FIRST); rc == 0; rc = mdb_cursor_get(raw, &key, &val, MDB_NEXT)) {
    Envelope e;
    std::string id = base::mdb_str(key);
    if (!decode_envelope(base::mdb_str(val), &e)) {
      *error = "message " + id + ": its envelope cannot be read";
      return false;
    }
    if (mdb_get(txn.get(), body_db, &key, &body) != 0) {
      *error = "message " + id + ": no body";
      return false;
    }
    ++*messages;
  }
  if (rc != MDB_NOTFOUND) {
    *error = lmdb_error("cannot read the envelopes", rc);
    return false;
  }
  return true;
}

// Copies standard input into `fd`.
bool copy_stdin(int fd, const std::string& tmp, std::string* error) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = sys_error("cannot read standard input");
      return false;
    }
    if (n == 0) return true;
    if (!write_all(fd, buf, static_cast<size_t>(n))) {
      *error = sys_error("cannot write " + tmp);
      return false;
    }
  }
}

// Copies `file` (or standard input for "-") to `tmp`.
bool copy_in(const std::string& file, int out, const std::string& tmp, std::string* error) {
  if (file == "-") return copy_stdin(out, tmp, error);
  base::UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    *error = sys_error("cannot open " + file);
    return false;
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = sys_error("cannot read " + file);
      return false;
    }
    if (n == 0) return true;
    if (!write_all(out, buf, static_cast<size_t>(n))) {
      *error = sys_error("cannot write " + tmp);
      return false;
    }
  }
}

// Refuses a queue that still holds messages: restore replaces the queue, it does not merge.
bool queue_is_empty(const std::string& queue_dir, uint64_t map_size_mb, std::string* error) {
  struct stat st;
  if (::stat((queue_dir + "/data.mdb").c_str(), &st) != 0) return true;
  auto store = QueueStore::open(queue_dir, map_size_mb, error);
  if (!store) return false;
  size_t n = store->list().size();
  if (n == 0) return true;
  *error = "queue " + queue_dir + " holds " + std::to_string(n) +
           " message(s): restore only into an empty queue (deliver, back up or move them away first)";
  return false;
}

}  // namespace

bool backup_queue(const std::string& queue_dir, uint64_t map_size_mb, const std::string& file,
                  QueueFileInfo* info, std::string* error) {
  auto env = open_queue_readonly(queue_dir, map_size_mb, error);
  if (!env) return false;
  if (file == "-") {
    int rc = mdb_env_copyfd2(env.get(), 1, MDB_CP_COMPACT);
    if (rc != 0) *error = lmdb_error("cannot copy the queue to standard output", rc);
    return rc == 0;
  }
  std::string tmp = file + ".tmp";
  base::UniqueFd fd = create_tmp(tmp, error);
  if (!fd) return false;
  int rc = mdb_env_copyfd2(env.get(), fd.get(), MDB_CP_COMPACT);
  if (rc != 0) {
    *error = lmdb_error("cannot copy the queue to " + tmp, rc);
    ::unlink(tmp.c_str());
    return false;
  }
  if (!finish_tmp(std::move(fd), tmp, file, error)) return false;
  // Read back what was written: a backup that cannot be restored is an error now, not later.
  return verify_queue_file(file, info, error);
}

bool verify_queue_file(const std::string& file, QueueFileInfo* info, std::string* error) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) {
    *error = sys_error("cannot read " + file);
    return false;
  }
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) {
    *error = lmdb_error("mdb_env_create", rc);
    return false;
  }
  base::MdbEnvPtr env(raw);
  mdb_env_set_maxdbs(raw, 4);
  // NOLOCK: no FILE-lock beside a backup; nothing else opens it.
  if ((rc = mdb_env_open(raw, file.c_str(), MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS, 0600)) != 0) {
    *error = file + ": not an LMDB queue file (" + mdb_strerror(rc) + ")";
    return false;
  }
  // A cut-off copy still opens (its meta pages are at the start) but reading past the end of the
  // map would crash: its length must reach the last page the meta page names.
  MDB_envinfo ei;
  MDB_stat ms;
  mdb_env_info(raw, &ei);
  mdb_env_stat(raw, &ms);
  uint64_t need = (static_cast<uint64_t>(ei.me_last_pgno) + 1) * ms.ms_psize;
  if (static_cast<uint64_t>(st.st_size) < need) {
    *error = file + ": truncated (" + std::to_string(st.st_size) + " bytes, the queue in it needs " +
             std::to_string(need) + ")";
    return false;
  }
  info->bytes = static_cast<uint64_t>(st.st_size);
  if (!count_messages(raw, &info->messages, error)) {
    *error = file + ": " + *error;
    return false;
  }
  return true;
}

bool restore_queue(const std::string& queue_dir, uint64_t map_size_mb, const std::string& file,
                   QueueFileInfo* info, std::string* error) {
  // The lock first: it is what keeps a relay from starting on the queue while it is replaced.
  auto lock = QueueLock::acquire(queue_dir, error, 2000);
  if (!lock) {
    *error += ": stop the relay before a restore (systemctl stop smarthost)";
    return false;
  }
  if (!queue_is_empty(queue_dir, map_size_mb, error)) return false;
  std::string data = queue_dir + "/data.mdb";
  std::string tmp = data + ".restore";
  base::UniqueFd fd = create_tmp(tmp, error);
  if (!fd) return false;
  const std::string shown = file == "-" ? "standard input" : file;
  bool ok = copy_in(file, fd.get(), tmp, error) && verify_queue_file(tmp, info, error);
  if (!ok) {
    if (error->compare(0, tmp.size(), tmp) == 0) *error = shown + error->substr(tmp.size());
    ::unlink(tmp.c_str());
    return false;
  }
  // The relay's user (the queue folder's owner) must own the queue; a root-run restore hands it over.
  struct stat dir_st;
  if (::stat(queue_dir.c_str(), &dir_st) == 0 && geteuid() == 0 &&
      fchown(fd.get(), dir_st.st_uid, dir_st.st_gid) != 0) {
    *error = sys_error("cannot give " + tmp + " to the queue's owner");
    ::unlink(tmp.c_str());
    return false;
  }
  return finish_tmp(std::move(fd), tmp, data, error);
}

}  // namespace relay
