// log.cc - the event log (see log.h).
//
// How it fails: a line that cannot be written (disk full, syslog daemon gone) is dropped, never
// retried on the loop; a log file that cannot be reopened keeps the old descriptor.
#include "relay/core/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/time.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "relay/core/json_dump.h"
#include "router/base/unique_fd.h"
#include "router/base/utf8_text.h"

namespace relay {

namespace {

enum class Target { Stderr, File, Syslog };

std::mutex g_mu;
LogStyle g_style = LogStyle::Kv;
Target g_target = Target::Stderr;
std::string g_path;      // of Target::File
base::UniqueFd g_file;   // of Target::File
std::atomic<bool> g_debug{false};

std::string timestamp() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<int>(tv.tv_usec / 1000));
  return buf;
}

// A kv value in quotes: printable UTF-8 stays readable ("jörg@bücher.example"); control
// characters, bidi overrides and bytes that are not UTF-8 become escapes (base::printable_utf8),
// so a client's or a peer's text can never break a log line or fake one.
void escaped(std::string& out, const std::string& v) {
  for (char c : base::printable_utf8(v)) {
    if (c == '"') out += '\\';
    out += c;
  }
}

void kv_value(std::string& out, const std::string& v) {
  bool plain = !v.empty();
  for (unsigned char c : v) {
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c == 0x7f) plain = false;
  }
  if (plain && base::printable_utf8(v) == v) {
    out += v;
    return;
  }
  out += '"';
  escaped(out, v);
  out += '"';
}

nlohmann::ordered_json json_value(const LogValue& v) {
  switch (v.kind()) {
    case LogValue::Kind::Text: return v.text();
    case LogValue::Kind::Signed: return v.as_signed();
    case LogValue::Kind::Unsigned: return v.as_unsigned();
    case LogValue::Kind::Bool: return v.as_unsigned() != 0;
  }
  return nullptr;
}

// "event=... k=v ..." without the time and process prefix (syslog adds its own).
std::string kv_body(const char* event, std::initializer_list<LogField> fields) {
  std::string line = std::string("event=") + event;
  for (const auto& f : fields) {
    line += ' ';
    line += f.first;
    line += '=';
    kv_value(line, f.second.text());
  }
  return line;
}

std::string json_line(const char* event, std::initializer_list<LogField> fields) {
  nlohmann::ordered_json doc = {{"ts", timestamp()}, {"event", event}};
  for (const auto& f : fields) doc[f.first] = json_value(f.second);
  return json_dump(doc);
}

// Warnings and failures get their syslog severity, so that `journalctl -p warning` finds them.
int syslog_priority(const char* event) {
  static const char* const errors[] = {"error", "reload-failed", "accept-failed"};
  for (const char* e : errors) {
    if (strcmp(event, e) == 0) return LOG_ERR;
  }
  if (strcmp(event, "warning") == 0) return LOG_WARNING;
  return LOG_INFO;
}

// Opens `path` for appending; the descriptor is not inherited by children.
base::UniqueFd open_append(const std::string& path, std::string* error) {
  base::UniqueFd fd(open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  if (!fd) *error = "cannot open log file " + path + ": " + strerror(errno);
  return fd;
}

void write_all(int fd, const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to say so: the log is what failed
    done += static_cast<size_t>(n);
  }
}

char base36(uint32_t v) { return "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36]; }

// Six base-36 characters drawn once per process (31 random bits).
const std::string& run_tag() {
  static const std::string tag = [] {
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
      r = static_cast<uint32_t>(time(nullptr)) ^ (static_cast<uint32_t>(getpid()) << 16);
    }
    std::string t;
    for (int i = 0; i < 6; ++i, r /= 36) t += base36(r);
    return t;
  }();
  return tag;
}

}  // namespace

std::string LogValue::text() const {
  switch (kind_) {
    case Kind::Text: return text_;
    case Kind::Signed: return std::to_string(s_);
    case Kind::Unsigned: return std::to_string(u_);
    case Kind::Bool: return u_ ? "true" : "false";
  }
  return text_;
}

std::string log_format(LogStyle style, const char* event, std::initializer_list<LogField> fields) {
  if (style == LogStyle::Json) return json_line(event, fields) + "\n";
  return timestamp() + " smarthost[" + std::to_string(getpid()) + "]: " + kv_body(event, fields) + "\n";
}

bool log_open(LogStyle style, const std::string& path, std::string* error) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (path == config::kLogToSyslog) {
    if (g_target != Target::Syslog) openlog("smarthost", LOG_PID | LOG_NDELAY, LOG_MAIL);
    g_target = Target::Syslog;
    g_file.reset();
    g_path.clear();
  } else if (path.empty()) {
    if (g_target == Target::Syslog) closelog();
    g_target = Target::Stderr;
    g_file.reset();
    g_path.clear();
  } else {
    base::UniqueFd fd = open_append(path, error);
    if (!fd) return false;
    if (g_target == Target::Syslog) closelog();
    g_target = Target::File;
    g_file = std::move(fd);
    g_path = path;
  }
  g_style = style;
  return true;
}

bool log_reopen(std::string* error) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_target != Target::File) return true;
  base::UniqueFd fd = open_append(g_path, error);
  if (!fd) return false;
  g_file = std::move(fd);
  return true;
}

bool log_hand_over(unsigned uid, unsigned gid, std::string* error) {
  std::lock_guard<std::mutex> lock(g_mu);
  struct stat st{};
  if (g_target != Target::File || fstat(g_file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return true;  // /dev/null stays root's
  if (fchown(g_file.get(), uid, gid) == 0) return true;
  *error = "cannot give the log file " + g_path + " to uid " + std::to_string(uid) + ": " + strerror(errno);
  return false;
}

void log_event(const char* event, std::initializer_list<LogField> fields) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_target == Target::Syslog) {
    std::string body = g_style == LogStyle::Json ? json_line(event, fields) : kv_body(event, fields);
    syslog(syslog_priority(event), "%s", body.c_str());
    return;
  }
  write_all(g_target == Target::File ? g_file.get() : STDERR_FILENO, log_format(g_style, event, fields));
}

void log_set_level(LogLevel level) { g_debug.store(level == LogLevel::Debug, std::memory_order_relaxed); }

bool log_debug_enabled() { return g_debug.load(std::memory_order_relaxed); }

void log_debug(const char* event, std::initializer_list<LogField> fields) {
  if (log_debug_enabled()) log_event(event, fields);
}

std::string log_session_id(char kind, uint64_t serial) {
  return std::string(1, kind) + std::to_string(serial) + "-" + run_tag();
}

}  // namespace relay
