// smtp_reply.cc - SMTP reply parsing (see smtp_reply.h).
#include "relay/delivery/smtp_reply.h"

#include <cctype>
#include <cstring>

namespace relay {

namespace {
constexpr size_t kMaxLine = 4096;

// "X.Y.Z" at the start of text: class 2/4/5, subject and detail 1-3 digits.
std::string enhanced_code(const std::string& t) {
  size_t i = 0;
  auto digits = [&](size_t max) {
    size_t start = i;
    while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])) && i - start < max) ++i;
    return i > start;
  };
  if (t.empty() || (t[0] != '2' && t[0] != '4' && t[0] != '5')) return "";
  i = 1;
  if (i >= t.size() || t[i++] != '.' || !digits(3) || i >= t.size() || t[i++] != '.' || !digits(3)) return "";
  if (i < t.size() && t[i] != ' ') return "";
  return t.substr(0, i);
}
}  // namespace

std::string SmtpReply::text() const {
  std::string s = std::to_string(code);
  for (const auto& l : lines) s += " " + l;
  return s;
}

ReplyParse parse_reply(const char* data, size_t len, size_t* used, SmtpReply* out) {
  SmtpReply r;
  size_t pos = 0;
  for (;;) {
    const char* nl = static_cast<const char*>(memchr(data + pos, '\n', len - pos));
    if (!nl) return len - pos > kMaxLine ? ReplyParse::Malformed : ReplyParse::NeedMore;
    size_t end = static_cast<size_t>(nl - data);
    std::string line(data + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = end + 1;
    if (line.size() < 3 || line.size() > kMaxLine || !std::isdigit(static_cast<unsigned char>(line[0])) ||
        !std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])) ||
        (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      return ReplyParse::Malformed;
    }
    int code = std::stoi(line.substr(0, 3));
    if (r.code != 0 && code != r.code) return ReplyParse::Malformed;
    r.code = code;
    r.lines.push_back(line.size() > 4 ? line.substr(4) : "");
    if (line.size() <= 3 || line[3] == ' ') break;
  }
  if (r.code < 200 || r.code > 599) return ReplyParse::Malformed;
  r.status = enhanced_code(r.lines[0]);
  *used = pos;
  *out = std::move(r);
  return ReplyParse::Complete;
}

}  // namespace relay
