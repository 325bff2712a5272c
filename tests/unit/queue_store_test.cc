// queue_store_test.cc - envelope encoding, LMDB store, group commit, map full.
#include <CppUTest/TestHarness.h>

#include <event2/event.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "relay/queue/queue_store.h"
#include "tests/unit/sync_probe.h"

using namespace relay;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/smarthost-q-XXXXXX";
  return mkdtemp(tmpl);
}

void remove_dir(const std::string& d) {
  std::string cmd = "rm -rf '" + d + "'";
  CHECK(system(cmd.c_str()) == 0);
}

Envelope sample(const std::string& id) {
  Envelope e;
  e.id = id;
  e.sender = "a@b.example";
  e.arrival_us = 1700000000123456;
  e.size = 42;
  e.eight_bit = true;
  e.ret = 2;
  e.envid = "env-1";
  e.client_ip = "127.0.0.1";
  e.helo = "client";
  e.tls_in = {"TLS1_3", "TLS_AES_256_GCM_SHA384", 256, "", "", "", "", "", 0};
  Recipient r;
  r.address = "x@y.example";
  r.notify = 6;
  r.orcpt = "rfc822;x+40y.example";
  r.route = "default";
  r.state = RcptState::Deferred;
  r.attempts = 3;
  r.next_attempt = 1700000100;
  r.last_error = "451 try later";
  e.recipients.push_back(r);
  r.address = "z@y.example";
  r.state = RcptState::Pending;
  e.recipients.push_back(r);
  return e;
}

}  // namespace

TEST_GROUP(QueueRecord){};

TEST(QueueRecord, RoundTrip) {
  Envelope e = sample("ID1");
  Envelope d;
  CHECK(decode_envelope(encode_envelope(e), &d));
  STRCMP_EQUAL("ID1", d.id.c_str());
  STRCMP_EQUAL("a@b.example", d.sender.c_str());
  CHECK_EQUAL(e.arrival_us, d.arrival_us);
  CHECK(d.eight_bit);
  CHECK_EQUAL(2, d.ret);
  STRCMP_EQUAL("TLS_AES_256_GCM_SHA384", d.tls_in.cipher.c_str());
  CHECK_EQUAL(256, d.tls_in.bits);
  CHECK_EQUAL(2u, d.recipients.size());
  CHECK(d.recipients[0].state == RcptState::Deferred);
  CHECK_EQUAL(3u, d.recipients[0].attempts);
  STRCMP_EQUAL("451 try later", d.recipients[0].last_error.c_str());
  STRCMP_EQUAL("z@y.example", d.recipients[1].address.c_str());
}

// The typed outcome of the last attempt survives the queue: kind, TLS
// problem (NotOffered is 0, which must still be written), relay, TLS facts.
TEST(QueueRecord, TypedOutcomeRoundTrip) {
  Envelope e = sample("ID1");
  router::Outcome o;
  o.disposition = router::Disposition::Bounce;
  o.status = "5.7.4";
  o.kind = router::FailureKind::Tls;
  o.tls_problem = certs::TlsProblem::NotOffered;
  o.reason = "TLS unavailable";
  o.remote_host = "mx.y.example";
  o.relay = "mx.y.example[192.0.2.1]:25";
  o.tls = {"TLS1_3", "TLS_AES_128_GCM_SHA256", 128, "Trusted", "failed", "", "", "", 0};
  record_outcome(&e.recipients[0], o);
  e.recipients[0].state = RcptState::Bounced;
  Envelope d;
  CHECK(decode_envelope(encode_envelope(e), &d));
  router::Outcome got = outcome_of(d.recipients[0]);
  CHECK(got.disposition == router::Disposition::Bounce);
  CHECK(got.kind == router::FailureKind::Tls);
  CHECK(got.tls_problem == certs::TlsProblem::NotOffered);
  STRCMP_EQUAL("5.7.4", got.status.c_str());
  STRCMP_EQUAL("mx.y.example", got.remote_host.c_str());
  STRCMP_EQUAL("mx.y.example[192.0.2.1]:25", got.relay.c_str());
  STRCMP_EQUAL("TLS1_3", got.tls.version.c_str());
  STRCMP_EQUAL("Trusted", got.tls.verdict.c_str());
  STRCMP_EQUAL("failed", got.tls.dane.c_str());  // DANE verdict, tag 70
  CHECK(d.recipients[1].failure == router::FailureKind::None);
}

namespace {
std::string field(uint8_t tag, const std::string& v) {
  std::string out(1, static_cast<char>(tag));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v.size() >> (8 * i)) & 0xff));
  return out + v;
}
std::string u64(uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}
}  // namespace

// A queue written before failure kinds were stored still decodes (the kind
// reads as none); a kind from a newer binary reads as none too.
TEST(QueueRecord, OldAndNewerRecordsDecode) {
  std::string rcpt = field(40, "x@y.example") + field(44, u64(3)) + field(47, "certificate expired") +
                     field(48, "5.7.5") + field(49, "mx.y.example");
  std::string old = std::string(1, '\x01') + field(1, "OLD1") + field(2, "a@b.example") + field(14, rcpt);
  Envelope d;
  CHECK(decode_envelope(old, &d));
  STRCMP_EQUAL("OLD1", d.id.c_str());
  CHECK_EQUAL(1u, d.recipients.size());
  CHECK(d.recipients[0].state == RcptState::Bounced);
  STRCMP_EQUAL("5.7.5", d.recipients[0].dsn_status.c_str());
  CHECK(d.recipients[0].failure == router::FailureKind::None);
  CHECK(d.recipients[0].relay.empty());
  std::string newer = std::string(1, '\x01') + field(1, "NEW1") + field(14, rcpt + field(56, u64(200)) + field(57, u64(99)));
  CHECK(decode_envelope(newer, &d));
  CHECK(d.recipients[0].failure == router::FailureKind::None);
  CHECK(d.recipients[0].tls_problem == certs::TlsProblem::HandshakeFailed);
}

TEST(QueueRecord, CorruptRecordsAreRefused) {
  std::string enc = encode_envelope(sample("ID1"));
  Envelope d;
  for (size_t cut = 0; cut < enc.size(); cut += 3) {
    std::string t = enc.substr(0, cut);
    // A cut inside a field must fail; a cut between fields may decode, but
    // then never with a recipient that is half there.
    if (decode_envelope(t, &d)) {
      for (const auto& r : d.recipients) CHECK(!r.address.empty());
    }
  }
  CHECK(!decode_envelope("", &d));
  CHECK(!decode_envelope(std::string("\x07", 1), &d));
}

TEST(QueueRecord, IdsAreUniqueAndSorted) {
  std::string prev = new_queue_id();
  for (int i = 0; i < 1000; ++i) {
    std::string id = new_queue_id();
    CHECK_EQUAL(16u, id.size());
    CHECK_TEXT(id != prev, id.c_str());
    prev = id;
  }
}

TEST(QueueRecord, OriginRoundTrips) {
  for (Origin o : {Origin::Smtp, Origin::Dsn, Origin::TlsReport}) {
    Envelope e = sample("ID1");
    e.origin = o;
    Envelope d;
    CHECK(decode_envelope(encode_envelope(e), &d));
    CHECK(d.origin == o);
  }
}

TEST(QueueRecord, HeldRoundTripsAndDefaultsToFalse) {
  Envelope e = sample("ID1");
  Envelope d;
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK_FALSE(d.held);
  e.held = true;
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK(d.held);
  CHECK(d.recipients.size() == 2);
}

TEST(QueueRecord, OriginOfOlderRecords) {
  const std::string v1(1, '\x01');  // version byte; tag 1 = id, tag 9 = HELO
  Envelope d;
  CHECK(decode_envelope(v1 + field(1, "OLD") + field(9, "client.example"), &d));
  CHECK(d.origin == Origin::Smtp);  // no origin field: mail from a client
  CHECK(decode_envelope(v1 + field(1, "OLD") + field(9, "smarthost-tlsrpt"), &d));
  CHECK(d.origin == Origin::TlsReport);  // a report queued before the field existed

  // Today the field is always written: a client saying that HELO is ordinary mail.
  Envelope e = sample("NEW");
  e.helo = "smarthost-tlsrpt";
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK(d.origin == Origin::Smtp);

  // A value only a newer version knows: ordinary mail (the origin is the last field, 1 octet).
  e.origin = Origin::TlsReport;
  std::string enc = encode_envelope(e);
  enc.back() = 9;
  CHECK(decode_envelope(enc, &d));
  CHECK(d.origin == Origin::Smtp);
}

TEST_GROUP(QueueStore) {
  std::string dir;
  void setup() override { dir = temp_dir(); }
  void teardown() override { remove_dir(dir); }
};

TEST(QueueStore, PutGetListRemove) {
  std::string err;
  auto q = QueueStore::open(dir + "/q", 16, &err);
  CHECK_TEXT(q != nullptr, err.c_str());
  CHECK(q->put_message(sample("B"), "body-b") == StoreStatus::Ok);
  CHECK(q->put_message(sample("A"), "body-a") == StoreStatus::Ok);
  CHECK(q->put_message(sample("A"), "again") == StoreStatus::Exists);
  auto all = q->list();
  CHECK_EQUAL(2u, all.size());
  STRCMP_EQUAL("A", all[0].id.c_str());
  std::string body;
  CHECK(q->get_body("A", &body) == StoreStatus::Ok);
  STRCMP_EQUAL("body-a", body.c_str());
  Envelope e = all[0];
  e.recipients[0].state = RcptState::Sent;
  CHECK(q->update_envelope(e) == StoreStatus::Ok);
  Envelope back;
  CHECK(q->get_envelope("A", &back) == StoreStatus::Ok);
  CHECK(back.recipients[0].state == RcptState::Sent);
  CHECK(q->remove("A") == StoreStatus::Ok);
  CHECK(q->remove("A") == StoreStatus::NotFound);
  CHECK(q->get_body("A", &body) == StoreStatus::NotFound);
  Envelope ghost = sample("GHOST");
  CHECK(q->update_envelope(ghost) == StoreStatus::NotFound);  // never resurrects
  CHECK_EQUAL(1u, q->list().size());
}

TEST(QueueStore, SurvivesReopen) {
  std::string err;
  {
    auto q = QueueStore::open(dir + "/q", 16, &err);
    CHECK(q->put_message(sample("KEEP"), "x") == StoreStatus::Ok);
  }
  auto q = QueueStore::open(dir + "/q", 16, &err);
  CHECK_EQUAL(1u, q->list().size());
}

TEST(QueueStore, AsyncWritesAreGroupCommitted) {
  std::string err;
  auto q = QueueStore::open(dir + "/q", 64, &err);
  event_base* base = event_base_new();
  CHECK(q->attach(base, &err));
  const int n = 300;
  int ok = 0;
  for (int i = 0; i < n; ++i) {
    q->put_message_async(sample("M" + std::to_string(1000 + i)), std::string(4096, 'b'), [&](StoreStatus s) {
      if (s == StoreStatus::Ok) ++ok;
      if (ok == n) event_base_loopbreak(base);
    });
  }
  timeval limit{20, 0};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
  CHECK_EQUAL(n, ok);
  CHECK_EQUAL(static_cast<size_t>(n), q->list().size());
  // One fsync for many messages: far fewer commits than messages.
  std::string msg = "commits: " + std::to_string(q->commits());
  CHECK_TEXT(q->commits() < static_cast<uint64_t>(n) / 2, msg.c_str());
  q.reset();
  event_base_free(base);
}

// SPEC R-QUEUE: the 250 follows a completed sync. The completion of an async write is what
// sends the 250; by the time it runs, the queue's data file has been synced (fdatasync, seen by
// the interposer in sync_probe.cc) since the write was handed over, for every write: a queue
// opened with MDB_NOSYNC, or a writer that completes before committing, fails here.
TEST(QueueStore, EveryAsyncWriteCompletesAfterItsDataFileWasSynced) {
  std::string err;
  auto q = QueueStore::open(dir + "/q", 16, &err);
  CHECK_TEXT(q != nullptr, err.c_str());
  event_base* base = event_base_new();
  CHECK(q->attach(base, &err));
  const int n = 5;
  int done = 0;
  std::string problems;
  for (int i = 0; i < n; ++i) {
    // One write at a time: each completion must have its own sync behind it.
    uint64_t before = sync_probe::data_syncs(dir + "/q");
    q->put_message_async(sample("S" + std::to_string(i)), "body", [&, before](StoreStatus s) {
      uint64_t after = sync_probe::data_syncs(dir + "/q");
      if (s != StoreStatus::Ok) problems += "status " + std::string(store_status_name(s)) + "; ";
      if (after <= before) problems += "completed with no sync of data.mdb since the write; ";
      ++done;
      event_base_loopbreak(base);
    });
    timeval limit{10, 0};
    event_base_loopexit(base, &limit);
    event_base_dispatch(base);
  }
  CHECK_EQUAL(n, done);
  STRCMP_EQUAL("", problems.c_str());
  q.reset();
  event_base_free(base);
}

TEST(QueueStore, MapFullWritesNothingAndSmallMessagesStillFit) {
  std::string err;
  auto q = QueueStore::open(dir + "/q", 1, &err);  // a 1 MiB map
  event_base* base = event_base_new();
  CHECK(q->attach(base, &err));
  StoreStatus big = StoreStatus::Ok, small = StoreStatus::Error;
  int done = 0;
  q->put_message_async(sample("BIG"), std::string(2 << 20, 'x'), [&](StoreStatus s) {
    big = s;
    if (++done == 2) event_base_loopbreak(base);
  });
  q->put_message_async(sample("SMALL"), "tiny", [&](StoreStatus s) {
    small = s;
    if (++done == 2) event_base_loopbreak(base);
  });
  timeval limit{10, 0};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
  CHECK(big == StoreStatus::Full);
  CHECK(small == StoreStatus::Ok);
  Envelope e;
  CHECK(q->get_envelope("BIG", &e) == StoreStatus::NotFound);
  std::string body;
  CHECK(q->get_body("BIG", &body) == StoreStatus::NotFound);
  CHECK_EQUAL(1u, q->list().size());
  q.reset();
  event_base_free(base);
}

TEST(QueueStore, DetachedStoreCommitsButCallsNoOne) {
  std::string err;
  auto q = QueueStore::open(dir + "/q", 16, &err);
  event_base* base = event_base_new();
  CHECK(q->attach(base, &err));
  bool called = false;
  q->put_message_async(sample("LATE"), "x", [&](StoreStatus) { called = true; });
  q->detach();  // shutdown: the owner of the callback is gone
  usleep(200 * 1000);
  for (int i = 0; i < 3; ++i) event_base_loop(base, EVLOOP_NONBLOCK);
  CHECK(!called);
  q.reset();  // joins the writer
  auto again = QueueStore::open(dir + "/q", 16, &err);
  Envelope e;
  CHECK(again->get_envelope("LATE", &e) == StoreStatus::Ok);
  again.reset();
  event_base_free(base);
}

// The SMTPUTF8 flag of MAIL is kept (RFC 6531 transactions); a record written before the flag
// existed reads as "no SMTPUTF8", which it was. The new failure kinds round-trip.
TEST(QueueRecord, SmtpUtf8FlagAndIntlFailureKinds) {
  Envelope e;
  e.id = "U1";
  e.sender = "j\xc3\xb6rg@b\xc3\xbc" "cher.example";
  e.smtputf8 = true;
  Recipient r;
  r.address = "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example";
  r.failure = router::FailureKind::NoSmtpUtf8;
  e.recipients.push_back(r);
  r.failure = router::FailureKind::No8BitMime;
  e.recipients.push_back(r);
  Envelope d;
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK(d.smtputf8);
  STRCMP_EQUAL(e.sender.c_str(), d.sender.c_str());
  STRCMP_EQUAL(r.address.c_str(), d.recipients[0].address.c_str());
  CHECK(d.recipients[0].failure == router::FailureKind::NoSmtpUtf8);
  CHECK(d.recipients[1].failure == router::FailureKind::No8BitMime);
  e.smtputf8 = false;
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK_FALSE(d.smtputf8);
  std::string old = std::string(1, '\x01') + field(1, "OLD2") + field(2, "a@b.example") + field(15, std::string(1, '\0'));
  CHECK(decode_envelope(old, &d));
  CHECK_FALSE(d.smtputf8);
  CHECK(decode_envelope(old + field(30, u64(1)), &d));
  CHECK(d.smtputf8);
}

// RFC 8689: the REQUIRETLS flag is kept; older records read as "not required", which they were.
TEST(QueueRecord, RequireTlsFlagAndFailureKind) {
  Envelope e;
  e.id = "R1";
  e.sender = "a@b.example";
  e.require_tls = true;
  Recipient r;
  r.address = "c@d.example";
  r.failure = router::FailureKind::NoRequireTls;
  e.recipients.push_back(r);
  Envelope d;
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK(d.require_tls);
  CHECK(d.recipients[0].failure == router::FailureKind::NoRequireTls);
  e.require_tls = false;
  CHECK(decode_envelope(encode_envelope(e), &d));
  CHECK_FALSE(d.require_tls);
  std::string old = std::string(1, '\x01') + field(1, "OLD3") + field(2, "a@b.example") + field(15, std::string(1, '\0'));
  CHECK(decode_envelope(old, &d));
  CHECK_FALSE(d.require_tls);
}
