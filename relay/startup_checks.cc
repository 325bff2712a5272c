// startup_checks.cc - the start-up checks of `run` and `check-config` (see startup_checks.h).
#include "relay/startup_checks.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/config_warnings.h"
#include "relay/message/dkim_signer.h"
#include "router/address_match.h"
#include "router/https/https_client.h"

namespace relay {

namespace {

std::string errno_text() { return strerror(errno); }

std::string parent_of(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// What creating `path` needs (run creates only the last component): a folder that exists and
// that we may write in. "" when that holds.
std::string creatable(const std::string& path, const std::string& what) {
  const std::string dir = parent_of(path);
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0) {
    return "cannot create the " + what + " " + path + ": " + dir + ": " + errno_text() +
           " (the relay creates only the last part of the path)";
  }
  if (!S_ISDIR(st.st_mode)) return "cannot create the " + what + " " + path + ": " + dir + " is not a folder";
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return "cannot create the " + what + " " + path + ": no write permission in " + dir + " (" + errno_text() + ")";
  }
  return "";
}

// What QueueStore::open needs: a folder we may write in, or one we may create.
std::string queue_folder_problem(const std::string& dir) {
  struct stat st{};
  if (stat(dir.c_str(), &st) != 0) {
    return errno == ENOENT ? creatable(dir, "queue folder") : "cannot use the queue folder " + dir + ": " + errno_text();
  }
  if (!S_ISDIR(st.st_mode)) return dir + " is not a folder";
  if (access(dir.c_str(), R_OK | W_OK | X_OK) != 0) return "cannot write in the queue folder " + dir + ": " + errno_text();
  return "";
}

// What log_open needs: a file we may append to, or one we may create.
std::string log_file_problem(const std::string& file) {
  struct stat st{};
  if (stat(file.c_str(), &st) != 0) {
    return errno == ENOENT ? creatable(file, "log file") : "cannot use the log file " + file + ": " + errno_text();
  }
  if (S_ISDIR(st.st_mode)) return "the log file " + file + " is a folder";
  if (access(file.c_str(), W_OK) != 0) return "cannot write to the log file " + file + ": " + errno_text();
  return "";
}

class Checks {
 public:
  Checks(std::shared_ptr<const config::Config> cfg, CheckStage stage) : cfg_(std::move(cfg)), stage_(stage) {}

  StartupCheck run() {
    if (stage_ == CheckStage::Start) {
      user();
      paths();
    }
    key();
    tls();
    dkim();
    idn_entries();
    for (auto& w : config::config_warnings(*cfg_)) out_.warnings.push_back(std::move(w));
    if (!out_.errors.empty()) out_.runtime.reset();
    return std::move(out_);
  }

 private:
  void error(const std::string& path, const std::string& msg) {
    out_.errors.push_back(cfg_->where(path) + ": " + path + ": " + msg);
  }
  void warning(const std::string& path, const std::string& msg) {
    out_.warnings.push_back(cfg_->where(path) + ": warning: " + path + ": " + msg);
  }

  // The loader checks the shape of address list entries; whether an internationalised domain is
  // one IDNA2008 allows (and an "xn--" label valid Punycode) only the router can say. An entry it
  // cannot use would never match: a list that silently covers less than it says.
  void idn_entries() {
    for (const auto& list : cfg_->address_lists) {
      for (size_t k = 0; k < list.entries.size(); ++k) {
        std::vector<std::string> bad;
        router::AddressMatcher one({list.entries[k]}, &bad);
        if (!bad.empty()) error("address_lists." + list.name + "[" + std::to_string(k) + "]", bad[0]);
      }
    }
  }

  // Started as root we drop to `user`; otherwise it is who the service runs us as. Either way
  // it must exist.
  void user() {
    std::string why;
    auto u = lookup_user(cfg_->user, &why);
    if (!u) return error("user", why);
    if (geteuid() != 0) return;
    if (u->uid == 0) return warning("user", "user = \"root\": the relay keeps root privileges");
    out_.run_user = u;
  }

  void paths() {
    std::string why = queue_folder_problem(cfg_->queue.path);
    if (!why.empty()) error("queue.path", why);
    else map_fits();
    const std::string& log = cfg_->log.file;
    if (!log.empty() && log != config::kLogToSyslog && !(why = log_file_problem(log)).empty()) error("log.file", why);
  }

  // queue.map_size_mb is the most the queue may hold. More than its file system can give (free
  // space plus what the queue file already takes) is a limit never reached: the disk fills first,
  // with the journal and everything else on it. On the appliance the data partition grows to the
  // disk at first boot, so this is said again there until the map fits.
  void map_fits() {
    const std::string& dir = cfg_->queue.path;
    struct stat st{};
    const std::string where = stat(dir.c_str(), &st) == 0 ? dir : parent_of(dir);
    struct statvfs fs{};
    if (statvfs(where.c_str(), &fs) != 0) return;
    uint64_t room = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (stat((dir + "/data.mdb").c_str(), &st) == 0) room += static_cast<uint64_t>(st.st_size);
    const uint64_t map = cfg_->queue.map_size_mb << 20;
    if (map <= room) return;
    warning("queue.map_size_mb", std::to_string(cfg_->queue.map_size_mb) + " MiB cannot fit: the file system of " +
                                     dir + " has room for " + std::to_string(room >> 20) +
                                     " MiB of queue; the disk fills before the queue reaches its limit (make "
                                     "map_size_mb smaller, or the disk larger)");
  }

  // The private key must be private. One the run user cannot read is loaded now, as root, but a
  // SIGHUP reload could not load it again: a warning.
  void key() {
    const auto& ru = out_.run_user;
    std::string why;
    if (!check_private_key(cfg_->tls.key, ru ? ru->gid : getegid(), &why)) return error("tls.key", why);
    struct stat st{};
    if (ru && !cfg_->tls.key.empty() && stat(cfg_->tls.key.c_str(), &st) == 0 && st.st_uid != ru->uid &&
        !(st.st_gid == ru->gid && (st.st_mode & S_IRGRP))) {
      warning("tls.key", "not readable by user " + ru->name + ": a SIGHUP reload cannot load it again (restart instead)");
    }
  }

  // The trust store once (MTA-STS fetches need it), then every TLS context of the Runtime; a
  // route that fails only because of that same trust store is not named again.
  void tls() {
    std::string ca_error;
    if (cfg_->mta_sts.enabled && !router::make_https_context(cfg_->tls.ca_file, &ca_error)) {
      error("tls.ca_file", "mta_sts: " + ca_error);
    }
    std::vector<RuntimeProblem> problems;
    out_.runtime = Runtime::build(cfg_, &problems);
    for (const auto& p : problems) {
      bool same = !ca_error.empty() && p.message.size() >= ca_error.size() &&
                  p.message.compare(p.message.size() - ca_error.size(), ca_error.size(), ca_error) == 0;
      if (!same) error(p.path, p.message);
    }
  }

  // Loaded only when a report is signed, so it is checked here, before it is needed.
  void dkim() {
    const auto& key = cfg_->tlsrpt.dkim.key;
    std::string why;
    if (!key.empty() && !DkimKey::load(key, &why)) error("tlsrpt.dkim.key", why);
  }

  std::shared_ptr<const config::Config> cfg_;
  CheckStage stage_;
  StartupCheck out_;
};

}  // namespace

StartupCheck check_startup(std::shared_ptr<const config::Config> cfg, CheckStage stage) {
  return Checks(std::move(cfg), stage).run();
}

}  // namespace relay
