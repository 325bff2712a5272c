// smtp_command.h - parsing of SMTP command lines (RFC 5321, RFC 3461 DSN).
//
// Pure functions over one command line without its CRLF. Failures are values:
// a Command with verb Unknown, or a ParamError with the reply to send.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace relay {

enum class Verb { Helo, Ehlo, Mail, Rcpt, Data, Rset, Noop, Quit, Vrfy, StartTls, Help, Expn, Bdat, Auth, Unknown };

struct Command {
  Verb verb = Verb::Unknown;
  std::string arg;  // everything after the verb and one space
};

Command parse_command(const std::string& line);

// Reply text for a parameter problem: code, enhanced code, text.
struct Reply {
  int code = 0;
  std::string status;  // "5.5.4"
  std::string text;
};

enum class BodyType { SevenBit, EightBitMime };
enum class Ret { Unset, Full, Hdrs };

struct MailFrom {
  std::string address;  // without <>; empty for the null sender
  std::optional<unsigned long long> size;
  BodyType body = BodyType::SevenBit;
  Ret ret = Ret::Unset;
  std::string envid;    // xtext-decoded
};

struct RcptTo {
  std::string address;
  unsigned notify = 0;  // bit set of Notify; 0 = not given
  std::string orcpt;    // "rfc822;addr" as given (xtext-decoded)
};

enum Notify : unsigned { NotifyNever = 1, NotifySuccess = 2, NotifyFailure = 4, NotifyDelay = 8 };

// "FROM:<a@b> SIZE=10 ..." → MailFrom, or the reply explaining what is wrong.
std::optional<MailFrom> parse_mail_from(const std::string& arg, Reply* error);
std::optional<RcptTo> parse_rcpt_to(const std::string& arg, Reply* error);

// RFC 3461 xtext ("+2B" escapes). nullopt on a malformed escape.
std::optional<std::string> xtext_decode(const std::string& in);
std::string xtext_encode(const std::string& in);

// The domain part of an address, lower-cased; "" when there is none.
std::string address_domain(const std::string& address);

}  // namespace relay
