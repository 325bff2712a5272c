// utc_time.h - UTC times as text, in the formats the relay writes.
#pragma once

#include <cstdint>
#include <string>

namespace base {

// strftime(format) of unix_seconds in UTC; formats here stay well under 64 octets.
std::string utc_format(int64_t unix_seconds, const char* format);
// RFC 3339 UTC time, "2026-11-23T17:00:00Z" (queue listings, JSON outputs, TLS-RPT reports).
std::string rfc3339(int64_t unix_seconds);
// Wall-clock time in microseconds since the epoch.
int64_t now_us();

}  // namespace base
