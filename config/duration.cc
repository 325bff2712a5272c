// duration.cc - duration strings of the config file (see duration.h).
#include "config/duration.h"

namespace config {

std::optional<uint64_t> parse_duration(const std::string& text) {
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  uint64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  std::string digits = text.substr(0, text.size() - 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  uint64_t n = std::stoull(digits);
  if (n == 0) return std::nullopt;
  return n * unit;
}

std::string format_duration(uint64_t seconds) {
  if (seconds != 0 && seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds != 0 && seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds != 0 && seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

}  // namespace config
