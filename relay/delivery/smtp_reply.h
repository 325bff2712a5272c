// smtp_reply.h - reading SMTP server replies (RFC 5321 4.2), for our client.
//
// Replies arrive in pieces and several at once (PIPELINING). take_reply()
// removes one complete reply from a buffer. A line that is not "DDD[ -]text"
// or is longer than 4096 octets makes the reply Malformed; the caller treats
// that as a protocol failure of the host.
#pragma once

#include <string>
#include <vector>

namespace relay {

struct SmtpReply {
  int code = 0;                     // 0: malformed
  std::vector<std::string> lines;   // text after "DDD-" / "DDD ", one per line
  std::string status;               // enhanced status code when the first line has one
  std::string text() const;         // "550 5.1.1 text ..." on one line, for logs and DSNs
  bool positive() const { return code >= 200 && code < 400; }
  bool temporary() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500 || code == 0; }
};

enum class ReplyParse { Complete, NeedMore, Malformed };

// Looks at `data` (the bytes received so far); on Complete, *used is how many
// bytes the reply took and *out holds it.
ReplyParse parse_reply(const char* data, size_t len, size_t* used, SmtpReply* out);

}  // namespace relay
