// log_test.cc - the event log's line formats (relay/core/log.h): key=value lines print every
// value bare or quoted, JSON lines keep numbers and booleans typed (issue 14 item 3), and
// session ids carry a tag drawn once per start (issue 14 item 1).
#include <string>

#include <nlohmann/json.hpp>

#include "relay/core/log.h"
#include "relay/notify/mime_text.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;
using Json = nlohmann::ordered_json;

TEST_GROUP(Log){};

TEST(Log, JsonLinesKeepNumbersAndBooleans) {
  const size_t size = 1234;
  const std::string line = log_format(LogStyle::Json, "accepted",
                                      {{"id", "Q1"}, {"size", size}, {"port", uint16_t{25}}, {"delta", -3},
                                       {"held", true}, {"dsn", "2.0.0"}, {"count", "12"}});
  Json doc = Json::parse(line);
  CHECK_TEXT(doc["size"].is_number_unsigned() && doc["size"] == 1234, line.c_str());
  CHECK_TEXT(doc["port"].is_number_integer() && doc["port"] == 25, line.c_str());
  CHECK_TEXT(doc["delta"].is_number_integer() && doc["delta"] == -3, line.c_str());
  CHECK_TEXT(doc["held"].is_boolean() && doc["held"] == true, line.c_str());
  CHECK_TEXT(doc["dsn"].is_string(), line.c_str());
  CHECK_TEXT(doc["count"].is_string(), line.c_str());  // text stays text, even when it looks like a number
}

TEST(Log, KvLinesPrintTypedValuesBare) {
  const std::string line = log_format(LogStyle::Kv, "accepted",
                                      {{"size", size_t{120}}, {"held", false}, {"msgid", "<a b@x.example>"}});
  const std::string want = "event=accepted size=120 held=false msgid=\"<a b@x.example>\"\n";
  CHECK_TEXT(line.size() > want.size() && line.compare(line.size() - want.size(), want.size(), want) == 0,
             line.c_str());
}

TEST(Log, SessionIdsCarryTheRunTag) {
  const std::string a = log_session_id('s', 1), b = log_session_id('c', 22);
  CHECK_EQUAL(std::string("s1-").size() + 6, a.size());
  STRCMP_EQUAL(a.substr(3).c_str(), b.substr(4).c_str());  // one tag per process
  STRCMP_EQUAL("c22-", b.substr(0, 4).c_str());
}

TEST(Log, MessageIdIsTheUnfoldedHeaderValue) {
  const std::string msg = "Subject: x\r\nmessage-id:\r\n <a.b@x.example> \r\nFrom: a@x.example\r\n\r\n"
                          "Message-ID: <body@x.example>\r\n";
  STRCMP_EQUAL("<a.b@x.example>", header_value(msg, "Message-ID").c_str());
  STRCMP_EQUAL("", header_value("Subject: x\r\n\r\nMessage-ID: <b@x>\r\n", "Message-ID").c_str());
}
