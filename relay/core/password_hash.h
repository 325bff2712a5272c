// password_hash.h - crypt(3) password hashes for the admin console (SPEC R-CONSOLE: yescrypt,
// as `mkpasswd -m yescrypt` makes them). Both calls are slow on purpose (tens of ms of CPU):
// the relay calls them on a worker thread (relay/console/password_checker.h), the command line
// directly. A hash libcrypt cannot read never matches.
#pragma once

#include <string>

namespace relay {

// True when `password` hashes to `hash` (constant-time compare).
bool password_matches(const std::string& password, const std::string& hash);
// A new yescrypt hash of `password`; "" when libcrypt cannot make one.
std::string make_password_hash(const std::string& password);

}  // namespace relay
