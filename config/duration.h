// duration.h - "30s", "5m", "2h", "5d" as used in the config file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace config {

// Seconds, or nullopt when the text is not a positive whole number followed
// by one of the units s, m, h, d.
std::optional<uint64_t> parse_duration(const std::string& text);

// Inverse for display: the largest unit that divides exactly ("90s", "5m").
std::string format_duration(uint64_t seconds);

}  // namespace config
