// json_dump.h - the one way the relay turns a JSON value into text.
//
// Every JSON the relay writes (queue list --json, test-route --json, the TLS-RPT report,
// tlsrpt show --json, log.format = "json" lines) is built as a nlohmann::ordered_json, whose
// keys keep the order they were added in, and printed here. Include <nlohmann/json.hpp> only in
// the .cc files that build JSON: this header needs just the forward declarations.
//
// How it fails: it does not. Strings are escaped (quotes, backslashes, control characters);
// non-ASCII UTF-8 is written as is; invalid UTF-8 bytes (a client's MAIL FROM, a peer's reply)
// become U+FFFD instead of nlohmann's default type_error 316, so the output always parses.
// C1 controls, line separators and bidi overrides are written as \u escapes too (as in the kv log).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace relay {

// indent < 0: one line without spaces; indent >= 0: that many spaces per level.
std::string json_dump(const nlohmann::ordered_json& doc, int indent = -1);

}  // namespace relay
