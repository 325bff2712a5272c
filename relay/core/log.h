// log.h - mail tracking log: one line per event, stable key=value (or JSON).
//
// Lines look like
//   2026-11-23T17:00:00.123Z smarthost[42]: event=accepted id=... from=<a@b> size=120
// Keys are stable: scripts and admins grep them (SPEC R-LOG). Values with
// spaces, quotes or '=' are double-quoted with backslash escapes. Thread-safe.
// Two levels: info (every line above) and debug (also the details a developer
// follows, such as client session state transitions); debug lines are dropped
// at info, the default.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

namespace relay {

enum class LogStyle { Kv, Json };
enum class LogLevel { Info, Debug };

using LogField = std::pair<const char*, std::string>;

// Where lines go: empty path is stderr. Returns false (and keeps stderr) when
// the file cannot be opened.
bool log_open(LogStyle style, const std::string& path, std::string* error);
void log_event(const char* event, std::initializer_list<LogField> fields);

// log.level: may change at any time (a reload).
void log_set_level(LogLevel level);
// Callers that build costly fields ask first.
bool log_debug_enabled();
// A log_event line written only at level debug.
void log_debug(const char* event, std::initializer_list<LogField> fields);

// Formats one line without writing it (for tests).
std::string log_format(LogStyle style, const char* event, std::initializer_list<LogField> fields);

}  // namespace relay
