// smtp_command.h - parsing of SMTP command lines (RFC 5321, RFC 3461 DSN).
//
// Pure functions over one command line without its CRLF. Failures are values:
// a Command with verb Unknown, or a ParamError with the reply to send.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "relay/queue/envelope_params.h"

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

struct MailFrom {
  std::string address;  // without <>; empty for the null sender
  std::optional<unsigned long long> size;
  BodyType body = BodyType::SevenBit;
  Ret ret = Ret::Unset;
  std::string envid;    // xtext-decoded
  bool smtputf8 = false;  // RFC 6531: the transaction may carry UTF-8 addresses and headers
  bool requiretls = false;  // RFC 8689: the session must be in TLS (the server checks that)
};

struct RcptTo {
  std::string address;
  unsigned notify = 0;  // bit set of Notify; 0 = not given
  std::string orcpt;    // "rfc822;addr" as given (xtext-decoded)
};

// "FROM:<a@b> SIZE=10 ..." → MailFrom, or the reply explaining what is wrong.
// Addresses with octets above 127 are UTF-8 addresses (RFC 6531): taken only in a transaction
// whose MAIL carries SMTPUTF8 (`smtputf8` for RCPT), else 553 5.6.7; they must be strictly valid
// UTF-8 without control characters (else 501 5.6.7) with a domain IDNA2008 allows.
std::optional<MailFrom> parse_mail_from(const std::string& arg, Reply* error);
std::optional<RcptTo> parse_rcpt_to(const std::string& arg, bool smtputf8, Reply* error);

}  // namespace relay
