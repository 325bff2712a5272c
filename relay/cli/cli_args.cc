// cli_args.cc - sub-command option parsing (see cli_args.h).
#include "relay/cli/cli_args.h"

namespace relay {

CliArgs parse_cli(int argc, char** argv, int first, const std::set<std::string>& with_value,
                  const std::set<std::string>& bare) {
  CliArgs a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "-c" || s == "--config") {
      if (i + 1 >= argc) {
        a.error = s + " needs a file name";
        return a;
      }
      a.config = argv[++i];
    } else if (with_value.count(s)) {
      if (i + 1 >= argc) {
        a.error = s + " needs a value";
        return a;
      }
      a.values[s] = argv[++i];
    } else if (bare.count(s)) {
      a.flags.insert(s);
    } else if (s.size() > 1 && s[0] == '-') {
      a.error = "unknown option " + s;
      return a;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

}  // namespace relay
