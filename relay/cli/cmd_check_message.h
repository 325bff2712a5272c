// cmd_check_message.h - `smarthost check-message -c FILE [--client IP] [--sender ADDR] [--file F]`:
// what the tenant binding (relay_policy, SPEC R-TENANT) decides for one message, and why, without
// sending anything. The inbound sibling of test-route.
//
// The message comes from --file or standard input (LF line ends are taken as CRLF). The client
// defaults to the first allowlisted address that is not exempt; the sender to the Return-Path:
// header, else the From: address ("<>" is the null sender). DKIM keys are looked up with the
// relay's own resolver and rules (message_check.h).
//
// How it fails: the verdict is the exit status, 0 accept, 1 reject, 2 temporary failure (a key
// lookup failed for now); 3 when the check cannot run (usage, unreadable message, bad config),
// with one line on `err`.
#pragma once

#include <istream>
#include <ostream>

#include "config/config.h"
#include "relay/cli/cli_args.h"

namespace relay {

int cmd_check_message(const config::Config& cfg, const CliArgs& args, std::istream& in, std::ostream& out,
                      std::ostream& err);

}  // namespace relay
