// smtp_command.cc - SMTP command and parameter parsing (see smtp_command.h).
//
// Strict where strictness protects the queue (addresses must be in <>, no
// control characters, no 8-bit octets without SMTPUTF8, UTF-8 checked strictly
// and domains by IDNA2008 with it, RFC 5321 length limits, known parameters
// only), lenient only where RFC 5321 asks (case of verbs and parameter names).
#include "relay/smtpd/smtp_command.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "router/address_match.h"
#include "router/base/utf8_text.h"

namespace relay {

namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

bool iprefix(const std::string& s, const char* p) {
  size_t n = std::strlen(p);
  return s.size() >= n && upper(s.substr(0, n)) == p;
}

Reply syntax(const std::string& text) { return {501, "5.5.4", text}; }

// Address inside <...>; RFC 5321 4.1.2 Mailbox with a generous character set
// (quoted local parts pass, controls and spaces outside quotes do not).
bool valid_mailbox(const std::string& a) {
  auto at = a.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == a.size()) return false;
  bool quoted = a.front() == '"';
  for (size_t i = 0; i < at; ++i) {
    unsigned char c = a[i];
    if (c < 0x20 || c == 0x7f) return false;
    if (!quoted && (c == ' ' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' || c == ';' ||
                    c == ':' || c == '\\' || c == '[' || c == ']'))
      return false;
  }
  std::string dom = a.substr(at + 1);
  if (dom.front() == '[') {
    // RFC 5321 4.1.3 dcontent: printable ASCII but "[", "\\" and "]" (no controls, no 8-bit).
    if (dom.size() < 3 || dom.back() != ']') return false;
    return std::all_of(dom.begin() + 1, dom.end() - 1, [](unsigned char c) {
      return c >= 33 && c <= 126 && c != '[' && c != '\\' && c != ']' && c != '<' && c != '>';
    });
  }
  // A U-label domain (RFC 6531 3.3) is checked in its A-label form; A-labels must be valid too.
  auto alabel = router::normalize_domain(dom);
  if (!alabel || dom.back() == '.' || alabel->size() > 255) return false;  // DNS takes the A-labels
  dom = *alabel;
  for (unsigned char c : dom) {
    if (!(std::isalnum(c) || c == '-' || c == '.')) return false;
  }
  return dom.front() != '.' && dom.back() != '.' && dom.find("..") == std::string::npos;
}

// RFC 5321 4.5.3.1.1-3: local part 64 octets, domain 255, path 256 with its "<>"; answered with
// 501 as 4.5.3.1.10 says ("Path too long"). nullopt when the address is within the limits.
std::optional<std::string> length_problem(const std::string& a) {
  auto at = a.rfind('@');
  size_t local = at == std::string::npos ? a.size() : at;
  size_t domain = at == std::string::npos ? 0 : a.size() - at - 1;
  if (local > 64) return "local part longer than 64 octets (RFC 5321 4.5.3.1.1)";
  if (domain > 255) return "domain longer than 255 octets (RFC 5321 4.5.3.1.2)";
  if (a.size() + 2 > 256) return "path longer than 256 octets (RFC 5321 4.5.3.1.3)";
  return std::nullopt;
}

// RFC 6531 3.3: an internationalised address is UTF-8, and nothing else. nullopt when it is.
std::optional<Reply> utf8_problem(const std::string& a, const char* role) {
  base::Utf8Check c = base::check_utf8(a, /*refuse_controls=*/true);
  if (c.ok()) return std::nullopt;
  return Reply{501, "5.6.7", "Bad " + std::string(role) + " address: " + base::utf8_error_text(c.error) +
                                 " at octet " + std::to_string(c.offset + 1) + " (RFC 6531 needs valid UTF-8)"};
}

// The reply for an address that cannot be taken, nullopt when it can. `role` is "sender" or
// "recipient"; `syntax_status` the enhanced code for that role (5.1.7 sender, 5.1.3 recipient);
// `smtputf8`: the transaction's MAIL carried SMTPUTF8.
std::optional<Reply> address_problem(const std::string& a, const char* role, const char* syntax_status,
                                     bool smtputf8) {
  if (base::has_8bit(a)) {
    // RFC 6531 3.5: a UTF-8 address outside an SMTPUTF8 transaction is refused, never relayed raw.
    if (!smtputf8) {
      return Reply{553, "5.6.7", std::string("Non-ASCII ") + role +
                                     " address needs the SMTPUTF8 parameter on MAIL FROM (RFC 6531)"};
    }
    if (auto bad = utf8_problem(a, role)) return bad;
  }
  if (auto why = length_problem(a)) return Reply{501, syntax_status, "Bad " + std::string(role) + " address: " + *why};
  if (!valid_mailbox(a)) return Reply{553, syntax_status, "Bad " + std::string(role) + " address syntax"};
  return std::nullopt;
}

// RFC 6533 3: in an SMTPUTF8 transaction ORCPT may be "utf-8;" with UTF-8 itself (unitext).
// Returns the value with each valid non-ASCII character as one plain octet, so that xtext_decode
// judges the rest; a value that may not hold UTF-8 here, or not valid UTF-8, stays as it is
// (and fails there).
std::string orcpt_shape(const std::string& value, bool smtputf8) {
  if (!smtputf8 || !base::has_8bit(value)) return value;
  if (value.size() < 6 || upper(value.substr(0, 6)) != "UTF-8;" || !base::check_utf8(value, true).ok()) return value;
  std::string out;
  for (unsigned char c : value) {
    if (c < 0x80) out += static_cast<char>(c);
    else if (c >= 0xc0) out += 'U';  // one per character: its lead byte
  }
  return out;
}

// Splits "<addr> P1=V1 P2" into the address and the parameter words.
bool split_path(const std::string& rest, std::string* addr, std::vector<std::string>* params) {
  size_t i = 0;
  while (i < rest.size() && rest[i] == ' ') ++i;  // some clients send "FROM: <a>"
  if (i >= rest.size() || rest[i] != '<') return false;
  auto close = rest.find('>', i);
  if (close == std::string::npos) return false;
  *addr = rest.substr(i + 1, close - i - 1);
  // Source routes (RFC 5321 Appendix C) are ignored as the RFC allows.
  if (!addr->empty() && (*addr)[0] == '@') {
    auto colon = addr->find(':');
    if (colon == std::string::npos) return false;
    *addr = addr->substr(colon + 1);
  }
  std::string tail = rest.substr(close + 1);
  size_t p = 0;
  while (p < tail.size()) {
    if (tail[p] == ' ') {
      ++p;
      continue;
    }
    auto sp = tail.find(' ', p);
    if (p == 0) return false;  // a parameter must be separated from ">"
    params->push_back(tail.substr(p, sp == std::string::npos ? std::string::npos : sp - p));
    p = sp == std::string::npos ? tail.size() : sp;
  }
  return true;
}

void split_param(const std::string& p, std::string* key, std::string* value, bool* has_value) {
  auto eq = p.find('=');
  *has_value = eq != std::string::npos;
  *key = upper(p.substr(0, eq));
  *value = *has_value ? p.substr(eq + 1) : "";
}

}  // namespace

Command parse_command(const std::string& line) {
  static const struct {
    const char* name;
    Verb verb;
  } verbs[] = {{"HELO", Verb::Helo}, {"EHLO", Verb::Ehlo}, {"MAIL", Verb::Mail}, {"RCPT", Verb::Rcpt},
               {"DATA", Verb::Data}, {"RSET", Verb::Rset}, {"NOOP", Verb::Noop}, {"QUIT", Verb::Quit},
               {"VRFY", Verb::Vrfy}, {"STARTTLS", Verb::StartTls}, {"HELP", Verb::Help},
               {"EXPN", Verb::Expn}, {"BDAT", Verb::Bdat}, {"AUTH", Verb::Auth}};
  Command c;
  auto sp = line.find(' ');
  std::string word = upper(line.substr(0, sp));
  for (const auto& v : verbs) {
    if (word == v.name) {
      c.verb = v.verb;
      break;
    }
  }
  if (sp != std::string::npos) c.arg = line.substr(sp + 1);
  while (!c.arg.empty() && c.arg.back() == ' ') c.arg.pop_back();
  return c;
}

std::optional<MailFrom> parse_mail_from(const std::string& arg, Reply* error) {
  if (!iprefix(arg, "FROM:")) {
    *error = syntax("Syntax: MAIL FROM:<address> [parameters]");
    return std::nullopt;
  }
  MailFrom m;
  std::vector<std::string> params;
  if (!split_path(arg.substr(5), &m.address, &params)) {
    *error = syntax("Syntax: MAIL FROM:<address> [parameters]");
    return std::nullopt;
  }
  for (const auto& p : params) {
    std::string key, value;
    bool has;
    split_param(p, &key, &value, &has);
    if (key == "SIZE" && has && !value.empty() && value.size() <= 19 &&
        value.find_first_not_of("0123456789") == std::string::npos) {
      m.size = std::stoull(value);
    } else if (key == "BODY" && has && (upper(value) == "7BIT" || upper(value) == "8BITMIME")) {
      m.body = upper(value) == "7BIT" ? BodyType::SevenBit : BodyType::EightBitMime;
    } else if (key == "RET" && has && (upper(value) == "FULL" || upper(value) == "HDRS")) {
      if (m.ret != Ret::Unset) {
        *error = syntax("RET given twice");
        return std::nullopt;
      }
      m.ret = upper(value) == "FULL" ? Ret::Full : Ret::Hdrs;
    } else if (key == "ENVID" && has) {
      auto d = xtext_decode(value);
      if (!d || d->size() > 100) {
        *error = syntax("Bad ENVID value (xtext, at most 100 characters)");
        return std::nullopt;
      }
      m.envid = *d;
    } else if (key == "SMTPUTF8" && !has && !m.smtputf8) {
      m.smtputf8 = true;
    } else if (key == "REQUIRETLS" && !has && !m.requiretls) {
      m.requiretls = true;
    } else if (key == "SIZE" || key == "BODY" || key == "RET" || key == "SMTPUTF8" || key == "REQUIRETLS") {
      *error = syntax("Bad " + key + " parameter value");
      return std::nullopt;
    } else {
      *error = {555, "5.5.4", "Unsupported MAIL parameter " + key};
      return std::nullopt;
    }
  }
  // After the parameters: whether a UTF-8 sender may pass depends on SMTPUTF8 among them.
  if (auto bad = m.address.empty() ? std::nullopt : address_problem(m.address, "sender", "5.1.7", m.smtputf8)) {
    *error = *bad;
    return std::nullopt;
  }
  return m;
}

std::optional<RcptTo> parse_rcpt_to(const std::string& arg, bool smtputf8, Reply* error) {
  if (!iprefix(arg, "TO:")) {
    *error = syntax("Syntax: RCPT TO:<address> [parameters]");
    return std::nullopt;
  }
  RcptTo r;
  std::vector<std::string> params;
  if (!split_path(arg.substr(3), &r.address, &params)) {
    *error = syntax("Syntax: RCPT TO:<address> [parameters]");
    return std::nullopt;
  }
  if (auto bad = address_problem(r.address, "recipient", "5.1.3", smtputf8)) {
    *error = *bad;
    return std::nullopt;
  }
  for (const auto& p : params) {
    std::string key, value;
    bool has;
    split_param(p, &key, &value, &has);
    if (key == "NOTIFY" && has && r.notify == 0) {
      std::string v = upper(value);
      size_t start = 0;
      while (start <= v.size()) {
        auto comma = v.find(',', start);
        std::string w = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (w == "NEVER") r.notify |= NotifyNever;
        else if (w == "SUCCESS") r.notify |= NotifySuccess;
        else if (w == "FAILURE") r.notify |= NotifyFailure;
        else if (w == "DELAY") r.notify |= NotifyDelay;
        else {
          *error = syntax("Bad NOTIFY value (NEVER or SUCCESS,FAILURE,DELAY)");
          return std::nullopt;
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      if ((r.notify & NotifyNever) && r.notify != NotifyNever) {
        *error = syntax("NOTIFY=NEVER cannot be combined with other values");
        return std::nullopt;
      }
    } else if (key == "ORCPT" && has && r.orcpt.empty()) {
      auto d = xtext_decode(orcpt_shape(value, smtputf8));
      auto semi = d ? d->find(';') : std::string::npos;
      if (!d || semi == std::string::npos || semi == 0 || d->size() > 500) {
        *error = syntax("Bad ORCPT value (addr-type;xtext)");
        return std::nullopt;
      }
      r.orcpt = value;  // kept encoded: it is copied verbatim into DSNs
    } else if (key == "NOTIFY" || key == "ORCPT") {
      *error = syntax("Bad or repeated " + key + " parameter");
      return std::nullopt;
    } else {
      *error = {555, "5.5.4", "Unsupported RCPT parameter " + key};
      return std::nullopt;
    }
  }
  return r;
}

}  // namespace relay
