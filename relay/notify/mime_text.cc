// mime_text.cc - RFC 5322 dates, folding, wrapping and quoted-printable for
// the text the relay writes itself. See mime_text.h; nothing here can fail.
#include "relay/notify/mime_text.h"

#include "router/base/utc_time.h"

#include <time.h>

#include <algorithm>
#include <cctype>

namespace relay {

namespace {

constexpr size_t kSplitAt = 900;   // well under the 998-octet line limit
constexpr size_t kFoldWidth = 78;  // RFC 5322 2.1.1 "SHOULD"

// Words separated by any run of white space or controls: controls in a
// value must never reach the output as line breaks.
std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) {
      if (!w.empty()) out.push_back(w);
      w.clear();
    } else {
      w += static_cast<char>(c);
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}

// A word cut into pieces of at most kSplitAt octets, never inside a UTF-8
// sequence (so a split never makes invalid UTF-8 of valid UTF-8).
std::vector<std::string> split_long(const std::string& w) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (w.size() - pos > kSplitAt) {
    size_t cut = pos + kSplitAt;
    while (cut > pos + 1 && (static_cast<unsigned char>(w[cut]) & 0xC0) == 0x80) --cut;
    out.push_back(w.substr(pos, cut - pos));
    pos = cut;
  }
  out.push_back(w.substr(pos));
  return out;
}

std::vector<std::string> pieces_of(const std::string& s) {
  std::vector<std::string> out;
  for (const auto& w : words_of(s))
    for (auto& p : split_long(w)) out.push_back(std::move(p));
  return out;
}

}  // namespace

std::string rfc5322_date(int64_t unix_seconds) {
  return base::utc_format(unix_seconds, "%a, %d %b %Y %H:%M:%S +0000");
}

std::string fold_field(const std::string& name, const std::string& value) {
  std::string out;
  std::string line = name + ":";
  bool fresh = true;  // nothing after "Name:" or the fold's space yet
  for (const auto& p : pieces_of(value)) {
    if (!fresh && line.size() + 1 + p.size() > kFoldWidth) {
      out += line + "\r\n";
      line.clear();
    }
    line += " " + p;
    fresh = false;
  }
  return out + line + "\r\n";
}

std::string wrap_text(const std::string& text, size_t width, const std::string& indent) {
  std::string out;
  std::string line;
  for (const auto& p : pieces_of(text)) {
    if (!line.empty() && indent.size() + line.size() + 1 + p.size() > width) {
      out += indent + line + "\r\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + p;
  }
  if (!line.empty()) out += indent + line + "\r\n";
  return out;
}

bool is_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

namespace {

// One line (without CRLF) in quoted-printable, soft-broken before column 76.
std::string qp_line(const std::string& line) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  size_t col = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    unsigned char c = line[i];
    bool last = i + 1 == line.size();
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
    std::string tok = literal ? std::string(1, static_cast<char>(c)) : std::string{'=', hex[c >> 4], hex[c & 15]};
    if (col + tok.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += tok;
    col += tok.size();
  }
  return out;
}

}  // namespace

std::string qp_encode(const std::string& text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find("\r\n", pos);
    if (end == std::string::npos) return out + qp_line(text.substr(pos));
    out += qp_line(text.substr(pos, end - pos)) + "\r\n";
    pos = end + 2;
  }
  return out;
}

}  // namespace relay
