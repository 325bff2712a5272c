// auth_results.cc - Authentication-Results building and stripping (see auth_results.h).
#include "relay/tenant/auth_results.h"

#include <cctype>

#include "relay/message/message_header.h"

namespace relay {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A reason as an RFC 8601 comment: no parentheses or backslashes inside, no line breaks.
std::string comment(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '(' || c == ')' || c == '\\' || c == '\r' || c == '\n') ? ' ' : c;
  return "(" + out + ")";
}

// The authserv-id of an Authentication-Results value: its first token, after any CFWS.
std::string authserv_id(const std::string& field) {
  size_t i = field.find(':');
  i = i == std::string::npos ? field.size() : i + 1;
  for (;;) {
    while (i < field.size() && std::isspace(static_cast<unsigned char>(field[i]))) ++i;
    if (i < field.size() && field[i] == '(') {
      int depth = 0;
      for (; i < field.size(); ++i) {
        if (field[i] == '(') ++depth;
        if (field[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
      continue;
    }
    break;
  }
  size_t end = i;
  while (end < field.size() && field[end] != ';' && field[end] != '(' &&
         !std::isspace(static_cast<unsigned char>(field[end])))
    ++end;
  return lower(field.substr(i, end - i));
}

}  // namespace

std::string auth_results_field(const std::string& hostname, const MessageVerdict& v) {
  std::string out = "Authentication-Results: " + hostname;
  if (v.checked.empty()) return out + ";\r\n\tdkim=none\r\n";
  for (const auto& o : v.checked) {
    out += ";\r\n\tdkim=" + std::string(dkim_result_name(o.result));
    if (!o.reason.empty()) out += " " + comment(o.reason);
    out += " header.d=" + o.domain + " header.s=" + o.selector;
    if (!o.algorithm.empty()) out += " header.a=" + o.algorithm;
    if (!o.b_prefix.empty()) out += " header.b=" + o.b_prefix;
  }
  return out + "\r\n";
}

std::string strip_own_auth_results(const std::string& message, const std::string& hostname, int* removed) {
  *removed = 0;
  size_t body_start = 0;
  std::vector<std::string> fields = header_fields(message, &body_start);
  const std::string me = lower(hostname);
  bool any = false;
  for (const auto& f : fields) any |= field_name(f) == "authentication-results" && authserv_id(f) == me;
  if (!any) return message;  // the common case: the bytes are untouched
  std::string out;
  size_t pos = 0;
  for (const auto& f : fields) {
    if (field_name(f) == "authentication-results" && authserv_id(f) == me) {
      ++*removed;
    } else {
      out += f;
    }
    pos += f.size();
  }
  out.append(message, pos, std::string::npos);
  return out;
}

}  // namespace relay
