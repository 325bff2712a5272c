// login_guard.h - who is logged in to the admin console, and who may try (SPEC R-CONSOLE).
//
// Sessions: a random 256-bit token (the cookie) per login, each with its own CSRF token, good
// for kSessionSeconds. Failed logins: per client IP, kMaxFailures within kWindowSeconds block
// that IP for kBlockSeconds (429); accounts are never locked, so nobody can lock the admin out
// from elsewhere. Plain in-memory state on the event loop; nothing here fails (the tokens come
// from getrandom(2), which does not fail for 32 bytes once the kernel's pool is ready).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace relay {

class LoginGuard {
 public:
  static constexpr int kMaxFailures = 5;
  static constexpr int64_t kWindowSeconds = 300;
  static constexpr int64_t kBlockSeconds = 300;
  static constexpr int64_t kSessionSeconds = 12 * 3600;

  struct Session {
    std::string user;
    std::string csrf;
    int64_t expires = 0;
  };

  // Seconds `ip` must still wait; 0: it may try.
  int64_t blocked_for(const std::string& ip, int64_t now);
  // Counts a failure; true when it is the one that blocks `ip`.
  bool failed(const std::string& ip, int64_t now);

  // A new session for `user`; returns its token.
  std::string open(const std::string& user, int64_t now);
  // The session of `token`, or null (unknown or expired).
  const Session* find(const std::string& token, int64_t now);
  void close(const std::string& token) { sessions_.erase(token); }

 private:
  struct Failures {
    std::deque<int64_t> times;
    int64_t blocked_until = 0;
  };
  void sweep(int64_t now);

  std::map<std::string, Failures> failures_;
  std::map<std::string, Session> sessions_;
  int64_t last_sweep_ = 0;
};

// 64 hex digits from getrandom(2).
std::string random_token();

}  // namespace relay
