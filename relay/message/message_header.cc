// message_header.cc - header fields of a message (see message_header.h).
#include "relay/message/message_header.h"

#include <algorithm>
#include <cctype>

namespace relay {

namespace {
bool is_wsp(char c) { return c == ' ' || c == '\t'; }
}  // namespace

std::string header_section(const std::string& message) {
  if (message.compare(0, 2, "\r\n") == 0) return "";
  auto end = message.find("\r\n\r\n");
  return end == std::string::npos ? message : message.substr(0, end + 2);
}

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

std::string mailbox_address(const std::string& value) {
  std::string v;
  // Comments go first: "a@b.example (Joe <x@y>)" names a@b.example.
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size()) {
      if (depth == 0) v += value.substr(i, 2);
      ++i;
      continue;
    }
    if (c == '"' && depth == 0) quoted = !quoted;
    if (!quoted && c == '(') ++depth;
    if (depth == 0) v += c;
    if (!quoted && c == ')' && depth > 0) --depth;
  }
  std::string addr;
  size_t lt = v.rfind('<');
  if (lt != std::string::npos) {
    size_t gt = v.find('>', lt);
    addr = v.substr(lt + 1, gt == std::string::npos ? std::string::npos : gt - lt - 1);
  } else {
    addr = v;
  }
  size_t b = addr.find_first_not_of(" \t"), e = addr.find_last_not_of(" \t");
  addr = b == std::string::npos ? "" : addr.substr(b, e - b + 1);
  return addr.find('@') == std::string::npos ? "" : addr;
}

}  // namespace relay
