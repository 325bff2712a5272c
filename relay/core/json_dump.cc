// json_dump.cc - JSON text from a value, invalid UTF-8 replaced (see json_dump.h).
#include "relay/core/json_dump.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "router/base/utf8_text.h"

namespace relay {

namespace {

// nlohmann escapes C0 controls only; C1 controls, separators and bidi overrides are escaped here
// too (base::shown_escaped), so a JSON line shown on a terminal cannot lie either. Outside
// strings JSON text is ASCII, so every such character found is inside a string.
std::string escape_deceptive(std::string text) {
  if (!base::has_8bit(text)) return text;
  std::string out;
  out.reserve(text.size());
  char buf[8];
  for (size_t at = 0; at < text.size();) {
    uint32_t cp = 0;
    base::Utf8Error e;
    size_t n = base::decode_utf8(text, at, &cp, &e);
    if (n == 0) n = 1;  // cannot happen after error_handler_t::replace; copied as it is
    if (cp >= 0x80 && base::shown_escaped(cp)) {
      snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(text, at, n);
    }
    at += n;
  }
  return out;
}

}  // namespace

std::string json_dump(const nlohmann::ordered_json& doc, int indent) {
  return escape_deceptive(doc.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace));
}

}  // namespace relay
