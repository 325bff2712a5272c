// fuzz_smtp_command.cc - libFuzzer target: SMTP command lines (relay/smtp_command.h).
//
// Each input line goes through parse_command(); MAIL and RCPT arguments (and the raw line, so the
// fuzzer need not find the verb first) through parse_mail_from() / parse_rcpt_to(). Checks beyond
// "no crash, no sanitizer report": a refused parameter always carries a 5xx reply with an enhanced
// code, an accepted address is 7-bit (without SMTPUTF8) or strictly valid UTF-8 without control
// characters (with it), within RFC 5321's lengths (path 256 octets with its "<>", local part 64),
// and xtext_decode(xtext_encode(x)) == x.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "relay/smtpd/smtp_command.h"
#include "router/base/utf8_text.h"

namespace {

void check_reply(const relay::Reply& r) {
  if (r.code < 500 || r.code > 599 || r.status.size() < 5 || r.status[0] != '5' || r.text.empty()) abort();
}

void check_address(const std::string& a, bool smtputf8) {
  if (!smtputf8 && base::has_8bit(a)) abort();  // 553 5.6.7
  if (!base::check_utf8(a, true).ok()) abort();
  if (a.size() > 254) abort();
  auto at = a.rfind('@');
  if (at != std::string::npos && at > 64) abort();
}

void one_line(const std::string& line) {
  relay::Command c = relay::parse_command(line);
  relay::Reply err;
  if (c.verb == relay::Verb::Mail || c.verb == relay::Verb::Unknown) {
    auto m = relay::parse_mail_from(c.verb == relay::Verb::Mail ? c.arg : line, &err);
    if (!m) check_reply(err);
    else check_address(m->address, m->smtputf8);
  }
  if (c.verb == relay::Verb::Rcpt || c.verb == relay::Verb::Unknown) {
    for (bool utf8 : {false, true}) {
      auto r = relay::parse_rcpt_to(c.verb == relay::Verb::Rcpt ? c.arg : line, utf8, &err);
      if (r) check_address(r->address, utf8), (void)relay::address_domain(r->address);
      else check_reply(err);
    }
  }
  auto round = relay::xtext_decode(relay::xtext_encode(line));
  if (!round || *round != line) abort();
  (void)relay::xtext_decode(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // the server never parses lines over 512 octets
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (start <= in.size()) {
    size_t nl = in.find('\n', start);
    std::string line = in.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    one_line(line);
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return 0;
}
