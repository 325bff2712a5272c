// dsn_builder_test.cc - the non-delivery report: MIME structure, the
// delivery-status fields per recipient, RET, NOTIFY, the line limit, the
// advice in the human part; and the same report read by Python's email
// package, a parser we did not write. Also the mime_text helpers it uses.
#include <CppUTest/TestHarness.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "relay/notify/dsn_builder.h"
#include "relay/notify/mime_text.h"
#include "relay/smtpd/smtp_command.h"

using namespace relay;

namespace {

const std::string kOriginal =
    "Received: from gw.example.com (gw.example.com [192.0.2.1])\r\n"
    "\tby relay.example.com with ESMTPS id 0001; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    "From: Alice <alice@example.com>\r\n"
    "To: bob@partner.example\r\n"
    "Subject: quarterly figures\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "--not-a-boundary\r\n"
    "   trailing spaces kept   \r\n";

const std::string kHeaders = kOriginal.substr(0, kOriginal.find("\r\n\r\n") + 2);

Recipient tls_rcpt() {
  Recipient r;
  r.address = "bob@partner.example";
  r.route = "partners";
  r.dsn_status = "5.7.4";
  r.failure = router::FailureKind::Tls;
  r.tls_problem = certs::TlsProblem::NotOffered;
  r.remote_mta = "mx1.partner.example";
  r.last_error = "TLS unavailable: the receiving server mx1.partner.example did not offer STARTTLS";
  return r;
}

Recipient rejected_rcpt() {
  Recipient r;
  r.address = "carol@other.example";
  r.route = "default";
  r.notify = NotifyFailure | NotifyDelay;
  r.orcpt = "rfc822;carol+2Bx@other.example";
  r.dsn_status = "5.1.1";
  r.failure = router::FailureKind::RemoteReply;
  r.remote_mta = "mx.other.example";
  r.diagnostic = "550 5.1.1 <carol@other.example>: Recipient address rejected: User unknown";
  r.last_error = "the receiving server mx.other.example refused the recipient";
  return r;
}

Recipient nullmx_rcpt() {
  Recipient r;
  r.address = "dave@null.example";
  r.route = "default";
  r.dsn_status = "5.1.10";
  r.failure = router::FailureKind::NullMx;
  r.last_error = "the domain null.example accepts no mail (null MX)";
  return r;
}

Envelope sample_env() {
  Envelope e;
  e.id = "00000000000000A1";
  e.sender = "alice@example.com";
  e.arrival_us = 1700000000123456;  // Tue, 14 Nov 2023 22:13:20 +0000
  e.ret = static_cast<uint8_t>(Ret::Hdrs);
  e.envid = "env 1+x";
  e.recipients = {tls_rcpt(), rejected_rcpt(), nullmx_rcpt()};
  return e;
}

DsnRequest request(const Envelope* e, std::vector<size_t> failed) {
  DsnRequest q;
  q.reporting_mta = "relay.example.com";
  q.env = e;
  q.failed = std::move(failed);
  q.original = &kOriginal;
  q.now = 1700003600;
  q.boundary_seed = "seed1";
  return q;
}

std::string build(const DsnRequest& q, std::vector<size_t>* reported = nullptr) {
  std::vector<size_t> ignored;
  auto got = build_dsn(q, reported ? reported : &ignored);
  CHECK_TEXT(got.has_value(), "build_dsn returned nullopt, want a DSN");
  return got ? *got : "";
}

// ---- a minimal reader, enough to check what we wrote ---------------------------

std::string head_of(const std::string& entity) { return entity.substr(0, entity.find("\r\n\r\n") + 2); }
std::string body_of(const std::string& entity) {
  auto p = entity.find("\r\n\r\n");
  return p == std::string::npos ? "" : entity.substr(p + 4);
}

// The unfolded value of the first field NAME in a header block; "" if none.
std::string field_of(const std::string& head, const std::string& name) {
  std::string block = "\r\n" + head;
  auto p = block.find("\r\n" + name + ":");
  if (p == std::string::npos) return "";
  std::string v;
  for (size_t i = p + name.size() + 3; i < block.size(); ++i) {
    if (block.compare(i, 2, "\r\n") == 0 && (i + 2 >= block.size() || (block[i + 2] != ' ' && block[i + 2] != '\t'))) break;
    if (block[i] != '\r' && block[i] != '\n') v += block[i];
  }
  auto b = v.find_first_not_of(' ');
  return b == std::string::npos ? "" : v.substr(b);
}

int count_of(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

std::string boundary_of(const std::string& msg) {
  std::string ct = field_of(head_of(msg), "Content-Type");
  auto p = ct.find("boundary=\"");
  if (p == std::string::npos) return "";
  p += 10;
  return ct.substr(p, ct.find('"', p) - p);
}

// The body parts between the delimiters; *closed says the close delimiter
// ends the multipart.
std::vector<std::string> parts_of(const std::string& msg, bool* closed) {
  std::string delim = "\r\n--" + boundary_of(msg);
  std::vector<std::string> out;
  auto p = msg.find(delim);
  *closed = false;
  while (p != std::string::npos) {
    size_t start = p + delim.size();
    if (msg.compare(start, 2, "--") == 0) {
      *closed = msg.compare(start, 4, "--\r\n") == 0 && start + 4 == msg.size();
      break;
    }
    auto next = msg.find(delim, start);
    out.push_back(msg.substr(start + 2, next == std::string::npos ? std::string::npos : next - start - 2));
    p = next;
  }
  return out;
}

// Blocks of the delivery-status body: per-message first, then per-recipient.
std::vector<std::string> status_blocks(const std::string& msg) {
  bool closed;
  auto parts = parts_of(msg, &closed);
  std::vector<std::string> out;
  if (parts.size() < 2) return out;
  std::string body = body_of(parts[1]);
  size_t pos = 0;
  while (pos < body.size()) {
    auto end = body.find("\r\n\r\n", pos);
    out.push_back(body.substr(pos, end == std::string::npos ? std::string::npos : end + 2 - pos));
    if (end == std::string::npos) break;
    pos = end + 4;
  }
  return out;
}

// The first line over 998 octets or not ended by CRLF; "" when every line is fine.
std::string bad_line(const std::string& msg) {
  size_t pos = 0;
  while (pos < msg.size()) {
    auto end = msg.find('\n', pos);
    if (end == std::string::npos || end == pos || msg[end - 1] != '\r') return "unterminated: " + msg.substr(pos, 60);
    if (msg.find('\r', pos) != end - 1) return "bare CR: " + msg.substr(pos, 60);
    if (end - 1 - pos > 998) return "long (" + std::to_string(end - 1 - pos) + "): " + msg.substr(pos, 60);
    pos = end + 1;
  }
  return "";
}

}  // namespace

TEST_GROUP(Dsn){};

TEST(Dsn, StructureAndTopHeaders) {
  Envelope e = sample_env();
  std::string msg = build(request(&e, {0, 1, 2}));
  std::string head = head_of(msg);
  struct {
    const char* name;
    const char* want;
  } fields[] = {
      {"From", "Mail Delivery System <MAILER-DAEMON@relay.example.com>"},
      {"To", "<alice@example.com>"},
      {"Subject", "Undelivered Mail Returned to Sender"},
      {"Date", "Tue, 14 Nov 2023 23:13:20 +0000"},
      {"Message-ID", "<6553ff10.seed1@relay.example.com>"},
      {"Auto-Submitted", "auto-replied"},
      {"MIME-Version", "1.0"},
      {"Content-Type", "multipart/report; report-type=delivery-status; boundary=\"=_smarthost_seed1\""},
  };
  for (const auto& f : fields) STRCMP_EQUAL_TEXT(f.want, field_of(head, f.name).c_str(), f.name);

  bool closed = false;
  auto parts = parts_of(msg, &closed);
  CHECK_TEXT(closed, "the close delimiter does not end the message");
  const char* want_types[] = {"text/plain; charset=utf-8", "message/delivery-status", "text/rfc822-headers"};
  CHECK_EQUAL(3u, parts.size());
  for (size_t i = 0; i < parts.size() && i < 3; ++i)
    STRCMP_EQUAL_TEXT(want_types[i], field_of(head_of(parts[i]), "Content-Type").c_str(), ("part " + std::to_string(i)).c_str());
  STRCMP_EQUAL("", bad_line(msg).c_str());
}

TEST(Dsn, PerMessageFields) {
  Envelope e = sample_env();
  auto blocks = status_blocks(build(request(&e, {0})));
  CHECK_EQUAL(2u, blocks.size());
  STRCMP_EQUAL("dns; relay.example.com", field_of(blocks[0], "Reporting-MTA").c_str());
  STRCMP_EQUAL("env+201+2Bx", field_of(blocks[0], "Original-Envelope-Id").c_str());
  STRCMP_EQUAL("Tue, 14 Nov 2023 22:13:20 +0000", field_of(blocks[0], "Arrival-Date").c_str());

  e.envid.clear();
  blocks = status_blocks(build(request(&e, {0})));
  CHECK_EQUAL_TEXT(-1, static_cast<int>(blocks[0].find("Original-Envelope-Id")), "Original-Envelope-Id without ENVID");
}

TEST(Dsn, PerRecipientFields) {
  Envelope e = sample_env();
  auto blocks = status_blocks(build(request(&e, {0, 1, 2})));
  CHECK_EQUAL(4u, blocks.size());
  // "" = the field must be absent.
  struct {
    size_t block;
    const char* name;
    const char* want;
  } cases[] = {
      {1, "Original-Recipient", ""},
      {1, "Final-Recipient", "rfc822; bob@partner.example"},
      {1, "Action", "failed"},
      {1, "Status", "5.7.4"},
      {1, "Remote-MTA", "dns; mx1.partner.example"},
      {1, "Diagnostic-Code", ""},  // the host never replied to a mail command
      {1, "Last-Attempt-Date", "Tue, 14 Nov 2023 23:13:20 +0000"},
      {2, "Original-Recipient", "rfc822;carol+2Bx@other.example"},
      {2, "Final-Recipient", "rfc822; carol@other.example"},
      {2, "Status", "5.1.1"},
      {2, "Remote-MTA", "dns; mx.other.example"},
      {2, "Diagnostic-Code", "smtp; 550 5.1.1 <carol@other.example>: Recipient address rejected: User unknown"},
      {3, "Final-Recipient", "rfc822; dave@null.example"},
      {3, "Status", "5.1.10"},
      {3, "Remote-MTA", ""},
      {3, "Diagnostic-Code", ""},
      {3, "Original-Recipient", ""},
  };
  for (const auto& c : cases) {
    std::string got = field_of(blocks[c.block], c.name);
    std::string label = "block " + std::to_string(c.block) + " " + c.name + ": got \"" + got + "\", want \"" + c.want + "\"";
    STRCMP_EQUAL_TEXT(c.want, got.c_str(), label.c_str());
  }
}

TEST(Dsn, StatusValuesKeptAndDefaulted) {
  struct {
    const char* given;
    const char* want;
  } cases[] = {
      {"5.7.5", "5.7.5"}, {"5.4.7", "5.4.7"}, {"5.1.10", "5.1.10"}, {"5.3.4", "5.3.4"},
      {"", "5.0.0"},      {"5.7", "5.0.0"},   {"x.y.z", "5.0.0"},   {"5.7.4\r\nX: y", "5.0.0"},
  };
  for (const auto& c : cases) {
    Envelope e = sample_env();
    e.recipients[0].dsn_status = c.given;
    auto blocks = status_blocks(build(request(&e, {0})));
    std::string got = blocks.size() > 1 ? field_of(blocks[1], "Status") : "";
    STRCMP_EQUAL_TEXT(c.want, got.c_str(), (std::string("status given \"") + c.given + "\"").c_str());
  }
}

TEST(Dsn, RetFullAttachesTheWholeMessageByteExact) {
  struct {
    Ret ret;
    const char* type;
    const std::string* body;
  } cases[] = {
      {Ret::Full, "message/rfc822", &kOriginal},
      {Ret::Hdrs, "text/rfc822-headers", &kHeaders},
      {Ret::Unset, "text/rfc822-headers", &kHeaders},
  };
  for (const auto& c : cases) {
    Envelope e = sample_env();
    e.ret = static_cast<uint8_t>(c.ret);
    bool closed;
    auto parts = parts_of(build(request(&e, {0})), &closed);
    CHECK_EQUAL(3u, parts.size());
    STRCMP_EQUAL_TEXT(c.type, field_of(head_of(parts[2]), "Content-Type").c_str(), c.type);
    CHECK_TEXT(body_of(parts[2]) == *c.body, (std::string("third part is not the original, byte-exact, for ") + c.type).c_str());
  }
}

// RFC 8689 5: the report on a REQUIRETLS message returns the header section only, even when RET
// asked for the whole message, and says why it was not sent.
TEST(Dsn, RequireTlsMessageReturnsHeadersOnly) {
  Envelope e = sample_env();
  e.ret = static_cast<uint8_t>(Ret::Full);
  e.require_tls = true;
  e.recipients[0].failure = router::FailureKind::NoRequireTls;
  e.recipients[0].dsn_status = "5.7.30";
  bool closed;
  std::string text = build(request(&e, {0}));
  auto parts = parts_of(text, &closed);
  CHECK_EQUAL(3u, parts.size());
  STRCMP_EQUAL("text/rfc822-headers", field_of(head_of(parts[2]), "Content-Type").c_str());
  CHECK(body_of(parts[2]) == kHeaders);
  CHECK(text.find("does not offer REQUIRETLS") != std::string::npos);
}

TEST(Dsn, EightBitOriginalIsDeclared) {
  Envelope e = sample_env();
  e.ret = static_cast<uint8_t>(Ret::Full);
  std::string original = "Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n";
  DsnRequest q = request(&e, {0});
  q.original = &original;
  bool closed;
  auto parts = parts_of(build(q), &closed);
  STRCMP_EQUAL("8bit", field_of(head_of(parts[2]), "Content-Transfer-Encoding").c_str());
  CHECK(body_of(parts[2]) == original);
}

TEST(Dsn, NoDsnWhenNotAllowed) {
  struct {
    const char* name;
    std::string sender;
    std::vector<uint32_t> notify;
    std::vector<size_t> failed;
  } cases[] = {
      {"null sender", "", {0}, {0}},
      {"NOTIFY=NEVER", "a@example.com", {NotifyNever}, {0}},
      {"NOTIFY=SUCCESS", "a@example.com", {NotifySuccess}, {0}},
      {"NOTIFY=SUCCESS,DELAY", "a@example.com", {NotifySuccess | NotifyDelay}, {0}},
      {"NOTIFY=DELAY", "a@example.com", {NotifyDelay}, {0}},
      {"every failed one NEVER", "a@example.com", {NotifyNever, NotifyNever, 0}, {0, 1}},
      {"nothing failed", "a@example.com", {0}, {}},
      {"index out of range", "a@example.com", {0}, {7}},
  };
  for (const auto& c : cases) {
    Envelope e = sample_env();
    e.sender = c.sender;
    e.recipients.resize(c.notify.size(), tls_rcpt());
    for (size_t i = 0; i < c.notify.size(); ++i) e.recipients[i].notify = c.notify[i];
    std::vector<size_t> reported = {99};
    auto got = build_dsn(request(&e, c.failed), &reported);
    CHECK_TEXT(!got.has_value(), (std::string(c.name) + ": got a DSN, want none").c_str());
    CHECK_TEXT(reported.empty(), (std::string(c.name) + ": reported not cleared").c_str());
  }
  CHECK(!build_dsn(DsnRequest{}, nullptr).has_value());
}

TEST(Dsn, MixedNotifyReportsOnlyThoseAllowed) {
  Envelope e = sample_env();
  e.recipients.push_back(tls_rcpt());
  e.recipients[0].notify = NotifyNever;
  e.recipients[1].notify = NotifyFailure;
  e.recipients[2].notify = 0;
  e.recipients[3].notify = NotifySuccess;
  e.recipients[3].address = "erin@partner.example";
  std::vector<size_t> reported;
  std::string msg = build(request(&e, {0, 1, 2, 3, 2}), &reported);
  std::vector<size_t> want = {1, 2};
  CHECK_TEXT(reported == want, "reported: want {1, 2}");
  auto blocks = status_blocks(msg);
  CHECK_EQUAL(3u, blocks.size());
  std::string report = msg.substr(0, msg.find("Content-Type: text/rfc822-headers"));  // the original names bob
  CHECK_EQUAL(0, count_of(report, "bob@partner.example"));
  CHECK_EQUAL(0, count_of(report, "erin@partner.example"));
  STRCMP_EQUAL("rfc822; carol@other.example", field_of(blocks[1], "Final-Recipient").c_str());
  STRCMP_EQUAL("rfc822; dave@null.example", field_of(blocks[2], "Final-Recipient").c_str());
}

TEST(Dsn, LongDiagnosticStaysUnderTheLineLimit) {
  std::string words, one_word(3000, 'x');
  for (int i = 0; i < 400; ++i) words += "word" + std::to_string(i) + " ";
  struct {
    const char* name;
    std::string diagnostic;
  } cases[] = {
      {"many words", "550 5.7.1 " + words},
      {"one long word", "550 5.7.1 " + one_word},
      {"multi-line reply", "550-5.7.1 first line\r\n550-5.7.1 " + words + "\r\n550 5.7.1 last"},
  };
  for (const auto& c : cases) {
    Envelope e = sample_env();
    e.recipients[1].diagnostic = c.diagnostic;
    e.recipients[1].last_error = "the receiving server refused the message: " + c.diagnostic;
    std::string msg = build(request(&e, {1}));
    STRCMP_EQUAL_TEXT("", bad_line(msg).c_str(), c.name);
    std::string got = field_of(status_blocks(msg)[1], "Diagnostic-Code");
    CHECK_TEXT(got.compare(0, 16, "smtp; 550 5.7.1 ") == 0 || got.compare(0, 16, "smtp; 550-5.7.1 ") == 0, c.name);
    CHECK_TEXT(got.size() >= c.diagnostic.size(), (std::string(c.name) + ": diagnostic shortened").c_str());
  }
}

TEST(Dsn, HeaderInjectionIsImpossible) {
  Envelope e = sample_env();
  e.recipients[1].diagnostic = "550 no\r\nX-Injected: yes\r\n\r\n--=_smarthost_seed1--";
  e.recipients[1].remote_mta = "mx\r\nX-Injected: yes";
  std::string msg = build(request(&e, {1}));
  CHECK_EQUAL(0, count_of(msg, "\r\nX-Injected"));
  STRCMP_EQUAL("", bad_line(msg).c_str());
  bool closed;
  CHECK_EQUAL(3u, parts_of(msg, &closed).size());
  CHECK(closed);
}

TEST(Dsn, BoundaryAvoidsTheContent) {
  Envelope e = sample_env();
  std::string original = "Subject: x\r\n\r\n--=_smarthost_seed1\r\n--=_smarthost_seed1--\r\n";
  DsnRequest q = request(&e, {0});
  q.original = &original;
  e.ret = static_cast<uint8_t>(Ret::Full);
  std::string msg = build(q);
  CHECK(boundary_of(msg) != "=_smarthost_seed1");
  bool closed;
  auto parts = parts_of(msg, &closed);
  CHECK_EQUAL(3u, parts.size());
  CHECK(closed);
  CHECK(body_of(parts[2]) == original);
}

TEST(Dsn, RandomBoundaryWhenNoSeed) {
  Envelope e = sample_env();
  DsnRequest q = request(&e, {0});
  q.boundary_seed.clear();
  std::string a = build(q), b = build(q);
  CHECK(boundary_of(a).size() > 20);
  CHECK(boundary_of(a) != boundary_of(b));
  CHECK(field_of(head_of(a), "Message-ID") != field_of(head_of(b), "Message-ID"));
}

TEST(Dsn, TlsSubjectNamesTheDomain) {
  struct {
    const char* name;
    std::vector<size_t> failed;
    const char* want;
  } cases[] = {
      {"one TLS domain", {0}, "Undelivered Mail: secure (TLS) connection to partner.example was not possible"},
      {"TLS and a rejection", {0, 1}, "Undelivered Mail Returned to Sender"},
      {"a rejection", {1}, "Undelivered Mail Returned to Sender"},
  };
  for (const auto& c : cases) {
    Envelope e = sample_env();
    std::string got = field_of(head_of(build(request(&e, c.failed))), "Subject");
    STRCMP_EQUAL_TEXT(c.want, got.c_str(), c.name);
  }
}

// The human part: host, what failed, and the advice for that failure.
TEST(Dsn, HumanTextSaysWhatToDo) {
  using K = router::FailureKind;
  using P = certs::TlsProblem;
  struct {
    const char* status;
    K kind;
    P problem;
    const char* last_error;
    std::vector<const char*> want;
  } cases[] = {
      {"5.7.4", K::Tls, P::NotOffered, "TLS unavailable: the receiving server mx1.partner.example did not offer STARTTLS",
       {"Check that the receiving server supports TLS", "tls = \"opportunistic\"", "tried once and not retried",
        "third-party mail relay service", "smarthost test-route partners"}},
      {"5.7.5", K::Tls, P::HostnameMismatch, "certificate host name mismatch: mx1.partner.example is not in the certificate",
       {"host name that is in the", "verify_hostname = false on route \"partners\"", "tried once and not retried"}},
      {"5.7.5", K::Tls, P::UnknownCa, "certificate not signed by a trusted CA", {"trusted certificate", "verify_ca = false", "tls.ca_file"}},
      {"5.7.5", K::Tls, P::Expired, "certificate expired", {"renew it", "verify_ca = false"}},
      {"5.7.5", K::Tls, P::NotYetValid, "certificate not yet valid", {"renew it", "verify_ca = false"}},
      {"5.7.5", K::Tls, P::VersionTooOld, "TLS version too old: TLS1_1 offered, route requires 1.2", {"TLS 1.2 or TLS 1.3", "min_tls_version"}},
      {"5.7.5", K::Tls, P::NoSharedCipher, "no shared cipher", {"ciphers list", "current ciphers"}},
      {"5.7.5", K::Tls, P::HandshakeFailed, "TLS handshake failed", {"host name that is in the", "trusted certificate", "verify_hostname = false"}},
      {"5.7.5", K::Tls, P::HostnameOnlyInCn, "certificate names the host only in its subject CN, not in a subjectAltName (RFC 9525)",
       {"reissued with mx1.partner.example as a DNS subjectAltName", "verify_hostname = false on route \"partners\""}},
      {"5.7.5", K::Tls, P::NoTls13Suite, "the route's cipher list offers nothing the server accepts",
       {"has no TLS 1.3 suite", "TLS_AES_128_GCM_SHA256", "ciphers list of route \"partners\"",
        "Lowering min_tls_version does not help"}},
      {"5.1.10", K::NullMx, P::HandshakeFailed, "the domain accepts no mail", {"null MX"}},
      {"5.4.7", K::Expired, P::HandshakeFailed, "gave up after 5 days", {"time in the queue ran out"}},
  };
  for (const auto& c : cases) {
    Envelope e = sample_env();
    e.recipients[0].dsn_status = c.status;
    e.recipients[0].failure = c.kind;
    e.recipients[0].tls_problem = c.problem;
    e.recipients[0].last_error = c.last_error;
    bool closed;
    auto parts = parts_of(build(request(&e, {0})), &closed);
    // Unwrap the text so that phrases can be found across line breaks.
    std::string text = body_of(parts[0]);
    for (auto p = text.find("\r\n"); p != std::string::npos; p = text.find("\r\n")) text.replace(p, 2, " ");
    for (auto p = text.find("  "); p != std::string::npos; p = text.find("  ")) text.replace(p, 2, " ");
    std::vector<const char*> always = {"bob@partner.example", "mx1.partner.example"};
    for (const char* w : always) CHECK_TEXT(text.find(w) != std::string::npos, (std::string(c.last_error) + ": no " + w).c_str());
    CHECK_TEXT(text.find(c.last_error) != std::string::npos, (std::string("last_error missing: ") + c.last_error).c_str());
    for (const char* w : c.want) {
      std::string label = std::string(c.last_error) + ": want \"" + w + "\" in:\n" + text;
      CHECK_TEXT(text.find(w) != std::string::npos, label.c_str());
    }
    bool tls = std::string(c.status).compare(0, 4, "5.7.") == 0;
    CHECK_EQUAL_TEXT(tls, text.find("not retried") != std::string::npos, c.last_error);
  }
}

// Recipient::advice replaces our own fixes; a TLS failure still gets the
// tester and the cost of relaxing, other failures get the advice alone.
TEST(Dsn, RecipientAdviceWins) {
  struct {
    const char* status;
    router::FailureKind kind;
    size_t want_items;
    bool want_cost;
  } cases[] = {{"5.7.4", router::FailureKind::Tls, 6, true},
               {"5.7.5", router::FailureKind::Tls, 6, true},
               {"5.1.1", router::FailureKind::RemoteReply, 2, false},
               {"5.7.5", router::FailureKind::None, 6, true}};  // a record from before kinds were stored
  for (const auto& c : cases) {
    Envelope e = sample_env();
    e.recipients[0].dsn_status = c.status;
    e.recipients[0].failure = c.kind;
    e.recipients[0].advice = "Call the partner's help desk.\r\nThen fix the certificate.\n\n";
    auto got = dsn_advice(e.recipients[0]);
    CHECK_EQUAL_TEXT(c.want_items, got.size(), c.status);
    STRCMP_EQUAL_TEXT("Call the partner's help desk.", got[0].c_str(), c.status);
    STRCMP_EQUAL_TEXT("Then fix the certificate.", got[1].c_str(), c.status);
    std::string msg = build(request(&e, {0}));
    CHECK_TEXT(msg.find("    - Call the partner's help desk.\r\n    - Then fix the certificate.") != std::string::npos, c.status);
    CHECK_EQUAL_TEXT(0, count_of(msg, "Check that the receiving server supports TLS"), c.status);
    CHECK_EQUAL_TEXT(c.want_cost, msg.find("Relaxing the route costs security") != std::string::npos, c.status);
  }
}

// The typed TLS problem decides the advice; the words of last_error (library
// detail that names other problems) do not. A record written before kinds
// were stored goes by its status code alone.
TEST(Dsn, TypedProblemDecidesNotTheWords) {
  using P = certs::TlsProblem;
  struct {
    router::FailureKind kind;
    P problem;
    const char* last_error;
    const char* want;
    const char* not_want;
  } cases[] = {
      {router::FailureKind::Tls, P::NoSharedCipher, "TLS handshake with mx1 failed: protocol version", "ciphers list",
       "min_tls_version"},
      {router::FailureKind::Tls, P::VersionTooOld, "no cipher in common, says the library", "min_tls_version",
       "ciphers list"},
      {router::FailureKind::Tls, P::UnknownCa, "certificate host name checked later", "tls.ca_file",
       "verify_hostname = false on"},
      {router::FailureKind::None, P::HandshakeFailed, "certificate host name mismatch", "verify_ca = false, or tls",
       "set verify_hostname = false on"},
  };
  for (const auto& c : cases) {
    Recipient r = tls_rcpt();
    r.dsn_status = "5.7.5";
    r.failure = c.kind;
    r.tls_problem = c.problem;
    r.last_error = c.last_error;
    std::string all;
    for (const auto& item : dsn_advice(r)) all += item + "\n";
    CHECK_TEXT(all.find(c.want) != std::string::npos, (std::string(c.last_error) + ": want \"" + c.want + "\" in:\n" + all).c_str());
    CHECK_TEXT(all.find(c.not_want) == std::string::npos,
               (std::string(c.last_error) + ": did not want \"" + c.not_want + "\" in:\n" + all).c_str());
  }
}

// A remote host's own 5.7.x reply is a refusal, not our TLS failure.
TEST(Dsn, RemoteReplyWithTlsStatusIsARefusal) {
  Envelope e = sample_env();
  Recipient& r = e.recipients[0];
  r.dsn_status = "5.7.5";
  r.failure = router::FailureKind::RemoteReply;
  r.diagnostic = "550 5.7.5 policy says no";
  r.last_error = "host mx1.partner.example said: 550 5.7.5 policy says no";
  std::string msg = build(request(&e, {0}));
  CHECK(msg.find("not retried") == std::string::npos);
  CHECK(msg.find("refused the message") != std::string::npos);
}

TEST(Dsn, Utf8ErrorTextIsQuotedPrintable) {
  Envelope e = sample_env();
  e.recipients[0].last_error = "certificate not signed by a trusted CA (issuer \xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe)";
  std::string msg = build(request(&e, {0}));
  bool closed;
  auto parts = parts_of(msg, &closed);
  STRCMP_EQUAL("quoted-printable", field_of(head_of(parts[0]), "Content-Transfer-Encoding").c_str());
  CHECK(body_of(parts[0]).find("=E6=A0=AA") != std::string::npos);
  CHECK(is_ascii(msg.substr(0, msg.find("\r\n--" + boundary_of(msg) + "\r\nContent-Type: text/rfc822"))));
}

// ---- Python's email package reads the same report ------------------------------

namespace {

const char* kPythonReader = R"PY(
import sys, email
m = email.message_from_bytes(sys.stdin.buffer.read())
print("top", m.get_content_type(), m.get_param("report-type"), "defects", len(m.defects))
for p in m.get_payload():
    print("part", p.get_content_type(), "defects", len(p.defects))
    if p.get_content_type() == "message/delivery-status":
        for b in p.get_payload():
            print("block")
            for k, v in b.items():
                print("  " + k + ": " + " ".join(str(v).split()))
    elif p.get_content_type() == "text/plain":
        print("text " + " ".join(p.get_payload(decode=True).decode("utf-8").split()))
    elif p.get_content_type() == "message/rfc822":
        print("attached-subject", p.get_payload()[0]["Subject"])
    else:
        print("headers-subject", email.message_from_string(p.get_payload())["Subject"])
)PY";

// Runs the reader over msg and returns what it printed.
std::string python_reads(const std::string& msg) {
  char path[] = "/tmp/smarthost-dsn-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
  close(fd);
  std::string cmd = std::string("/usr/bin/python3 -c '") + kPythonReader + "' < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CHECK(p != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  unlink(path);
  CHECK_EQUAL_TEXT(0, status, ("python3 failed:\n" + out).c_str());
  return out;
}

void want_lines(const std::string& out, const std::vector<std::string>& want) {
  for (const auto& w : want) CHECK_TEXT(out.find(w + "\n") != std::string::npos, ("want line \"" + w + "\" in:\n" + out).c_str());
}

}  // namespace

TEST_GROUP(DsnPython){};

TEST(DsnPython, ParsesHeadersReport) {
  Envelope e = sample_env();
  std::string out = python_reads(build(request(&e, {0, 1})));
  want_lines(out, {
                      "top multipart/report delivery-status defects 0",
                      "part text/plain defects 0",
                      "part message/delivery-status defects 0",
                      "part text/rfc822-headers defects 0",
                      "  Reporting-MTA: dns; relay.example.com",
                      "  Original-Envelope-Id: env+201+2Bx",
                      "  Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
                      "  Final-Recipient: rfc822; bob@partner.example",
                      "  Status: 5.7.4",
                      "  Remote-MTA: dns; mx1.partner.example",
                      "  Original-Recipient: rfc822;carol+2Bx@other.example",
                      "  Diagnostic-Code: smtp; 550 5.1.1 <carol@other.example>: Recipient address rejected: User unknown",
                      "headers-subject quarterly figures",
                  });
  CHECK_EQUAL(3, count_of(out, "\nblock\n"));
  CHECK_EQUAL(1, count_of(out, "Diagnostic-Code"));
  CHECK_EQUAL(2, count_of(out, "  Action: failed\n"));
  CHECK(out.find("Check that the receiving server supports TLS") != std::string::npos);
}

TEST(DsnPython, ParsesFullReportWithLongDiagnosticAndUtf8) {
  Envelope e = sample_env();
  e.ret = static_cast<uint8_t>(Ret::Full);
  std::string words;
  for (int i = 0; i < 300; ++i) words += "w" + std::to_string(i) + " ";
  e.recipients[1].diagnostic = "550 5.7.1 " + words;
  e.recipients[0].dsn_status = "5.7.5";
  e.recipients[0].tls_problem = certs::TlsProblem::UnknownCa;
  e.recipients[0].last_error = "certificate not signed by a trusted CA (issuer \xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe)";
  std::string out = python_reads(build(request(&e, {0, 1})));
  want_lines(out, {
                      "top multipart/report delivery-status defects 0",
                      "part message/rfc822 defects 0",
                      "attached-subject quarterly figures",
                      "  Status: 5.7.5",
                      "  Diagnostic-Code: smtp; 550 5.7.1 " + words.substr(0, words.size() - 1),
                  });
  CHECK_TEXT(out.find("issuer \xe6\xa0\xaa\xe5\xbc\x8f\xe4\xbc\x9a\xe7\xa4\xbe") != std::string::npos, out.c_str());
  CHECK(out.find("verify_ca = false") != std::string::npos);
}

// ---- mime_text helpers ---------------------------------------------------------------

TEST_GROUP(DsnMimeText){};

TEST(DsnMimeText, Dates) {
  STRCMP_EQUAL("Thu, 01 Jan 1970 00:00:00 +0000", rfc5322_date(0).c_str());
  STRCMP_EQUAL("Tue, 14 Nov 2023 22:13:20 +0000", rfc5322_date(1700000000).c_str());
}

TEST(DsnMimeText, FoldField) {
  struct {
    const char* name;
    std::string value;
    std::string want;
  } cases[] = {
      {"Status", "5.7.4", "Status: 5.7.4\r\n"},
      {"X", "a\r\nB: c", "X: a B: c\r\n"},
      {"Subject", std::string(70, 'a') + " " + std::string(10, 'b'), "Subject: " + std::string(70, 'a') + "\r\n " + std::string(10, 'b') + "\r\n"},
      {"D", std::string(1000, 'x'), "D: " + std::string(900, 'x') + "\r\n " + std::string(100, 'x') + "\r\n"},
  };
  for (const auto& c : cases) STRCMP_EQUAL_TEXT(c.want.c_str(), fold_field(c.name, c.value).c_str(), c.name);
}

TEST(DsnMimeText, WrapText) {
  STRCMP_EQUAL("  one two\r\n  three\r\n", wrap_text("one two three", 10, "  ").c_str());
  STRCMP_EQUAL("", wrap_text("  ", 10, "  ").c_str());
  // A long UTF-8 word is split between characters, never inside one.
  std::string word;
  for (int i = 0; i < 400; ++i) word += "\xe6\xa0\xaa";
  std::string got = wrap_text(word, 76, "");
  auto crlf = got.find("\r\n");
  CHECK(crlf <= 900 && crlf % 3 == 0);
  CHECK_EQUAL(word.size() + 4, got.size());
}

TEST(DsnMimeText, HeaderSection) {
  STRCMP_EQUAL("A: 1\r\nB: 2\r\n", header_section("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\n").c_str());
  STRCMP_EQUAL("", header_section("\r\nbody\r\n").c_str());
  STRCMP_EQUAL("A: 1\r\n", header_section("A: 1\r\n").c_str());
}

TEST(DsnMimeText, QuotedPrintable) {
  STRCMP_EQUAL("caf=C3=A9 =3D x=20\r\nok", qp_encode("caf\xc3\xa9 = x \r\nok").c_str());
  std::string got = qp_encode(std::string(200, 'a') + "\r\n");
  STRCMP_EQUAL("", bad_line(got).c_str());
  CHECK(got.find("=\r\n") == 75);
}

// ---- RFC 6533: reports on internationalised mail --------------------------------------

namespace {

const std::string kUtf8Original =
    "From: Alice <alice@example.com>\r\n"
    "To: j\xc3\xb6rg@b\xc3\xbc" "cher.example\r\n"
    "Subject: Gr\xc3\xbc\xc3\x9f" "e\r\n"
    "\r\n"
    "Hall\xc3\xb6\r\n";

Recipient no_smtputf8_rcpt() {
  Recipient r;
  r.address = "j\xc3\xb6rg@b\xc3\xbc" "cher.example";
  r.route = "idn";
  r.dsn_status = "5.6.7";
  r.failure = router::FailureKind::NoSmtpUtf8;
  r.remote_mta = "mx.xn--bcher-kva.example";
  r.last_error = "not sent: the recipient address is internationalised (UTF-8) and mx[127.0.0.1]:25 did not offer "
                 "SMTPUTF8, so it cannot take internationalised mail (RFC 6531: no downgrade)";
  return r;
}

const char* kPythonGlobalReader = R"PY(
import sys, email, email.policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
print("top", m.get_content_type(), m.get_param("report-type"), "defects", len(m.defects))
for p in m.iter_parts():
    print("part", p.get_content_type(), "defects", len(p.defects))
    if p.get_content_type() == "text/plain":
        print("text " + " ".join(p.get_content().split()))
)PY";

std::string python_reads_global(const std::string& msg) {
  char path[] = "/tmp/smarthost-dsn-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()));
  close(fd);
  std::string cmd = std::string("/usr/bin/python3 -c '") + kPythonGlobalReader + "' < " + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CHECK(p != nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = pclose(p);
  unlink(path);
  CHECK_EQUAL_TEXT(0, status, ("python3 failed:\n" + out).c_str());
  return out;
}

}  // namespace

TEST(Dsn, GlobalReportForInternationalisedMail) {
  Envelope e = sample_env();
  e.smtputf8 = true;
  e.recipients = {no_smtputf8_rcpt(), rejected_rcpt()};
  e.recipients[1].diagnostic = "550 5.1.1 <carol@other.example>: unknown \xc2\x85 user \xff";
  DsnRequest q = request(&e, {0, 1});
  q.original = &kUtf8Original;
  std::string msg = build(q);
  STRCMP_EQUAL("", bad_line(msg).c_str());
  CHECK(field_of(head_of(msg), "Content-Type").find("report-type=global-delivery-status") != std::string::npos);
  bool closed;
  auto parts = parts_of(msg, &closed);
  CHECK(closed);
  CHECK_EQUAL(3u, parts.size());
  STRCMP_EQUAL("message/global-delivery-status", field_of(head_of(parts[1]), "Content-Type").c_str());
  STRCMP_EQUAL("8bit", field_of(head_of(parts[1]), "Content-Transfer-Encoding").c_str());
  STRCMP_EQUAL("message/global-headers", field_of(head_of(parts[2]), "Content-Type").c_str());
  STRCMP_EQUAL(header_section(kUtf8Original).c_str(), body_of(parts[2]).c_str());  // byte-exact
  auto blocks = status_blocks(msg);
  CHECK_EQUAL(3u, blocks.size());
  STRCMP_EQUAL("utf-8; j\xc3\xb6rg@b\xc3\xbc" "cher.example", field_of(blocks[1], "Final-Recipient").c_str());
  STRCMP_EQUAL("5.6.7", field_of(blocks[1], "Status").c_str());
  STRCMP_EQUAL("", field_of(blocks[1], "Diagnostic-Code").c_str());  // the host never replied about it
  STRCMP_EQUAL("rfc822; carol@other.example", field_of(blocks[2], "Final-Recipient").c_str());
  // UTF-8 kept in a global report; a C1 control and a byte that is not UTF-8 are not.
  STRCMP_EQUAL("smtp; 550 5.1.1 <carol@other.example>: unknown ? user ?", field_of(blocks[2], "Diagnostic-Code").c_str());
  std::string out = python_reads_global(msg);
  want_lines(out, {"top multipart/report global-delivery-status defects 0", "part text/plain defects 0",
                   "part message/global-delivery-status defects 0", "part message/global-headers defects 0"});
  CHECK_TEXT(out.find("did not offer SMTPUTF8") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("Ask the recipient for an address written in ASCII") != std::string::npos, out.c_str());
  CHECK_TEXT(out.find("j\xc3\xb6rg@b\xc3\xbc" "cher.example") != std::string::npos, out.c_str());
}

TEST(Dsn, GlobalReportWithRetFullAttachesMessageGlobal) {
  Envelope e = sample_env();
  e.ret = static_cast<uint8_t>(Ret::Full);
  e.recipients = {no_smtputf8_rcpt()};
  DsnRequest q = request(&e, {0});
  q.original = &kUtf8Original;  // UTF-8 address and headers: global although the flag is off
  std::string msg = build(q);
  bool closed;
  auto parts = parts_of(msg, &closed);
  CHECK_EQUAL(3u, parts.size());
  STRCMP_EQUAL("message/global", field_of(head_of(parts[2]), "Content-Type").c_str());
  STRCMP_EQUAL(kUtf8Original.c_str(), body_of(parts[2]).c_str());
}

TEST(Dsn, AsciiMailKeepsTheClassicReport) {
  Envelope e = sample_env();
  Recipient r = rejected_rcpt();
  r.dsn_status = "5.6.3";
  r.failure = router::FailureKind::No8BitMime;
  r.diagnostic.clear();
  e.recipients = {r};
  std::string msg = build(request(&e, {0}));
  CHECK(field_of(head_of(msg), "Content-Type").find("report-type=delivery-status") != std::string::npos);
  bool closed;
  auto parts = parts_of(msg, &closed);
  STRCMP_EQUAL("message/delivery-status", field_of(head_of(parts[1]), "Content-Type").c_str());
  STRCMP_EQUAL("text/rfc822-headers", field_of(head_of(parts[2]), "Content-Type").c_str());
  CHECK(msg.find("does not accept 8-bit data") != std::string::npos);
}

// Issue 14 item 12: the advised tester command runs as written: --domain (an mx route needs it),
// -c when the relay does not run on the default config, shell quoting where a word needs it.
TEST(Dsn, AdvisedTesterCommandRunsAsWritten) {
  struct {
    const char* config;
    const char* route;
    const char* want;
  } cases[] = {
      {"", "partners", "Run \"smarthost test-route partners --domain partner.example\" on the relay"},
      {"/etc/smarthost/smarthost.cfg", "partners", "Run \"smarthost test-route partners --domain partner.example\""},
      {"/srv/relay/smarthost.cfg", "partners",
       "Run \"smarthost test-route -c /srv/relay/smarthost.cfg partners --domain partner.example\""},
      {"/srv/my relay/it's.cfg", "partners",
       "Run \"smarthost test-route -c '/srv/my relay/it'\\''s.cfg' partners --domain partner.example\""},
      {"", "", "Run \"smarthost test-route ROUTE --domain partner.example\""},
  };
  for (const auto& c : cases) {
    Recipient r = tls_rcpt();
    r.route = c.route;
    std::string all;
    for (const auto& item : dsn_advice(r, c.config)) all += item + "\n";
    CHECK_TEXT(all.find(c.want) != std::string::npos, ("got:\n" + all + "want: " + c.want).c_str());
  }
  // Through build_dsn: the request's config path reaches the text (joined again across the wrap).
  Envelope e = sample_env();
  e.recipients[0] = tls_rcpt();
  DsnRequest q = request(&e, {0});
  q.config_path = "/srv/relay/smarthost.cfg";
  std::vector<size_t> reported;
  std::string msg = *build_dsn(q, &reported);
  std::string flat;
  for (char ch : msg) {
    if (ch == '\r' || ch == '\n' || ch == ' ') {
      if (!flat.empty() && flat.back() != ' ') flat += ' ';
    } else {
      flat += ch;
    }
  }
  CHECK_TEXT(flat.find("smarthost test-route -c /srv/relay/smarthost.cfg partners --domain partner.example") !=
                 std::string::npos, msg.c_str());
}
