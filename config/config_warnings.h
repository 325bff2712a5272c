// config_warnings.h - settings that load but undermine what the relay promises.
//
// A config can be valid and still leave a hole: an `allow` range that lets much of the Internet
// relay, a route no recipient can reach because an earlier "*" route takes every one, a
// "required" route that accepts any certificate, a public listener without STARTTLS. These are
// warnings, not errors: check-config prints them and exits 0, `run` logs them at start-up and
// on every reload.
//
// How it fails: it does not; each finding is one line "FILE:LINE: warning: path: message".
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace config {

std::vector<std::string> config_warnings(const Config& cfg);

// True for loopback, private (RFC 1918, ULA), link-local and shared (RFC 6598) addresses;
// false for every other address, the wildcards 0.0.0.0 and :: among them (they bind them all).
bool is_private_address(const IpAddr& ip);

}  // namespace config
