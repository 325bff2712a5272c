// utf8_text_test.cc - the strict UTF-8 validator (RFC 3629) and the safe display of text from
// clients and peers (router/base/utf8_text.h): table-driven, got/want.
#include <string>

#include "relay/core/log.h"
#include "router/base/utf8_text.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using base::Utf8Error;

TEST_GROUP(Utf8Text){};

TEST(Utf8Text, StrictValidation) {
  struct Case {
    std::string in;
    Utf8Error want;
    size_t offset;
  } cases[] = {
      {"plain", Utf8Error::None, 0},
      {"j\xc3\xb6rg", Utf8Error::None, 0},                       // 2 bytes
      {"\xe2\x82\xac", Utf8Error::None, 0},                       // U+20AC, 3 bytes
      {"\xf0\x9f\x98\x80", Utf8Error::None, 0},                   // U+1F600, 4 bytes
      {"\xf4\x8f\xbf\xbf", Utf8Error::None, 0},                   // U+10FFFF, the last
      {"\xef\xbf\xbd", Utf8Error::None, 0},                       // U+FFFD
      {"a\xc0\xaf", Utf8Error::Overlong, 1},                      // "/" in 2 bytes
      {"\xc1\xbf", Utf8Error::Overlong, 0},
      {"\xe0\x80\xaf", Utf8Error::Overlong, 0},                   // 3 bytes
      {"\xe0\x9f\xbf", Utf8Error::Overlong, 0},                   // U+07FF in 3 bytes
      {"\xf0\x80\x80\xaf", Utf8Error::Overlong, 0},               // 4 bytes
      {"\xf0\x8f\xbf\xbf", Utf8Error::Overlong, 0},               // U+FFFF in 4 bytes
      {"\xed\xa0\x80", Utf8Error::Surrogate, 0},                  // U+D800
      {"\xed\xbf\xbf", Utf8Error::Surrogate, 0},                  // U+DFFF
      {"\xed\x9f\xbf", Utf8Error::None, 0},                       // U+D7FF, just below
      {"\xf4\x90\x80\x80", Utf8Error::TooLarge, 0},               // U+110000
      {"\xf5\x80\x80\x80", Utf8Error::BadByte, 0},
      {"\xff", Utf8Error::BadByte, 0},
      {"ab\x80", Utf8Error::BadByte, 2},                          // stray continuation
      {"\xc3", Utf8Error::Truncated, 0},
      {"\xe2\x82", Utf8Error::Truncated, 0},
      {"\xe2\x82z", Utf8Error::Truncated, 0},
  };
  for (const auto& c : cases) {
    base::Utf8Check got = base::check_utf8(c.in, false);
    std::string msg = "\"" + base::printable_utf8(c.in) + "\": got " + base::utf8_error_text(got.error) + " at " +
                      std::to_string(got.offset) + ", want " + base::utf8_error_text(c.want) + " at " +
                      std::to_string(c.offset);
    CHECK_TEXT(got.error == c.want && got.offset == c.offset, msg.c_str());
  }
}

TEST(Utf8Text, ControlsRefusedOnRequest) {
  const char* controls[] = {"a\x01", "a\x1f", "a\x7f", "a\xc2\x80", "a\xc2\x85", "a\xc2\x9f"};
  for (const char* c : controls) {
    CHECK_TEXT(base::check_utf8(c, true).error == Utf8Error::Control, base::printable_utf8(c).c_str());
    CHECK_TEXT(base::check_utf8(c, false).ok(), base::printable_utf8(c).c_str());
  }
  CHECK(base::check_utf8("a\xc2\xa0", true).ok());  // U+00A0 is no control
}

TEST(Utf8Text, PrintableKeepsUtf8AndEscapesTheRest) {
  struct Case {
    std::string in, want;
  } cases[] = {
      {"j\xc3\xb6rg@b\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc" "cher.example"},
      {"a\r\nb", "a\\u000D\\u000Ab"},
      {"\x1b[31mred", "\\u001B[31mred"},                         // no terminal escapes
      {"a\xc2\x85" "b", "a\\u0085b"},                           // C1 NEL
      {"a\xe2\x80\xae" "b", "a\\u202Eb"},                       // right-to-left override
      {"a\xe2\x80\xa8" "b", "a\\u2028b"},                       // line separator
      {"x\xff\xfey", "x\\xFF\\xFEy"},                            // not UTF-8
      {"c:\\dir", "c:\\\\dir"},                                  // a backslash is doubled
  };
  for (const auto& c : cases) {
    std::string got = base::printable_utf8(c.in);
    CHECK_TEXT(got == c.want, ("got \"" + got + "\", want \"" + c.want + "\"").c_str());
  }
}

// The log line: readable UTF-8, nothing that could end the line or fake another one.
TEST(Utf8Text, LogLinesAreSafe) {
  std::string line = relay::log_format(relay::LogStyle::Kv, "delivery",
                                       {{"rcpt", "<j\xc3\xb6rg@b\xc3\xbc" "cher.example>"},
                                        {"reason", "550 bad\r\nevent=fake \xc2\x85\xff"}});
  CHECK_TEXT(line.find("rcpt=<j\xc3\xb6rg@b\xc3\xbc" "cher.example>") != std::string::npos, line.c_str());
  CHECK_TEXT(line.find("reason=\"550 bad\\u000D\\u000Aevent=fake \\u0085\\xFF\"") != std::string::npos, line.c_str());
  CHECK_EQUAL(line.size() - 1, line.find('\n'));
}
