// utc_time.h - UTC times as text, in the formats the relay writes.
#pragma once

#include <cstdint>
#include <string>

namespace base {

// strftime(format) of unix_seconds in UTC; formats here stay well under 64 octets.
std::string utc_format(int64_t unix_seconds, const char* format);

}  // namespace base
