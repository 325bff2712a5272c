// cmd_help.h - `smarthost help [COMMAND]`: the manual of every sub-command, compiled in.
//
// NAME
//   command_help, cmd_help - one table of sub-commands and their manual pages
//
// DESCRIPTION
//   The table is the one list of sub-commands: main() refuses a command that
//   is not in it (so none ships without help), `smarthost help` lists it, and
//   `smarthost help COMMAND` prints that command's page as text. `smarthost
//   help --roff [COMMAND]` prints the same page as a roff man page (section 8;
//   without COMMAND the overview smarthost(8)): `make install` writes the man
//   pages from it, so the installed manual is this text.
//
// DIAGNOSTICS
//   cmd_help returns 0, or 2 for an unknown COMMAND (one line on err).
#pragma once

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace relay {

struct CommandHelp {
  std::string name;         // "test-route"
  std::string summary;      // one line, for the list and the NAME section
  std::string synopsis;     // "smarthost test-route [-c FILE] ROUTE [--domain D] ..."
  std::string description;  // paragraphs separated by an empty line
  std::vector<std::pair<std::string, std::string>> options;  // {"--json", "print one JSON object"}
  std::string exit_status;
};

// Every sub-command, in the order `smarthost help` lists them.
const std::vector<CommandHelp>& command_help();
// The entry for `name`, or null.
const CommandHelp* find_command_help(const std::string& name);

// The list of sub-commands with their summaries (`smarthost help`, and usage errors).
void print_command_list(std::ostream& out);
// One page as text (`smarthost help COMMAND`) or as roff (section 8).
void print_help_text(const CommandHelp& h, std::ostream& out);
void print_help_roff(const CommandHelp& h, const std::string& version, std::ostream& out);
// smarthost(8): what the relay is, the commands, files, see also.
void print_overview_roff(const std::string& version, std::ostream& out);

// `smarthost help [--roff] [COMMAND]`; args are what follows "help".
int cmd_help(const std::vector<std::string>& args, const std::string& version, std::ostream& out,
             std::ostream& err);

}  // namespace relay
