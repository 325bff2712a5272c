// envelope_params.cc - RFC 3461 xtext and the recipient domain (see envelope_params.h).
#include "relay/queue/envelope_params.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "router/base/utf8_text.h"

namespace relay {

std::optional<std::string> xtext_decode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = in[i];
    if (c == '+') {
      if (i + 2 >= in.size()) return std::nullopt;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return std::nullopt;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string xtext_encode(const std::string& in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (c < 33 || c > 126 || c == '+' || c == '=') {
      out += '+';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string orcpt_for_hop(const std::string& orcpt, bool hop_smtputf8) {
  if (hop_smtputf8 || !base::has_8bit(orcpt)) return orcpt;
  std::string out;
  char buf[16];
  for (size_t at = 0; at < orcpt.size();) {
    uint32_t cp = 0;
    base::Utf8Error e;
    size_t n = base::decode_utf8(orcpt, at, &cp, &e);
    if (n == 0) {  // never stored (the server checks it), but never sent raw either
      cp = 0xfffd;
      n = 1;
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else {
      snprintf(buf, sizeof buf, "\\x{%X}", static_cast<unsigned>(cp));
      out += buf;
    }
    at += n;
  }
  return out;
}

std::string address_domain(const std::string& address) {
  auto at = address.rfind('@');
  if (at == std::string::npos) return "";
  std::string d = address.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return std::tolower(c); });
  return d;
}

}  // namespace relay
