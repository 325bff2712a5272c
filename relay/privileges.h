// privileges.h - running as an unprivileged user, and keeping secrets private.
//
// Started as root, `smarthost run` binds its listeners and opens the queue as root, hands the
// queue folder to the config's `user` (default "smarthost"), then drops to that user for good:
// setgroups() to the user's groups, setgid(), setuid(), and a check that root cannot be regained.
// Started as any other user it runs as is (the appliance's systemd unit starts it as smarthost
// with CAP_NET_BIND_SERVICE). `user = "root"` keeps root on purpose (logged as a warning).
//
// How it fails: every function returns false (or nullopt) with a one-line reason for the start-up
// error, e.g. "user 'smarthost' does not exist: create it (adduser --system smarthost) or set user
// in FILE". Nothing here exits or throws.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace relay {

struct RunUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The user named `user`, whoever we run as; nullopt with *error when there is none.
std::optional<RunUser> lookup_user(const std::string& user, std::string* error);

// The user to drop to: nullopt without error when we are not root (no drop); nullopt with *error
// when we are root and `user` does not exist.
std::optional<RunUser> find_run_user(const std::string& user, std::string* error);

// Gives the queue folder and every file directly in it to `u`, folder mode 0700. Root only.
bool hand_over_queue(const std::string& dir, const RunUser& u, std::string* error);

// setgroups/setgid/setuid to `u`; false when any step fails or root could be regained.
bool drop_privileges(const RunUser& u, std::string* error);

// A private key must not be readable or writable by others, nor by a group other than
// `run_gid` (the group the relay runs as: root:smarthost 0640 is fine, 0644 is not).
// A missing or unreadable file is left to the TLS loader's own error.
bool check_private_key(const std::string& path, gid_t run_gid, std::string* error);

}  // namespace relay
