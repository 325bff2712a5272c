// utf8_text.cc - strict UTF-8 decoding, validation and safe display (see utf8_text.h).
#include "router/base/utf8_text.h"

#include <cstdio>

namespace base {

namespace {

bool is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f); }

// Valid, but they can make a log line or a terminal lie about what it holds.
bool is_deceptive(uint32_t cp) {
  return cp == 0x2028 || cp == 0x2029 ||             // line and paragraph separators
         (cp >= 0x202a && cp <= 0x202e) ||           // bidi embeddings and overrides
         (cp >= 0x2066 && cp <= 0x2069) ||           // bidi isolates
         cp == 0x200e || cp == 0x200f || cp == 0xfeff;  // marks and the BOM
}

size_t bad(Utf8Error* error, Utf8Error why) {
  *error = why;
  return 0;
}

}  // namespace

size_t decode_utf8(std::string_view s, size_t at, uint32_t* cp, Utf8Error* error) {
  unsigned char c = static_cast<unsigned char>(s[at]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, v = c & 0x1f, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, v = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else if (c == 0xc0 || c == 0xc1) {
    // Only ever the start of an overlong two-byte form; say so when a continuation follows.
    bool cont = at + 1 < s.size() && (static_cast<unsigned char>(s[at + 1]) & 0xc0) == 0x80;
    return bad(error, cont ? Utf8Error::Overlong : Utf8Error::BadByte);
  } else {
    return bad(error, Utf8Error::BadByte);
  }
  for (size_t i = 1; i < len; ++i) {
    if (at + i >= s.size()) return bad(error, Utf8Error::Truncated);
    unsigned char n = static_cast<unsigned char>(s[at + i]);
    if ((n & 0xc0) != 0x80) return bad(error, Utf8Error::Truncated);
    v = (v << 6) | (n & 0x3f);
  }
  if (v < min) return bad(error, Utf8Error::Overlong);
  if (v >= 0xd800 && v <= 0xdfff) return bad(error, Utf8Error::Surrogate);
  if (v > 0x10ffff) return bad(error, Utf8Error::TooLarge);
  *cp = v;
  return len;
}

Utf8Check check_utf8(std::string_view s, bool refuse_controls) {
  for (size_t at = 0; at < s.size();) {
    uint32_t cp = 0;
    Utf8Error e = Utf8Error::None;
    size_t n = decode_utf8(s, at, &cp, &e);
    if (n == 0) return {e, at};
    if (refuse_controls && is_control(cp)) return {Utf8Error::Control, at};
    at += n;
  }
  return {};
}

const char* utf8_error_text(Utf8Error e) {
  switch (e) {
    case Utf8Error::None: return "valid UTF-8";
    case Utf8Error::Truncated: return "incomplete UTF-8 sequence";
    case Utf8Error::BadByte: return "byte that is not UTF-8";
    case Utf8Error::Overlong: return "overlong UTF-8 encoding";
    case Utf8Error::Surrogate: return "UTF-16 surrogate encoded as UTF-8";
    case Utf8Error::TooLarge: return "code point above U+10FFFF";
    case Utf8Error::Control: return "control character";
  }
  return "?";
}

bool shown_escaped(uint32_t cp) { return is_control(cp) || is_deceptive(cp); }

bool has_8bit(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

std::string printable_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char buf[16];
  for (size_t at = 0; at < s.size();) {
    uint32_t cp = 0;
    Utf8Error e = Utf8Error::None;
    size_t n = decode_utf8(s, at, &cp, &e);
    if (n == 0) {
      snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(s[at]));
      out += buf;
      ++at;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else if (shown_escaped(cp)) {
      snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(s, at, n);
    }
    at += n;
  }
  return out;
}

}  // namespace base
