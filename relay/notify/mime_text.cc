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

std::string header_section(const std::string& message) {
  if (message.compare(0, 2, "\r\n") == 0) return "";
  auto end = message.find("\r\n\r\n");
  return end == std::string::npos ? message : message.substr(0, end + 2);
}

namespace {
bool is_wsp(char c) { return c == ' ' || c == '\t'; }
}  // namespace

std::vector<std::string> header_fields(const std::string& message, size_t* body_start) {
  std::vector<std::string> fields;
  size_t pos = 0;
  *body_start = message.size();
  while (pos < message.size()) {
    size_t eol = message.find("\r\n", pos);
    if (eol == std::string::npos) eol = message.size();
    if (eol == pos) {  // the empty line
      *body_start = std::min(message.size(), pos + 2);
      break;
    }
    std::string line = message.substr(pos, eol - pos) + "\r\n";
    if (is_wsp(line[0]) && !fields.empty()) {
      fields.back() += line;
    } else {
      fields.push_back(line);
    }
    pos = eol + 2;
  }
  return fields;
}

std::string field_name(const std::string& field) {
  size_t colon = field.find(':');
  std::string n = field.substr(0, colon);
  while (!n.empty() && is_wsp(n.back())) n.pop_back();
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

std::string header_value(const std::string& message, const std::string& name) {
  size_t body_start = 0;
  std::string want = name;
  for (char& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& f : header_fields(message, &body_start)) {
    size_t colon = f.find(':');
    if (colon == std::string::npos || field_name(f) != want) continue;
    std::string v;
    for (size_t i = colon + 1; i < f.size(); ++i) {
      if (f[i] != '\r' && f[i] != '\n') v += f[i];  // unfold: the CRLF goes, the white space stays
    }
    size_t b = v.find_first_not_of(" \t"), e = v.find_last_not_of(" \t");
    return b == std::string::npos ? "" : v.substr(b, e - b + 1);
  }
  return "";
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
