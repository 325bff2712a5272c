// privileges.cc - user lookup, queue hand-over, privilege drop, key mode check (see privileges.h).
#include "relay/privileges.h"

#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace relay {

namespace {

std::string errno_text() { return strerror(errno); }

// nftw() has no user pointer: the hand-over runs once, at start-up, on the main thread.
uid_t g_uid;
gid_t g_gid;
std::string g_failed;

int chown_one(const char* path, const struct stat*, int, FTW*) {
  if (lchown(path, g_uid, g_gid) != 0) {
    g_failed = std::string(path) + ": " + errno_text();
    return 1;
  }
  return 0;
}

}  // namespace

std::optional<RunUser> lookup_user(const std::string& user, std::string* error) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  int rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0 || !found) {
    *error = "user '" + user + "' does not exist" + (rc ? " (" + std::string(strerror(rc)) + ")" : "") +
             ": the relay runs as that user (started as root, it drops to it after binding its ports); "
             "create it (adduser --system --group " + user + ") or name another one with user = \"NAME\"";
    return std::nullopt;
  }
  return RunUser{user, found->pw_uid, found->pw_gid};
}

std::optional<RunUser> find_run_user(const std::string& user, std::string* error) {
  if (geteuid() != 0) return std::nullopt;
  return lookup_user(user, error);
}

bool hand_over_queue(const std::string& dir, const RunUser& u, std::string* error) {
  g_uid = u.uid;
  g_gid = u.gid;
  g_failed.clear();
  if (nftw(dir.c_str(), chown_one, 16, FTW_PHYS) != 0) {
    *error = "cannot give the queue to user " + u.name + ": " + (g_failed.empty() ? dir + ": " + errno_text() : g_failed);
    return false;
  }
  if (chmod(dir.c_str(), 0700) != 0) {
    *error = "cannot set mode 0700 on the queue folder " + dir + ": " + errno_text();
    return false;
  }
  return true;
}

bool drop_privileges(const RunUser& u, std::string* error) {
  if (initgroups(u.name.c_str(), u.gid) != 0) {
    *error = "initgroups(" + u.name + "): " + errno_text();
    return false;
  }
  if (setgid(u.gid) != 0) {
    *error = "setgid(" + std::to_string(u.gid) + "): " + errno_text();
    return false;
  }
  if (setuid(u.uid) != 0) {
    *error = "setuid(" + std::to_string(u.uid) + "): " + errno_text();
    return false;
  }
  if (u.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
    *error = "root privileges could be regained after dropping to " + u.name;
    return false;
  }
  return true;
}

bool check_private_key(const std::string& path, gid_t run_gid, std::string* error) {
  if (path.empty()) return true;
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) return true;  // the TLS loader says what is wrong
  mode_t others = st.st_mode & (S_IROTH | S_IWOTH);
  mode_t group = st.st_gid == run_gid ? 0 : st.st_mode & (S_IRGRP | S_IWGRP);
  if (others == 0 && group == 0) return true;
  char mode[8];
  snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  *error = "tls.key " + path + " has mode " + mode + ": a private key must not be readable by " +
           (others ? "other users" : "group " + std::to_string(st.st_gid)) +
           "; run chmod 0600 " + path + " (or 0640 with the relay's own group)";
  return false;
}

}  // namespace relay
