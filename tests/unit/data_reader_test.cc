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
      {"NUL in text", std::string("a\0b\r\n.\r\n", 8), DataReader::Error::Nul},
      {"NUL at line start", std::string("a\r\n\0\r\n.\r\n", 9), DataReader::Error::Nul},
      {"NUL after a dot", std::string("a\r\n.\0\r\n.\r\n", 10), DataReader::Error::Nul},
      {"NUL before the end", std::string("a\r\n\0.\r\n.\r\n", 10), DataReader::Error::Nul},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {1u, 1000u}) {  // octet by octet, and the fast path over whole runs
      std::string name = std::string(c.name) + ", chunk " + std::to_string(chunk);
      Outcome o = feed(c.in, chunk);
      CHECK_TEXT(o.done, name.c_str());
      // The smuggled command must have been swallowed as data, up to the real end.
      CHECK_EQUAL_TEXT(c.in.size(), o.consumed, name.c_str());
      std::string msg = name + ": got " + relay::data_error_name(o.error);
      CHECK_TEXT(o.error == c.want, msg.c_str());
    }
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

// RFC 1870 counts the message as sent with CRLF line ends, without the dot-stuffing and without
// the final ".CRLF": a message of exactly SIZE octets is accepted, one octet more is not.
TEST(DataReader, SizeLimitCountsTheMessageNotTheWire) {
  std::string body = "Subject: s\r\n\r\n.leading dot\r\n" + std::string(50, 'z') + "\r\n";
  std::string wire = "Subject: s\r\n\r\n..leading dot\r\n" + std::string(50, 'z') + "\r\n.\r\n";
  for (size_t chunk : {1u, 7u, 1000u}) {
    std::string label = "chunk " + std::to_string(chunk);
    Outcome exact = feed(wire, chunk, body.size());
    CHECK_TEXT(exact.done, label.c_str());
    std::string msg = label + ": exact size got " + relay::data_error_name(exact.error);
    CHECK_TEXT(exact.error == DataReader::Error::None, msg.c_str());
    CHECK_TEXT(exact.body == body, label.c_str());
    Outcome over = feed(wire, chunk, body.size() - 1);
    CHECK_TEXT(over.done, label.c_str());
    CHECK_TEXT(over.error == DataReader::Error::TooBig, label.c_str());
    CHECK_EQUAL_TEXT(wire.size(), over.consumed, label.c_str());
  }
}

// The first error wins however the bytes are chunked (found by fuzz_data_reader): a NUL before
// the octet that makes a line too long is reported as NUL, one after it as the long line.
TEST(DataReader, FirstErrorWinsInAnyChunking) {
  std::string nul_first = std::string("a\0", 2) + std::string(1200, 'x') + "\r\n.\r\n";
  std::string long_first = std::string(1200, 'x') + std::string("\0", 1) + "\r\n.\r\n";
  for (size_t chunk : {1u, 7u, 5000u}) {
    std::string label = "chunk " + std::to_string(chunk);
    CHECK_TEXT(feed(nul_first, chunk).error == DataReader::Error::Nul, label.c_str());
    CHECK_TEXT(feed(long_first, chunk).error == DataReader::Error::LineTooLong, label.c_str());
  }
}
