// json_text.h - the little JSON the command-line tools print.
#pragma once

#include <cstdint>
#include <string>

namespace relay {

// A JSON string literal, quotes included; control characters escaped and
// invalid UTF-8 bytes replaced by U+FFFD so the output always parses.
std::string json_quote(const std::string& s);
// RFC 3339 UTC time, "2026-11-23T17:00:00Z" (seconds since the epoch).
std::string rfc3339(int64_t unix_seconds);

}  // namespace relay
