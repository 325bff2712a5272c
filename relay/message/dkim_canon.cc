// dkim_canon.cc - DKIM canonicalisation and tag lists (see dkim_canon.h).
#include "relay/message/dkim_canon.h"

// options.h first: the build's feature macros decide the structure layouts.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <cctype>

#include "relay/message/message_header.h"

namespace relay {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// One body line (no CRLF) with runs of WSP made one space and trailing WSP removed (3.4.4).
std::string relaxed_line(const std::string& line) {
  std::string canon;
  bool space = false;
  for (char c : line) {
    if (is_wsp(c)) {
      space = true;
      continue;
    }
    if (space) canon += ' ';
    space = false;
    canon += c;
  }
  return canon;
}

}  // namespace

std::string sha256_bytes(const std::string& data) {
  wc_Sha256 sha;
  unsigned char out[WC_SHA256_DIGEST_SIZE];
  wc_InitSha256(&sha);
  wc_Sha256Update(&sha, reinterpret_cast<const byte*>(data.data()), static_cast<word32>(data.size()));
  wc_Sha256Final(&sha, out);
  wc_Sha256Free(&sha);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

std::string dkim_canon_header(const std::string& field, DkimCanon c) {
  if (c == DkimCanon::Simple) return field;
  size_t colon = field.find(':');
  std::string name = field_name(field);
  std::string value;
  bool space = false;
  for (size_t i = colon == std::string::npos ? field.size() : colon + 1; i < field.size(); ++i) {
    char ch = field[i];
    if (ch == '\r' || ch == '\n') continue;  // unfold
    if (is_wsp(ch)) {
      space = true;
      continue;
    }
    if (space && !value.empty()) value += ' ';
    space = false;
    value += ch;
  }
  return name + ":" + value + "\r\n";
}

std::string dkim_canon_body(const std::string& body, DkimCanon c) {
  std::string out;
  out.reserve(body.size() + 2);
  size_t pos = 0;
  while (pos < body.size()) {
    size_t eol = body.find("\r\n", pos);
    bool last = eol == std::string::npos;
    size_t len = (last ? body.size() : eol) - pos;
    if (c == DkimCanon::Relaxed) {
      out += relaxed_line(body.substr(pos, len));
    } else {
      out.append(body, pos, len);
    }
    out += "\r\n";  // a last line without CRLF gets one (3.4.3, 3.4.4)
    if (last) break;
    pos = eol + 2;
  }
  // No trailing empty lines (3.4.3, 3.4.4).
  while (out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0) out.resize(out.size() - 2);
  if (c == DkimCanon::Relaxed) {
    if (out == "\r\n") out.clear();  // an empty body stays empty
  } else if (out.empty()) {
    out = "\r\n";  // simple: an empty body is one CRLF
  }
  return out;
}

std::optional<std::map<std::string, std::string>> dkim_tag_list(const std::string& value) {
  std::map<std::string, std::string> tags;
  size_t pos = 0;
  while (pos <= value.size()) {
    size_t semi = value.find(';', pos);
    std::string spec = trim(value.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos));
    pos = semi == std::string::npos ? value.size() + 1 : semi + 1;
    if (spec.empty()) continue;  // a trailing ';'
    size_t eq = spec.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string name = trim(spec.substr(0, eq));
    if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return std::nullopt;
    for (unsigned char ch : name) {
      if (!std::isalnum(ch) && ch != '_') return std::nullopt;
    }
    if (!tags.emplace(name, trim(spec.substr(eq + 1))).second) return std::nullopt;
  }
  return tags;
}

std::vector<long> dkim_select_fields(const std::vector<std::string>& fields, const std::vector<std::string>& names) {
  std::vector<bool> used(fields.size(), false);
  std::vector<long> out;
  for (const auto& want : names) {
    long found = -1;
    for (size_t i = fields.size(); i-- > 0;) {
      if (used[i] || field_name(fields[i]) != want) continue;
      used[i] = true;
      found = static_cast<long>(i);
      break;
    }
    out.push_back(found);
  }
  return out;
}

std::string dkim_signature_hash_input(const std::string& field, DkimCanon c) {
  // Find the b= tag (not bh=): a tag name starts the field value or follows a ';'.
  std::string f = field;
  size_t colon = f.find(':');
  size_t pos = colon == std::string::npos ? 0 : colon + 1;
  while (pos < f.size()) {
    size_t start = pos;
    while (start < f.size() && (is_wsp(f[start]) || f[start] == '\r' || f[start] == '\n')) ++start;
    size_t semi = f.find(';', start);
    size_t end = semi == std::string::npos ? f.size() : semi;
    size_t eq = f.find('=', start);
    if (eq != std::string::npos && eq < end) {
      std::string name = trim(f.substr(start, eq - start));
      if (name == "b") {
        // Keep the final CRLF of the field when the tag runs to the end.
        size_t cut_end = end;
        if (semi == std::string::npos && f.size() >= 2 && f.compare(f.size() - 2, 2, "\r\n") == 0) cut_end = f.size() - 2;
        if (cut_end > eq + 1) f.erase(eq + 1, cut_end - eq - 1);
        break;
      }
    }
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  std::string canon = dkim_canon_header(f, c);
  if (canon.size() >= 2 && canon.compare(canon.size() - 2, 2, "\r\n") == 0) canon.resize(canon.size() - 2);
  return canon;
}

}  // namespace relay
