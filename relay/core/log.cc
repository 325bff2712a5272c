// log.cc - the event log (see log.h).
#include "relay/core/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

#include "relay/core/json_dump.h"
#include "router/base/utf8_text.h"

namespace relay {

namespace {

std::mutex g_mu;
LogStyle g_style = LogStyle::Kv;
FILE* g_out = nullptr;  // nullptr: stderr
std::atomic<bool> g_debug{false};

std::string timestamp() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  tm t;
  gmtime_r(&tv.tv_sec, &t);
  char buf[40];
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

}  // namespace

std::string log_format(LogStyle style, const char* event, std::initializer_list<LogField> fields) {
  std::string line;
  if (style == LogStyle::Json) {
    nlohmann::ordered_json doc = {{"ts", timestamp()}, {"event", event}};
    for (const auto& f : fields) doc[f.first] = f.second;  // every value a string, as in the kv lines
    return json_dump(doc) + "\n";
  }
  line = timestamp() + " smarthost[" + std::to_string(getpid()) + "]: event=" + event;
  for (const auto& f : fields) {
    line += ' ';
    line += f.first;
    line += '=';
    kv_value(line, f.second);
  }
  line += '\n';
  return line;
}

bool log_open(LogStyle style, const std::string& path, std::string* error) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_style = style;
  if (path.empty()) return true;
  FILE* f = fopen(path.c_str(), "a");
  if (!f) {
    *error = "cannot open log file " + path;
    return false;
  }
  if (g_out) fclose(g_out);
  g_out = f;
  return true;
}

void log_event(const char* event, std::initializer_list<LogField> fields) {
  std::string line = log_format(g_style, event, fields);
  std::lock_guard<std::mutex> lock(g_mu);
  FILE* out = g_out ? g_out : stderr;
  fwrite(line.data(), 1, line.size(), out);
  fflush(out);
}

void log_set_level(LogLevel level) { g_debug.store(level == LogLevel::Debug, std::memory_order_relaxed); }

bool log_debug_enabled() { return g_debug.load(std::memory_order_relaxed); }

void log_debug(const char* event, std::initializer_list<LogField> fields) {
  if (log_debug_enabled()) log_event(event, fields);
}

}  // namespace relay
