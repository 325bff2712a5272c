// login_guard.cc - console sessions and the failed-login limit (see login_guard.h).
#include "relay/console/login_guard.h"

#include <sys/random.h>

namespace relay {

std::string random_token() {
  unsigned char b[32];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

int64_t LoginGuard::blocked_for(const std::string& ip, int64_t now) {
  sweep(now);
  auto it = failures_.find(ip);
  if (it == failures_.end() || it->second.blocked_until <= now) return 0;
  return it->second.blocked_until - now;
}

bool LoginGuard::failed(const std::string& ip, int64_t now) {
  auto& f = failures_[ip];
  while (!f.times.empty() && f.times.front() <= now - kWindowSeconds) f.times.pop_front();
  f.times.push_back(now);
  if (static_cast<int>(f.times.size()) < kMaxFailures || f.blocked_until > now) return false;
  f.blocked_until = now + kBlockSeconds;
  f.times.clear();
  return true;
}

std::string LoginGuard::open(const std::string& user, int64_t now) {
  sweep(now);
  std::string token = random_token();
  sessions_[token] = Session{user, random_token(), now + kSessionSeconds};
  return token;
}

const LoginGuard::Session* LoginGuard::find(const std::string& token, int64_t now) {
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return nullptr;
  if (it->second.expires <= now) {
    sessions_.erase(it);
    return nullptr;
  }
  return &it->second;
}

// Forgets what is over, at most once a minute: the maps cannot grow without bound.
void LoginGuard::sweep(int64_t now) {
  if (now - last_sweep_ < 60) return;
  last_sweep_ = now;
  for (auto it = failures_.begin(); it != failures_.end();) {
    auto& f = it->second;
    bool live = f.blocked_until > now || (!f.times.empty() && f.times.back() > now - kWindowSeconds);
    it = live ? std::next(it) : failures_.erase(it);
  }
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace relay
