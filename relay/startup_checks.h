// startup_checks.h - every check `run` makes before it starts, shared with `check-config`.
//
// A config that loads can still fail at start-up: a key that does not belong to its certificate,
// a file that is not PEM, an unreadable ca_file, a run user that does not exist, a private key
// readable by others, a queue folder or log file that cannot be created, a DKIM key that cannot
// be loaded, an address list entry that is not a valid internationalised domain. check_startup() makes all of these checks, each once, with the code `run` uses
// (Runtime::build, privileges.h, the DKIM loader); `run` refuses to start and `check-config`
// exits 1 on the same findings. It creates nothing: the queue folder and log file are judged
// by whether they exist and are writable, or whether their folder is.
// The warnings of config_warnings.h, and those about the run user, come with it.
//
// How it fails: never; findings are values. Errors read "FILE:LINE: path: message", warnings
// "FILE:LINE: warning: path: message" (FILE alone when the setting was left at its default).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "relay/core/smtp_runtime.h"
#include "relay/privileges.h"

namespace relay {

// Start: everything (run, check-config). Reload: a SIGHUP inside a running relay, where the
// settings bound at start-up (user, queue, log) are not looked at again: they need a restart.
enum class CheckStage { Start, Reload };

struct StartupCheck {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::shared_ptr<const Runtime> runtime;  // built when errors is empty
  std::optional<RunUser> run_user;         // Start as root: the user to drop to (never root itself)
};

StartupCheck check_startup(std::shared_ptr<const config::Config> cfg, CheckStage stage);

}  // namespace relay
