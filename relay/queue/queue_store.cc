// queue_store.cc - LMDB queue with a group-commit writer thread (see queue_store.h).
#include "relay/queue/queue_store.h"

#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace relay {

namespace {

constexpr size_t kMaxBatch = 512;

StoreStatus from_rc(int rc) {
  switch (rc) {
    case 0: return StoreStatus::Ok;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT: return StoreStatus::Full;
    case MDB_KEYEXIST: return StoreStatus::Exists;
    case MDB_NOTFOUND: return StoreStatus::NotFound;
    default: return StoreStatus::Error;
  }
}

}  // namespace

const char* store_status_name(StoreStatus s) {
  switch (s) {
    case StoreStatus::Ok: return "ok";
    case StoreStatus::Full: return "queue full";
    case StoreStatus::Exists: return "id exists";
    case StoreStatus::NotFound: return "not found";
    case StoreStatus::Error: return "storage error";
  }
  return "?";
}

std::unique_ptr<QueueStore> QueueStore::open(const std::string& dir, uint64_t map_size_mb,
                                             std::string* error) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    *error = "cannot create queue folder " + dir + ": " + strerror(errno);
    return nullptr;
  }
  std::unique_ptr<QueueStore> q(new QueueStore());
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) {
    *error = std::string("mdb_env_create: ") + mdb_strerror(rc);
    return nullptr;
  }
  q->env_.reset(raw);
  mdb_env_set_maxdbs(raw, 4);
  mdb_env_set_mapsize(raw, static_cast<size_t>(map_size_mb) << 20);
  // NOTLS: transactions are not tied to threads (writer thread + loop reads).
  rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS, 0600);
  if (rc != 0) {
    *error = "cannot open queue " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  base::MdbTxn txn;
  if ((rc = txn.begin(raw, 0)) != 0 || (rc = mdb_dbi_open(txn.get(), "env", MDB_CREATE, &q->env_db_)) != 0 ||
      (rc = mdb_dbi_open(txn.get(), "body", MDB_CREATE, &q->body_db_)) != 0 || (rc = txn.commit()) != 0) {
    *error = "cannot open queue databases in " + dir + ": " + mdb_strerror(rc);
    return nullptr;
  }
  return q;
}

QueueStore::~QueueStore() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    writer_.join();
  }
  wake_event_.reset();
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool QueueStore::attach(event_base* base, std::string* error) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    *error = std::string("eventfd: ") + strerror(errno);
    return false;
  }
  wake_event_.reset(event_new(base, wake_fd_, EV_READ | EV_PERSIST, &QueueStore::on_completed, this));
  event_add(wake_event_.get(), nullptr);
  writer_ = std::thread([this] { writer_main(); });
  return true;
}

void QueueStore::enqueue(Apply apply, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(Op{std::move(apply), std::move(done)});
  }
  cv_.notify_one();
}

int QueueStore::put_message_txn(MDB_txn* txn, const Envelope& env, const std::string& body) {
  std::string enc = encode_envelope(env);
  MDB_val k = base::mdb_val(env.id), v = base::mdb_val(enc);
  int rc = mdb_put(txn, env_db_, &k, &v, MDB_NOOVERWRITE);
  if (rc != 0) return rc;
  MDB_val b = base::mdb_val(body);
  return mdb_put(txn, body_db_, &k, &b, 0);
}

int QueueStore::update_envelope_txn(MDB_txn* txn, const Envelope& env) {
  std::string enc = encode_envelope(env);
  MDB_val k = base::mdb_val(env.id), v = base::mdb_val(enc), old;
  int rc = mdb_get(txn, env_db_, &k, &old);  // never resurrect a deleted message
  return rc != 0 ? rc : mdb_put(txn, env_db_, &k, &v, 0);
}

int QueueStore::remove_txn(MDB_txn* txn, const std::string& id) {
  MDB_val k = base::mdb_val(id);
  int rc = mdb_del(txn, env_db_, &k, nullptr);
  if (rc != 0) return rc;
  rc = mdb_del(txn, body_db_, &k, nullptr);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

void QueueStore::put_message_async(Envelope env, std::string body, Done done) {
  auto e = std::make_shared<Envelope>(std::move(env));
  auto b = std::make_shared<std::string>(std::move(body));
  enqueue([this, e, b](MDB_txn* txn) { return put_message_txn(txn, *e, *b); }, std::move(done));
}

void QueueStore::update_envelope_async(Envelope env, Done done) {
  auto e = std::make_shared<Envelope>(std::move(env));
  enqueue([this, e](MDB_txn* txn) { return update_envelope_txn(txn, *e); }, std::move(done));
}

void QueueStore::remove_async(std::string id, Done done) {
  enqueue([this, id](MDB_txn* txn) { return remove_txn(txn, id); }, std::move(done));
}

void QueueStore::run_after_commits(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    later_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void QueueStore::writer_main() {
  for (;;) {
    std::vector<Op> batch;
    std::vector<std::function<void()>> later;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty() || !later_.empty(); });
      later.swap(later_);
      if (pending_.empty() && later.empty()) return;  // stopping, and nothing left to write
      if (pending_.size() <= kMaxBatch) {
        batch.swap(pending_);
      } else {
        batch.assign(std::make_move_iterator(pending_.begin()),
                     std::make_move_iterator(pending_.begin() + kMaxBatch));
        pending_.erase(pending_.begin(), pending_.begin() + kMaxBatch);
      }
    }
    if (!batch.empty()) {
      commit_batch(batch);
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& op : batch) completed_.push_back(std::move(op));
      }
      uint64_t one = 1;
      ssize_t n = write(wake_fd_, &one, sizeof one);
      (void)n;  // the eventfd counter cannot overflow at our rates
    }
    for (auto& job : later) job();  // after the loop has its completions: no 250 waits on these
  }
}

void QueueStore::commit_batch(std::vector<Op>& batch) {
  base::MdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  bool retry_alone = false;
  for (auto& op : batch) {
    if (rc != 0) break;
    int r = op.apply(txn.get());
    if (r == MDB_MAP_FULL || (r != 0 && r != MDB_KEYEXIST && r != MDB_NOTFOUND)) {
      // The transaction is now unusable; redo each op alone so that one large
      // message does not fail the small ones that share its batch.
      retry_alone = true;
      break;
    }
    op.status = from_rc(r);
  }
  if (!retry_alone && rc == 0) {
    rc = txn.commit();
    commits_.fetch_add(1);
    if (rc == 0) return;
  }
  txn.abort();
  if (!retry_alone) {
    for (auto& op : batch) op.status = from_rc(rc);
    return;
  }
  for (auto& op : batch) op.status = run_sync(op.apply);
}

void QueueStore::on_completed(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<QueueStore*>(arg);
  uint64_t count;
  ssize_t n = read(fd, &count, sizeof count);
  (void)n;
  std::vector<Op> done;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    done.swap(self->completed_);
  }
  for (auto& op : done) {
    if (op.done) op.done(op.status);
  }
}

StoreStatus QueueStore::run_sync(const Apply& apply) {
  base::MdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  if (rc == 0) rc = apply(txn.get());
  if (rc == 0) {
    rc = txn.commit();
    commits_.fetch_add(1);
  }
  return from_rc(rc);
}

StoreStatus QueueStore::put_message(const Envelope& env, const std::string& body) {
  return run_sync([&](MDB_txn* txn) { return put_message_txn(txn, env, body); });
}

StoreStatus QueueStore::update_envelope(const Envelope& env) {
  return run_sync([&](MDB_txn* txn) { return update_envelope_txn(txn, env); });
}

StoreStatus QueueStore::remove(const std::string& id) {
  return run_sync([&](MDB_txn* txn) { return remove_txn(txn, id); });
}

StoreStatus QueueStore::get_envelope(const std::string& id, Envelope* env) {
  base::MdbTxn txn;
  int rc = txn.begin(env_.get(), MDB_RDONLY);
  MDB_val k = base::mdb_val(id), v;
  if (rc == 0) rc = mdb_get(txn.get(), env_db_, &k, &v);
  if (rc != 0) return from_rc(rc);
  return decode_envelope(base::mdb_str(v), env) ? StoreStatus::Ok : StoreStatus::Error;
}

StoreStatus QueueStore::get_body(const std::string& id, std::string* body) {
  base::MdbTxn txn;
  int rc = txn.begin(env_.get(), MDB_RDONLY);
  MDB_val k = base::mdb_val(id), v;
  if (rc == 0) rc = mdb_get(txn.get(), body_db_, &k, &v);
  if (rc != 0) return from_rc(rc);
  *body = base::mdb_str(v);
  return StoreStatus::Ok;
}

std::vector<Envelope> QueueStore::list(size_t* corrupt) {
  std::vector<Envelope> out;
  size_t bad = 0;
  base::MdbTxn txn;
  if (txn.begin(env_.get(), MDB_RDONLY) == 0) {
    MDB_cursor* raw = nullptr;
    if (mdb_cursor_open(txn.get(), env_db_, &raw) == 0) {
      base::MdbCursorPtr cur(raw);
      MDB_val k, v;
      for (int rc = mdb_cursor_get(raw, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT)) {
        Envelope e;
        if (decode_envelope(base::mdb_str(v), &e)) {
          out.push_back(std::move(e));
        } else {
          ++bad;
        }
      }
    }
  }
  if (corrupt) *corrupt = bad;
  return out;
}

}  // namespace relay
