// log.h - mail tracking log: one line per event, stable key=value (or JSON).
//
// Lines look like
//   2026-11-23T17:00:00.123Z smarthost[42]: event=accepted session=s1-k3x9q2 id=... size=120
// Keys are stable: scripts and admins grep them (SPEC R-LOG). Values with
// spaces, quotes or '=' are double-quoted with backslash escapes; in JSON lines
// (log.format = "json") numbers and booleans are JSON numbers and booleans.
// Thread-safe. Two levels: info (every line above) and debug (also the
// details a developer follows, such as client session state transitions);
// debug lines are dropped at info, the default.
//
// Where lines go (log.file): "" is standard error; "syslog" is syslog(3) with
// facility mail (the syslog daemon adds time, host and "smarthost[PID]:");
// anything else a file, appended to. log_reopen() opens the file again under
// its name (after logrotate moved it away); when that fails the old
// descriptor stays in use, so no line is lost, and the caller logs why.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

namespace relay {

enum class LogStyle { Kv, Json };
enum class LogLevel { Info, Debug };

// A value in a log line: text, a whole number or a boolean. Key=value lines
// print them alike; JSON lines keep the type.
class LogValue {
 public:
  enum class Kind { Text, Signed, Unsigned, Bool };

  LogValue(std::string s) : kind_(Kind::Text), text_(std::move(s)) {}  // NOLINT: implicit on purpose
  LogValue(const char* s) : kind_(Kind::Text), text_(s ? s : "") {}    // NOLINT
  LogValue(bool b) : kind_(Kind::Bool), u_(b ? 1 : 0) {}               // NOLINT
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             !std::is_same_v<T, char>, int> = 0>
  LogValue(T n) {  // NOLINT
    if constexpr (std::is_signed_v<T>) {
      kind_ = Kind::Signed;
      s_ = static_cast<int64_t>(n);
    } else {
      kind_ = Kind::Unsigned;
      u_ = static_cast<uint64_t>(n);
    }
  }

  Kind kind() const { return kind_; }
  // The value as a kv line prints it (before quoting): "120", "true", the text.
  std::string text() const;
  int64_t as_signed() const { return s_; }
  uint64_t as_unsigned() const { return u_; }

 private:
  Kind kind_ = Kind::Text;
  std::string text_;
  int64_t s_ = 0;
  uint64_t u_ = 0;
};

using LogField = std::pair<const char*, LogValue>;

// Where lines go: "" stderr, "syslog" syslog(3) facility mail, else a file.
// Returns false (and keeps the previous target) when the file cannot be opened.
bool log_open(LogStyle style, const std::string& path, std::string* error);
// Opens log.file again under its name (SIGHUP after rotation). False, with the
// reason, when it cannot: lines keep going to the old descriptor.
bool log_reopen(std::string* error);
// Started as root: the log file goes to the user the relay drops to, so that a
// SIGHUP can open it again as that user. False, with the reason, when chown fails.
bool log_hand_over(unsigned uid, unsigned gid, std::string* error);
void log_event(const char* event, std::initializer_list<LogField> fields);

// log.level: may change at any time (a reload).
void log_set_level(LogLevel level);
// Callers that build costly fields ask first.
bool log_debug_enabled();
// A log_event line written only at level debug.
void log_debug(const char* event, std::initializer_list<LogField> fields);

// Formats one line without writing it (for tests).
std::string log_format(LogStyle style, const char* event, std::initializer_list<LogField> fields);

// The session id of log lines: kind ('s' inbound, 'c' outbound), the serial
// within this run, and a tag drawn once per process start, so that ids are
// unique across restarts ("s12-k3x9q2").
std::string log_session_id(char kind, uint64_t serial);

}  // namespace relay
