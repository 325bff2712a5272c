// config_loader.h - reads one libconfig file into a validated config::Config.
//
// Syntax errors come from libconfig; meaning (types, ranges, unknown keys,
// references between sections) is checked here. Every problem is reported as
// "FILE:LINE: path: message" and any problem refuses the whole file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace config {

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<std::string> errors;       // "FILE:LINE: path: message"
};

LoadResult load_config(const std::string& path);
// Same, from text in memory; `name` stands for the file name in errors.
LoadResult load_config_text(const std::string& text, const std::string& name);

}  // namespace config
