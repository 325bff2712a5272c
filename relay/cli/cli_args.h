// cli_args.h - the command line of one sub-command: options and positionals.
//
// Options may stand anywhere after the sub-command ("queue -c F list" and
// "queue list -c F" are the same). Unknown options are errors.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"

namespace relay {

struct CliArgs {
  std::string config = config::kDefaultConfigPath;
  std::map<std::string, std::string> values;  // --domain D, --date D
  std::set<std::string> flags;                // --json, --test-routes
  std::vector<std::string> positional;
  std::string error;                          // set when parsing failed

  bool flag(const std::string& f) const { return flags.count(f) != 0; }
  std::string value(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() ? "" : it->second;
  }
};

// argv[first..] → CliArgs. `with_value` and `bare` list the long options this
// sub-command accepts.
CliArgs parse_cli(int argc, char** argv, int first, const std::set<std::string>& with_value,
                  const std::set<std::string>& bare);

}  // namespace relay
