// json_text.cc - JSON string quoting and RFC 3339 times (see json_text.h).
#include "relay/core/json_text.h"

#include "router/base/utc_time.h"

#include <cstdio>
#include <ctime>

namespace relay {

namespace {

// Length of a valid UTF-8 sequence starting at s[i], or 0.
size_t utf8_len(const std::string& s, size_t i) {
  unsigned char c = s[i];
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = utf8_len(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  return out + "\"";
}

std::string rfc3339(int64_t unix_seconds) { return base::utc_format(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace relay
