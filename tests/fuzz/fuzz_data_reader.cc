// fuzz_data_reader.cc - libFuzzer target: the DATA phase reader (relay/data_reader.h).
//
// The first bytes pick a chunking (TCP and TLS split data anywhere); the rest is fed once whole
// and once in those chunks. Both runs must agree on done, bytes consumed, error and body (the
// reader's state machine may not depend on where the chunks break). A message accepted without
// error holds no bare CR or LF, no NUL, no line over 998 octets, and never more than max_size octets.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "relay/smtpd/data_reader.h"

namespace {

struct Run {
  bool done;
  size_t used;
  relay::DataReader::Error error;
  std::string body;
};

Run feed(const uint8_t* chunks, size_t nchunks, const std::string& in, size_t max) {
  relay::DataReader r(max);
  size_t used = 0, k = 0;
  while (used < in.size() && !r.done()) {
    size_t n = nchunks ? (chunks[k++ % nchunks] % 64) + 1 : in.size();
    if (n > in.size() - used) n = in.size() - used;
    size_t took = r.feed(in.data() + used, n);
    if (took > n) abort();
    if (took < n && !r.done()) abort();  // only the end of DATA stops it early
    used += took;
  }
  return {r.done(), used, r.error(), r.body()};
}

void check_clean(const std::string& body) {
  size_t line = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == '\r') {
      if (i + 1 >= body.size() || body[i + 1] != '\n') abort();
      ++i;
      line = 0;
    } else if (c == '\n' || c == '\0') {
      abort();
    } else if (++line > 998) {
      abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t nchunks = data[0] % 8;
  size_t max = 1024 + static_cast<size_t>(data[1]) * 64;  // 1 KiB .. 17 KiB: TooBig is reachable
  if (size < 2 + nchunks) return 0;
  const uint8_t* chunks = data + 2;
  std::string in(reinterpret_cast<const char*>(data + 2 + nchunks), size - 2 - nchunks);
  Run whole = feed(nullptr, 0, in, max);
  Run parts = feed(chunks, nchunks, in, max);
  if (whole.done != parts.done || whole.used != parts.used || whole.error != parts.error ||
      whole.body != parts.body) {
    abort();
  }
  if (whole.done && whole.error == relay::DataReader::Error::None) {
    check_clean(whole.body);
    if (whole.body.size() > max) abort();
  }
  if (whole.error == relay::DataReader::Error::TooBig && !whole.body.empty()) abort();
  return 0;
}
