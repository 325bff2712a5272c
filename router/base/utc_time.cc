// utc_time.cc - UTC time formatting (see utc_time.h).
#include "router/base/utc_time.h"

#include <sys/time.h>

#include <ctime>

namespace base {

std::string utc_format(int64_t unix_seconds, const char* format) {
  time_t t = static_cast<time_t>(unix_seconds);
  tm u{};
  gmtime_r(&t, &u);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, format, &u);
  return std::string(buf, n);
}

std::string rfc3339(int64_t unix_seconds) { return utc_format(unix_seconds, "%Y-%m-%dT%H:%M:%SZ"); }

int64_t now_us() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

}  // namespace base
