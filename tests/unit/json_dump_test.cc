// json_dump_test.cc - the one JSON writer (relay/core/json_dump.h) and two of its users: the text
// always parses as strict JSON (nlohmann's parser refuses invalid UTF-8), control characters are
// escaped, non-ASCII UTF-8 is kept, and invalid UTF-8 in a value (a client's MAIL FROM, a
// peer's reply) becomes U+FFFD instead of an exception out of the command or the daemon.
// Also the shape `queue list --json` pins (SPEC section 4): names, order and types.
#include <stdlib.h>

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relay/cli/cmd_queue.h"
#include "relay/core/json_dump.h"
#include "relay/core/log.h"
#include "relay/queue/queue_store.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;
using Json = nlohmann::ordered_json;

namespace {

const std::string kBad = "x\xff\xfe@bad.example";           // not UTF-8
const std::string kFixed = "x\xef\xbf\xbd\xef\xbf\xbd@bad.example";  // each bad octet one U+FFFD

// Strict parse; a failure names the text.
Json parse(const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    FAIL((std::string("not JSON: ") + e.what() + "\n" + text).c_str());
  }
  return nullptr;
}

void check_eq(const std::string& what, const std::string& got, const std::string& want) {
  if (got != want) FAIL((what + ": got \"" + got + "\", want \"" + want + "\"").c_str());
}

std::vector<std::string> keys(const Json& obj) {
  std::vector<std::string> out;
  for (const auto& kv : obj.items()) out.push_back(kv.key());
  return out;
}

}  // namespace

TEST_GROUP(JsonDump){};

TEST(JsonDump, EscapesAndReplacesInvalidUtf8) {
  const std::string text = json_dump({{"sender", kBad}, {"ctl", "a\"b\\c\n\x01"}, {"name", "J\xc3\xb6rg"}});
  check_eq("text", text,
           "{\"sender\":\"x\xef\xbf\xbd\xef\xbf\xbd@bad.example\",\"ctl\":\"a\\\"b\\\\c\\n\\u0001\","
           "\"name\":\"J\xc3\xb6rg\"}");
  Json back = parse(text);
  check_eq("sender", back["sender"], kFixed);
  check_eq("ctl", back["ctl"], "a\"b\\c\n\x01");
  check_eq("indented", json_dump({{"a", {1, 2}}}, 2), "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
}

TEST(JsonDump, LogLineWithInvalidUtf8Parses) {
  const std::string line = log_format(LogStyle::Json, "accepted", {{"id", "Q1"}, {"from", "<" + kBad + ">"}});
  CHECK(!line.empty() && line.back() == '\n');
  Json doc = parse(line);
  const std::vector<std::string> want = {"ts", "event", "id", "from"};
  CHECK(keys(doc) == want);
  check_eq("event", doc["event"], "accepted");
  check_eq("from", doc["from"], "<" + kFixed + ">");
}

TEST(JsonDump, QueueListJsonKeepsItsShape) {
  char tmpl[] = "/tmp/smarthost-json-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  config::Config cfg;
  cfg.queue.path = dir;
  cfg.queue.map_size_mb = 16;
  {
    std::string error;
    auto store = QueueStore::open(dir, 16, &error);
    CHECK_TEXT(store != nullptr, error.c_str());
    Envelope e;
    e.id = "ID1";
    e.sender = kBad;
    e.size = 42;
    e.arrival_us = 1795392000123456;
    e.client_ip = "127.0.0.1";
    Recipient r;
    r.address = "r@dest.example";
    r.route = "default";
    r.state = RcptState::Deferred;
    r.attempts = 3;
    r.next_attempt = 1795392300;
    r.last_error = "451 \xc3 try later";
    r.dsn_status = "4.0.0";
    e.recipients.push_back(r);
    CHECK(store->put_message(e, "body") == StoreStatus::Ok);
  }
  CliArgs args;
  args.positional = {"list"};
  args.flags = {"--json"};
  std::istringstream in;
  std::ostringstream out, err;
  CHECK_EQUAL(0, cmd_queue(cfg, args, in, out, err));
  CHECK(system(("rm -rf '" + dir + "'").c_str()) == 0);
  Json doc = parse(out.str());
  const Json& m = doc["messages"].at(0);
  CHECK(keys(m) == std::vector<std::string>(
                       {"id", "sender", "size", "arrival", "client", "held", "active", "recipients", "smtputf8",
                        "requiretls"}));
  CHECK(m["held"] == false && m["active"] == false);  // no relay runs: nothing is being delivered
  check_eq("sender", m["sender"], kFixed);
  CHECK(m["size"].is_number_unsigned() && m["size"] == 42);
  check_eq("arrival", m["arrival"], "2026-11-23T00:00:00Z");
  const Json& r = m["recipients"].at(0);
  // The pinned names first, in order; the typed outcome's fields follow (fields may be added).
  CHECK(keys(r) == std::vector<std::string>({"address", "route", "state", "attempts", "next_attempt", "last_error",
                                             "dsn_status", "failure", "relay", "tls_version", "tls_cipher",
                                             "tls_verdict"}));
  check_eq("state", r["state"], "deferred");
  CHECK(r["attempts"].is_number() && r["attempts"] == 3);
  check_eq("next_attempt", r["next_attempt"], "2026-11-23T00:05:00Z");
  check_eq("last_error", r["last_error"], "451 \xef\xbf\xbd try later");
}

// C1 controls, separators and bidi overrides come out as \u escapes (nlohmann escapes only C0),
// so a JSON log line or queue list shown on a terminal cannot lie; the value parses back intact.
TEST(JsonDump, DeceptiveCharactersAreEscaped) {
  const std::string v = "j\xc3\xb6rg \xc2\x85 \xe2\x80\xae \xe2\x80\xa8 \xe2\x81\xa6 \x1b";
  const std::string text = json_dump({{"a", v}});
  check_eq("text", text, "{\"a\":\"j\xc3\xb6rg \\u0085 \\u202e \\u2028 \\u2066 \\u001b\"}");
  check_eq("back", parse(text)["a"], v);
}
