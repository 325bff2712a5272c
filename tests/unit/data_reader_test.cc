// data_reader_test.cc - DATA phase: end detection, dot-stuffing, smuggling, limits.
#include <CppUTest/TestHarness.h>

#include <string>

#include "relay/smtpd/data_reader.h"

using relay::DataReader;

namespace {

struct Outcome {
  bool done;
  size_t consumed;
  DataReader::Error error;
  std::string body;
};

// Feeds `in` in chunks of `chunk` bytes, as TCP might deliver it.
Outcome feed(const std::string& in, size_t chunk, size_t max = 1 << 20) {
  DataReader r(max);
  size_t used = 0;
  while (used < in.size() && !r.done()) {
    size_t n = std::min(chunk, in.size() - used);
    used += r.feed(in.data() + used, n);
  }
  return {r.done(), used, r.error(), r.body()};
}

}  // namespace

TEST_GROUP(DataReader){};

TEST(DataReader, EndsAtCrLfDotCrLfInAnyChunking) {
  std::string msg = "Subject: x\r\n\r\nhello\r\n..dot\r\n.\r\nQUIT\r\n";
  for (size_t chunk : {1u, 2u, 3u, 7u, 1000u}) {
    Outcome o = feed(msg, chunk);
    std::string label = "chunk " + std::to_string(chunk);
    CHECK_TEXT(o.done, label.c_str());
    CHECK_TEXT(o.error == DataReader::Error::None, label.c_str());
    STRCMP_EQUAL_TEXT("Subject: x\r\n\r\nhello\r\n.dot\r\n", o.body.c_str(), label.c_str());
    // Pipelined QUIT stays for the command reader.
    CHECK_EQUAL_TEXT(msg.size() - 6, o.consumed, label.c_str());
  }
}

TEST(DataReader, EmptyMessage) {
  Outcome o = feed(".\r\n", 1);
  CHECK(o.done);
  STRCMP_EQUAL("", o.body.c_str());
}

TEST(DataReader, SmugglingAttemptsAreFlaggedAndDoNotEndData) {
  struct {
    const char* name;
    std::string in;
    DataReader::Error want;
  } cases[] = {
      {"bare LF dot bare LF", "a\r\n\n.\nMAIL FROM:<x@y>\r\n.\r\n", DataReader::Error::BareLf},
      {"CRLF dot LF", "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", DataReader::Error::BareLf},
      {"LF dot CRLF", "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", DataReader::Error::BareLf},
      {"bare CR dot bare CR", "a\r.\rMAIL FROM:<x@y>\r\n.\r\n", DataReader::Error::BareCr},
      {"CRLF dot CR", "a\r\n.\rMAIL\r\n.\r\n", DataReader::Error::BareCr},
      {"bare LF in text", "line one\nline two\r\n.\r\n", DataReader::Error::BareLf},
  };
  for (const auto& c : cases) {
    Outcome o = feed(c.in, 1);
    CHECK_TEXT(o.done, c.name);
    // The smuggled command must have been swallowed as data, up to the real end.
    CHECK_EQUAL_TEXT(c.in.size(), o.consumed, c.name);
    std::string msg = std::string(c.name) + ": got " + relay::data_error_name(o.error);
    CHECK_TEXT(o.error == c.want, msg.c_str());
  }
}

TEST(DataReader, LineLimit) {
  std::string ok(998, 'x');
  Outcome o1 = feed(ok + "\r\n.\r\n", 100);
  CHECK(o1.error == DataReader::Error::None);
  std::string too_long(999, 'x');
  Outcome o2 = feed(too_long + "\r\n.\r\n", 100);
  CHECK(o2.done);
  CHECK(o2.error == DataReader::Error::LineTooLong);
}

TEST(DataReader, SizeLimitKeepsScanningToTheEnd) {
  std::string big;
  for (int i = 0; i < 100; ++i) big += std::string(80, 'y') + "\r\n";
  Outcome o = feed(big + ".\r\nNOOP\r\n", 64, 1000);
  CHECK(o.done);
  CHECK(o.error == DataReader::Error::TooBig);
  CHECK_EQUAL(big.size() + 3, o.consumed);
  CHECK(o.body.empty());
}
