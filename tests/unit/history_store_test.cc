// history_store_test.cc - the delivery history: encoding, search keys, the writer thread,
// no fsync, and the two bounds (history_days, history_max_mb).
#include <CppUTest/TestHarness.h>

#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "relay/queue/history_store.h"
#include "relay/queue/queue_store.h"
#include "tests/unit/sync_probe.h"

using namespace relay;

namespace {

constexpr int64_t kNow = 1800000000LL * 1000000;

std::string temp_dir() {
  char tmpl[] = "/tmp/smarthost-h-XXXXXX";
  return mkdtemp(tmpl);
}

HistoryEvent accepted(const std::string& id, int64_t t) {
  HistoryEvent e;
  e.time_us = t;
  e.kind = HistoryKind::Accepted;
  e.id = id;
  e.message_id = "<" + id + ".Msg@Client.example>";
  e.sender = "Sender@Example.com";
  e.recipients = {"a@partner.example", "b@other.example"};
  e.size = 1234;
  e.client = "192.0.2.1";
  e.tls_in = "TLS1_3";
  return e;
}

HistoryEvent delivered(const std::string& id, int64_t t) {
  HistoryEvent e;
  e.time_us = t;
  e.kind = HistoryKind::Delivery;
  e.id = id;
  e.rcpt = "a@partner.example";
  e.route = "partners";
  e.relay = "mx.partner.example[192.0.2.9]:25";
  e.status = "sent";
  e.dsn = "2.0.0";
  e.tls_version = "TLS1_3";
  e.cipher = "TLS_AES_256_GCM_SHA384";
  e.verify = "Verified";
  e.reason = "delivered";
  e.remote_host = "mx.partner.example";
  return e;
}

}  // namespace

TEST_GROUP(HistoryStore) {
  std::string dir;
  void setup() override { dir = temp_dir(); }
  void teardown() override {
    std::string cmd = "rm -rf '" + dir + "'";
    CHECK(system(cmd.c_str()) == 0);
  }
};

TEST(HistoryStore, EventRoundTrips) {
  HistoryEvent e = delivered("Q1", kNow), got;
  CHECK(decode_history_event(encode_history_event(e), &got));
  STRCMP_EQUAL("Q1", got.id.c_str());
  STRCMP_EQUAL("mx.partner.example[192.0.2.9]:25", got.relay.c_str());
  STRCMP_EQUAL("TLS1_3", got.tls_version.c_str());
  STRCMP_EQUAL("Verified", got.verify.c_str());
  CHECK(got.kind == HistoryKind::Delivery);
  e.cert_subject = "CN=mx.partner.example";
  e.cert_issuer = "CN=Partner CA";
  e.cert_sha256 = std::string(64, 'a');
  e.cert_not_after = 1800864000;
  CHECK(decode_history_event(encode_history_event(e), &got));
  STRCMP_EQUAL("CN=mx.partner.example", got.cert_subject.c_str());
  STRCMP_EQUAL("CN=Partner CA", got.cert_issuer.c_str());
  STRCMP_EQUAL(e.cert_sha256.c_str(), got.cert_sha256.c_str());
  CHECK(got.cert_not_after == 1800864000);
  CHECK(got.time_us == kNow);
  CHECK(!decode_history_event("{\"t\":1}", &got));
  CHECK(!decode_history_event("not json", &got));
}

TEST(HistoryStore, FindsByQueueIdMessageIdSenderAndRecipient) {
  std::string err;
  auto h = HistoryStore::open(dir + "/history", 30, 16, &err);
  CHECK_TEXT(h != nullptr, err.c_str());
  h->record(accepted("Q1", kNow));
  h->record(delivered("Q1", kNow + 5));
  h->record(accepted("Q2", kNow + 10));
  h->flush(kNow + 20);
  const char* want_q1[] = {"Q1", "q1.msg@client.example", "<Q1.Msg@Client.example>", " Q1.MSG@client.example "};
  for (const char* q : want_q1) {
    auto ids = h->find(q, 10);
    std::string got;
    for (const auto& i : ids) got += i + " ";
    STRCMP_EQUAL_TEXT("Q1 ", got.c_str(), q);
  }
  auto by_sender = h->find("sender@example.com", 10);  // newest first
  CHECK_EQUAL(2u, by_sender.size());
  STRCMP_EQUAL("Q2", by_sender[0].c_str());
  CHECK_EQUAL(2u, h->find("A@partner.example", 10).size());
  CHECK_EQUAL(0u, h->find("q1", 10).size());  // a queue ID is matched exactly
  auto evs = h->events_of("Q1");
  CHECK_EQUAL(2u, evs.size());
  CHECK(evs[0].kind == HistoryKind::Accepted);
  STRCMP_EQUAL("sent", evs[1].status.c_str());
}

// SPEC R-CONSOLE: history is never an extra fsync on the accept path.
TEST(HistoryStore, WritesNeverSyncTheDisk) {
  std::string err;
  auto h = HistoryStore::open(dir + "/history", 30, 16, &err);
  CHECK_TEXT(h != nullptr, err.c_str());
  uint64_t before = sync_probe::data_syncs(dir + "/history");
  for (int i = 0; i < 20; ++i) {
    h->record(accepted("S" + std::to_string(i), kNow + i));
    h->flush(kNow + i);
  }
  CHECK_EQUAL(20u, h->count());
  CHECK_EQUAL(before, sync_probe::data_syncs(dir + "/history"));
}

TEST(HistoryStore, EventsOlderThanHistoryDaysGo) {
  std::string err;
  auto h = HistoryStore::open(dir + "/history", 2, 16, &err);
  CHECK_TEXT(h != nullptr, err.c_str());
  const int64_t day = 86400LL * 1000000;
  h->record(accepted("OLD", kNow - 3 * day));
  h->record(accepted("NEW", kNow - day));
  h->flush(kNow - day);
  CHECK_EQUAL(2u, h->count());
  h->record(delivered("NEW", kNow));
  h->flush(kNow);
  CHECK_EQUAL(0u, h->find("OLD", 10).size());
  CHECK_EQUAL(0u, h->find("old.msg@client.example", 10).size());  // its index entries went too
  CHECK_EQUAL(1u, h->find("NEW", 10).size());
  CHECK_EQUAL(2u, h->count());
}

// Bounded: write several times more than history_max_mb holds; the file stays within the bound,
// nothing is dropped whole, and the newest events remain findable.
TEST(HistoryStore, BoundedWriteMoreThanMaxMbSizeHoldsNewestRemain) {
  std::string err;
  auto h = HistoryStore::open(dir + "/history", 30, 1, &err);
  CHECK_TEXT(h != nullptr, err.c_str());
  const int n = 30000;  // about 10 MiB of events and index entries
  for (int i = 0; i < n; ++i) {
    h->record(accepted("B" + std::to_string(100000 + i), kNow + i));
    if (i % 100 == 99) h->flush(kNow + i);
  }
  h->flush(kNow + n);
  std::string msg = "file " + std::to_string(h->file_bytes()) + " bytes, events kept " +
                    std::to_string(h->count()) + ", batches dropped " + std::to_string(h->dropped());
  CHECK_TEXT(h->file_bytes() <= (1u << 20), msg.c_str());
  CHECK_TEXT(h->count() < static_cast<size_t>(n), msg.c_str());
  CHECK_TEXT(h->count() > 500, msg.c_str());
  CHECK_EQUAL_TEXT(0u, h->dropped(), msg.c_str());
  for (int i = n - 50; i < n; ++i) {
    std::string id = "B" + std::to_string(100000 + i);
    CHECK_EQUAL_TEXT(1u, h->find(id, 10).size(), id.c_str());
  }
  CHECK_EQUAL(0u, h->find("B100000", 10).size());
}

// The queue's writer thread writes the history: a job handed to run_after_commits runs there,
// after the queue's completions were handed to the loop.
TEST(HistoryStore, TheQueueWriterThreadFlushesIt) {
  std::string err;
  auto q = QueueStore::open(dir + "/q", 16, &err);
  auto h = HistoryStore::open(dir + "/q/history", 30, 16, &err);
  CHECK_TEXT(q && h, err.c_str());
  event_base* base = event_base_new();
  CHECK(q->attach(base, &err));
  std::atomic<int> flushed{0};
  h->set_kick([&] {
    q->run_after_commits([&] {
      h->flush(kNow + 100);
      ++flushed;
    });
  });
  h->record(accepted("W1", kNow));
  for (int i = 0; i < 200 && flushed == 0; ++i) usleep(10000);
  CHECK(flushed > 0);
  CHECK_EQUAL(1u, h->find("W1", 10).size());
  q.reset();
  event_base_free(base);
}
