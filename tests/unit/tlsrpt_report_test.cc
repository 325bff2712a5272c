// tlsrpt_report_test.cc - TLS-RPT store counts, report JSON (checked by Python's json parser),
// gzip round trip, TXT records and the report message.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "relay/notify/tlsrpt_report.h"
#include "relay/notify/tlsrpt_store.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/smarthost-rpt-XXXXXX";
  return mkdtemp(tmpl);
}

void remove_dir(const std::string& d) {
  std::string cmd = "rm -rf '" + d + "'";
  CHECK(system(cmd.c_str()) == 0);
}

// Runs a python3 snippet with FILE as argv[1]; returns its stdout and exit status.
std::string run_python(const std::string& code, const std::string& file, int* status) {
  std::string dir = temp_dir();
  std::string script = dir + "/t.py";
  std::ofstream(script) << code;
  std::string cmd = "/usr/bin/python3 '" + script + "' '" + file + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = p ? pclose(p) : -1;
  remove_dir(dir);
  return out;
}

TlsrptPolicy sts_policy() {
  TlsrptPolicy p;
  p.type = "sts";
  p.id = "20261123T170000";
  p.strings = {"version: STSv1", "mode: testing", "mx: mx1.test.example", "max_age: 86400"};
  p.mx_hosts = {"mx1.test.example"};
  return p;
}

const int64_t kDay = 1795392000;  // 2026-11-23T00:00:00Z

}  // namespace

TEST_GROUP(Tlsrpt){};

TEST(Tlsrpt, Days) {
  STRCMP_EQUAL("2026-11-23", utc_day(kDay + 3600).c_str());
  CHECK(day_start("2026-11-23").has_value());
  LONGS_EQUAL(kDay, *day_start("2026-11-23"));
  CHECK_FALSE(day_start("2026-02-30").has_value());
  CHECK_FALSE(day_start("yesterday").has_value());
}

TEST(Tlsrpt, StoreCountsAndMerges) {
  std::string dir = temp_dir();
  std::string err;
  {
    auto store = TlsrptStore::open(tlsrpt_dir(dir + "/queue"), &err);
    CHECK_TEXT(store != nullptr, err.c_str());
    TlsrptPolicy p = sts_policy();
    CHECK(store->record_success("test.example", p, "mx1.test.example", kDay + 10));
    CHECK(store->record_success("Test.Example.", p, "mx1.test.example", kDay + 20));
    FailureDetail f;
    f.result_type = "certificate-expired";
    f.sending_mta_ip = "127.0.0.1";
    f.receiving_mx_hostname = "mx1.test.example";
    f.receiving_ip = "127.0.0.1";
    CHECK(store->record_failure("test.example", p, f, kDay + 30));
    CHECK(store->record_failure("test.example", p, f, kDay + 40));
    f.result_type = "starttls-not-supported";
    CHECK(store->record_failure("test.example", p, f, kDay + 50));
    CHECK(store->record_success("other.example", TlsrptPolicy{}, "mx.other.example", kDay + 60));
    CHECK(store->record_success("test.example", p, "mx1.test.example", kDay + 86400));  // next day

    auto e = store->entries("2026-11-23");
    LONGS_EQUAL(2, e.size());
    STRCMP_EQUAL("other.example", e[0].domain.c_str());
    STRCMP_EQUAL("no-policy-found", e[0].policy.type.c_str());
    STRCMP_EQUAL("test.example", e[1].domain.c_str());
    LONGS_EQUAL(2, e[1].success);
    LONGS_EQUAL(3, e[1].failure);
    LONGS_EQUAL(2, e[1].details.size());
    LONGS_EQUAL(2, e[1].details[0].count);
    auto days = store->days();
    LONGS_EQUAL(2, days.size());
    CHECK_FALSE(store->is_sent("2026-11-23", "test.example"));
    CHECK(store->mark_sent("2026-11-23", "test.example"));
    CHECK(store->is_sent("2026-11-23", "test.example"));
    CHECK(store->prune_before("2026-11-24") >= 3);
    LONGS_EQUAL(0, store->entries("2026-11-23").size());
    LONGS_EQUAL(1, store->entries("2026-11-24").size());
  }
  remove_dir(dir);
}

TEST(Tlsrpt, EntryEncodingSurvivesAnyBytes) {
  TlsrptEntry e;
  e.day = "2026-11-23";
  e.domain = "test.example";
  e.policy = sts_policy();
  e.success = 7;
  FailureDetail d;
  d.result_type = "validation-failure";
  d.receiving_mx_helo = std::string("odd:helo\n\x01 12:\0z", 16);
  d.count = 4;
  e.details.push_back(d);
  auto back = decode_tlsrpt_entry(encode_tlsrpt_entry(e));
  CHECK(back.has_value());
  CHECK(back->details[0].receiving_mx_helo == d.receiving_mx_helo);
  LONGS_EQUAL(4, back->details[0].count);
  LONGS_EQUAL(7, back->success);
  CHECK_FALSE(decode_tlsrpt_entry("7:tlsrpt1").has_value());
}

TEST(Tlsrpt, ReportJsonHasEveryRequiredField) {
  TlsrptEntry e;
  e.day = "2026-11-23";
  e.domain = "test.example";
  e.policy = sts_policy();
  e.success = 5;
  e.failure = 2;
  FailureDetail d;
  d.result_type = "certificate-host-mismatch";
  d.sending_mta_ip = "192.0.2.1";
  d.receiving_mx_hostname = "mx1.test.example";
  d.receiving_ip = "198.51.100.1";
  d.count = 2;
  e.details.push_back(d);
  ReportMeta m{"Example \"Corp\"", "mailto:postmaster@example.com", "example.com",
               tlsrpt_report_id("2026-11-23", "test.example", "example.com"), kDay, kDay + 86399};
  std::string json = tlsrpt_report_json(m, "test.example", {e});
  std::string dir = temp_dir();
  std::string file = dir + "/r.json";
  std::ofstream(file) << json;
  int status = 0;
  std::string out = run_python(
      "import json, sys\n"
      "r = json.load(open(sys.argv[1]))\n"
      "assert r['organization-name'] == 'Example \"Corp\"', r\n"
      "assert r['date-range'] == {'start-datetime': '2026-11-23T00:00:00Z', 'end-datetime': '2026-11-23T23:59:59Z'}\n"
      "assert r['contact-info'] == 'mailto:postmaster@example.com'\n"
      "assert r['report-id'] == '2026-11-23T000000Z.test.example@example.com'\n"
      "p = r['policies'][0]\n"
      "assert p['policy']['policy-type'] == 'sts'\n"
      "assert p['policy']['policy-string'][1] == 'mode: testing'\n"
      "assert p['policy']['policy-domain'] == 'test.example'\n"
      "assert p['policy']['mx-host'] == ['mx1.test.example']\n"
      "assert p['summary'] == {'total-successful-session-count': 5, 'total-failure-session-count': 2}\n"
      "f = p['failure-details'][0]\n"
      "assert f['result-type'] == 'certificate-host-mismatch'\n"
      "assert f['sending-mta-ip'] == '192.0.2.1' and f['receiving-ip'] == '198.51.100.1'\n"
      "assert f['receiving-mx-hostname'] == 'mx1.test.example' and f['failed-session-count'] == 2\n"
      "print('ok')\n",
      file, &status);
  remove_dir(dir);
  STRCMP_EQUAL_TEXT("ok\n", out.c_str(), out.c_str());
  LONGS_EQUAL(0, status);
}

TEST(Tlsrpt, GzipRoundTrip) {
  std::string err;
  std::string data;
  for (int i = 0; i < 5000; ++i) data += "line " + std::to_string(i) + " of a report\n";
  auto gz = gzip_compress(data, &err);
  CHECK_TEXT(gz.has_value(), err.c_str());
  CHECK(gz->size() < data.size() / 4);
  CHECK((*gz)[0] == '\x1f' && (*gz)[1] == '\x8b');  // gzip magic
  auto back = gzip_decompress(*gz, &err);
  CHECK_TEXT(back.has_value(), err.c_str());
  CHECK(*back == data);
  auto empty = gzip_compress("", &err);
  CHECK(empty.has_value() && gzip_decompress(*empty, &err).value_or("x").empty());
  CHECK_FALSE(gzip_decompress(gz->substr(0, gz->size() / 2), &err).has_value());
  CHECK_FALSE(gzip_decompress("not gzip at all", &err).has_value());
  CHECK_FALSE(gzip_decompress(*gz, &err, 1000).has_value());  // expansion limit
}

TEST(Tlsrpt, TxtRecords) {
  std::string err;
  auto rua = parse_tlsrpt_txt({"v=TLSRPTv1; rua=mailto:tlsrpt@solarmora.com,mailto:mts-sts@solarmora.com"}, &err);
  LONGS_EQUAL(2, rua.size());
  STRCMP_EQUAL("mailto:mts-sts@solarmora.com", rua[1].c_str());
  rua = parse_tlsrpt_txt({"v=spf1 -all", "v=TLSRPTv1;rua=https://reports.example/v1/tlsrpt"}, &err);
  LONGS_EQUAL(1, rua.size());
  CHECK(parse_tlsrpt_txt({"v=TLSRPTv1"}, &err).empty());
  CHECK(parse_tlsrpt_txt({"v=TLSRPTv1; rua=ftp://x"}, &err).empty());
  CHECK(parse_tlsrpt_txt({"v=TLSRPTv1; rua=mailto:a@b", "v=TLSRPTv1; rua=mailto:c@d"}, &err).empty());
  CHECK(parse_tlsrpt_txt({}, &err).empty());
}

TEST(Tlsrpt, ReportMessage) {
  ReportMail m;
  m.from = "postmaster@example.com";
  m.to = "tlsrpt@test.example";
  m.domain = "test.example";
  m.meta = ReportMeta{"Example Corp", "mailto:postmaster@example.com", "example.com", "id-1", kDay, kDay + 86399};
  std::string err;
  m.json_gz = *gzip_compress("{}", &err);
  m.now = kDay + 90000;
  m.seed = "t1";
  std::string msg = build_report_mail(m);
  CHECK(msg.find("TLS-Report-Domain: test.example\r\n") != std::string::npos);
  CHECK(msg.find("TLS-Report-Submitter: example.com\r\n") != std::string::npos);
  CHECK(msg.find("Subject: Report Domain: test.example Submitter: example.com Report-ID: <id-1>\r\n") !=
        std::string::npos);
  CHECK(msg.find("multipart/report; report-type=\"tlsrpt\"") != std::string::npos);
  CHECK(msg.find("Content-Type: application/tlsrpt+gzip") != std::string::npos);
  CHECK(msg.find("filename=\"example.com!test.example!1795392000!1795478399.json.gz\"") != std::string::npos);
  for (size_t pos = 0; pos < msg.size();) {
    size_t eol = msg.find("\r\n", pos);
    CHECK(eol != std::string::npos);
    CHECK(eol - pos <= 998);
    pos = eol + 2;
  }
}

// RFC 8460 4.4: words go in failure-reason-code, additional-information is only ever a URI; our
// own address is the sending-mta-ip; an excluded MX is a validation-failure.
TEST(Tlsrpt, FailureDetailFields) {
  TlsrptEntry e;
  e.day = "2026-11-23";
  e.domain = "test.example";
  e.policy = sts_policy();
  e.failure = 3;
  e.details.push_back(session_failure_detail("certificate-not-trusted", "192.0.2.7", "mx1.test.example",
                                             "198.51.100.1", "certificate not trusted: unknown CA"));
  FailureDetail legacy;  // as stored before: the words in additional_information
  legacy.result_type = "starttls-not-supported";
  legacy.additional_information = "STARTTLS not offered";
  e.details.push_back(legacy);
  e.details.push_back(mx_mismatch_detail({"mx1.test.example", "mx2.test.example"}));
  FailureDetail uri;
  uri.result_type = "validation-failure";
  uri.additional_information = "https://example.com/why";
  e.details.push_back(uri);
  ReportMeta m{"Example Corp", "mailto:postmaster@example.com", "example.com", "id-1", kDay, kDay + 86399};
  auto doc = tlsrpt_report_doc(m, "test.example", {e});
  const auto& d = doc["policies"][0]["failure-details"];
  STRCMP_EQUAL("192.0.2.7", d[0]["sending-mta-ip"].get<std::string>().c_str());
  STRCMP_EQUAL("certificate not trusted: unknown CA", d[0]["failure-reason-code"].get<std::string>().c_str());
  CHECK_FALSE(d[0].contains("additional-information"));
  STRCMP_EQUAL("STARTTLS not offered", d[1]["failure-reason-code"].get<std::string>().c_str());
  CHECK_FALSE(d[1].contains("additional-information"));
  STRCMP_EQUAL("validation-failure", d[2]["result-type"].get<std::string>().c_str());
  STRCMP_EQUAL("mx1.test.example", d[2]["receiving-mx-hostname"].get<std::string>().c_str());
  CHECK(d[2]["failure-reason-code"].get<std::string>().find("mx2.test.example") != std::string::npos);
  STRCMP_EQUAL("https://example.com/why", d[3]["additional-information"].get<std::string>().c_str());
  CHECK_FALSE(d[3].contains("failure-reason-code"));
}

TEST(Tlsrpt, ReportMessageSaysTlsIsNotRequired) {
  ReportMail m;
  m.from = "postmaster@example.com";
  m.to = "tlsrpt@test.example";
  m.domain = "test.example";
  m.meta = ReportMeta{"Example Corp", "mailto:postmaster@example.com", "example.com", "id-1", kDay, kDay + 86399};
  m.now = kDay + 90000;
  m.seed = "t1";
  std::string msg = build_report_mail(m);
  size_t body = msg.find("\r\n\r\n");
  size_t h = msg.find("\r\nTLS-Required: No\r\n");
  CHECK(h != std::string::npos && h < body);
}

// A report waits a day at most (RFC 8460 section 3), never longer than any message.
TEST(Tlsrpt, ReportQueueLifetime) {
  LONGS_EQUAL(86400, queue_lifetime(true, 5 * 86400));
  LONGS_EQUAL(3600, queue_lifetime(true, 3600));
  LONGS_EQUAL(5 * 86400, queue_lifetime(false, 5 * 86400));
}
