// sync_probe.cc - the interposed fdatasync/fsync of the unit-test binary (see sync_probe.h).
#include "tests/unit/sync_probe.h"

#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <map>
#include <mutex>

namespace {

std::mutex g_mu;
std::map<std::string, uint64_t> g_syncs;  // path -> syncs

void note(int fd) {
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  ++g_syncs[std::string(path, static_cast<size_t>(n))];
}

template <typename Fn>
Fn real(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" int fdatasync(int fd) {
  static auto next = real<int (*)(int)>("fdatasync");
  int rc = next(fd);
  if (rc == 0) note(fd);
  return rc;
}

extern "C" int fsync(int fd) {
  static auto next = real<int (*)(int)>("fsync");
  int rc = next(fd);
  if (rc == 0) note(fd);
  return rc;
}

namespace sync_probe {

uint64_t data_syncs(const std::string& dir) {
  char resolved[PATH_MAX];
  std::string want = (realpath(dir.c_str(), resolved) ? std::string(resolved) : dir) + "/data.mdb";
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_syncs.find(want);
  return it == g_syncs.end() ? 0 : it->second;
}

}  // namespace sync_probe
