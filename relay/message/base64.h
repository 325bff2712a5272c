// base64.h - base64 (RFC 4648 section 4) for MIME parts and DKIM tags and keys.
//
// base64_decode() skips white space (folded DKIM tags hold it) and returns nullopt for any other
// character outside the alphabet or for bad padding.
#pragma once

#include <optional>
#include <string>

namespace relay {

std::string base64_encode(const std::string& data);
std::optional<std::string> base64_decode(const std::string& text);

}  // namespace relay
