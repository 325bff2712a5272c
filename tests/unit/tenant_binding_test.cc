// tenant_binding_test.cc - SPEC R-TENANT below the network: DKIM canonicalisation (RFC 6376 3.4.5's
// own example), tag lists, the verifier against a signature made by python3-dkim (a fixed Ed25519
// vector with l=) and against our signer, key record rules, the sender rules of relay_policy,
// Authentication-Results building and stripping, check-config's sentence, and MessageCheck's
// verdicts and key cache over a scripted DNS (router/dns/dns_static.h).
#include <event2/event.h>

#include <optional>
#include <string>

#include "config/config_loader.h"
#include "relay/message/dkim_key_cache.h"
#include "relay/tenant/message_check.h"
#include "router/base/event_handles.h"
#include "router/dns/dns_static.h"
#include "relay/message/base64.h"
#include "relay/message/dkim_canon.h"
#include "relay/message/dkim_signer.h"
#include "relay/message/dkim_verifier.h"
#include "relay/tenant/auth_results.h"
#include "relay/tenant/tenant_binding.h"

// CppUTest last: its leak-detector macros redefine `new` for what follows.
#include <CppUTest/TestHarness.h>

using namespace relay;

namespace {

// Made by python3-dkim 1.1.4 (Ed25519 seed 0x07 * 32, c=relaxed/simple, l=16, t=1795392000); it
// verifies there. The body is longer than l=16 covers by one empty line.
const char* kVectorKey = "v=DKIM1; k=ed25519; p=6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=";
const char* kVector =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple; d=ours.example;\r\n i=@ours.example; l=16; "
    "q=dns/txt; s=vec; t=1795392000; h=from : to :\r\n subject : date; "
    "bh=bCU5eb/6LgStI08RooN3gpY49n5d2NpgYqNbN4m3j68=;\r\n "
    "b=hb6VEklb/ypECPjlHuE02/ThUhZieBSDQuMprzn+G1ZsbaElfJ1mVvH5eepPAM8vUjZcN\r\n 9Co5R830kp0IM4ABQ==\r\n"
    "From: Alice <alice@ours.example>\r\nTo: bob@example.org\r\nSubject: vector\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n\r\nHello  there. \r\n\r\n";
constexpr int64_t kNow = 1795400000;

const char* kEdPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIK0u4EfnH+YyLmOkC8hwPMIKoMn/n5+Inu5EL96R3mmO\n"
    "-----END PRIVATE KEY-----\n";

DkimCheck verify_first(const std::string& msg, const std::string& key, int64_t now = kNow) {
  auto sigs = dkim_signatures(msg);
  if (sigs.empty()) return {DkimResult::PermError, "no signature"};
  return dkim_verify(msg, sigs[0], key, now);
}

std::string got_want(const std::string& got, const std::string& want) { return "got  [" + got + "]\nwant [" + want + "]"; }

}  // namespace

TEST_GROUP(DkimCanon){};

// RFC 6376 3.4.5: the example, both canonicalisations.
TEST(DkimCanon, Rfc6376Example) {
  const std::string a = "A: X\r\n", b = "B : Y\t\r\n\tZ  \r\n";
  STRCMP_EQUAL("a:X\r\n", dkim_canon_header(a, DkimCanon::Relaxed).c_str());
  STRCMP_EQUAL("b:Y Z\r\n", dkim_canon_header(b, DkimCanon::Relaxed).c_str());
  STRCMP_EQUAL(b.c_str(), dkim_canon_header(b, DkimCanon::Simple).c_str());
  const std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  STRCMP_EQUAL(" C\r\nD E\r\n", dkim_canon_body(body, DkimCanon::Relaxed).c_str());
  STRCMP_EQUAL(" C \r\nD \t E\r\n", dkim_canon_body(body, DkimCanon::Simple).c_str());
}

TEST(DkimCanon, EmptyBodiesAndMissingFinalCrlf) {
  struct {
    const char* body;
    DkimCanon c;
    const char* want;
  } cases[] = {
      {"", DkimCanon::Simple, "\r\n"},        {"", DkimCanon::Relaxed, ""},
      {"\r\n\r\n", DkimCanon::Simple, "\r\n"}, {"\r\n\r\n", DkimCanon::Relaxed, ""},
      {"x", DkimCanon::Simple, "x\r\n"},      {"x  ", DkimCanon::Relaxed, "x\r\n"},
  };
  for (const auto& c : cases) {
    std::string got = dkim_canon_body(c.body, c.c);
    CHECK_TEXT(got == c.want, got_want(got, c.want).c_str());
  }
}

TEST(DkimCanon, TagListsAndTheHashInput) {
  auto t = dkim_tag_list(" v=1; a = rsa-sha256 ;\r\n\tb=ab\r\n cd;");
  CHECK(t.has_value());
  STRCMP_EQUAL("rsa-sha256", (*t)["a"].c_str());
  STRCMP_EQUAL("ab\r\n cd", (*t)["b"].c_str());
  CHECK_FALSE(dkim_tag_list("v=1; v=2").has_value());  // twice
  CHECK_FALSE(dkim_tag_list("v=1; novalue").has_value());
  // b= emptied, bh= untouched, the rest kept; no final CRLF.
  std::string in = dkim_signature_hash_input("DKIM-Signature: a=x; bh=AB=;\r\n b=CD\r\n EF; d=e\r\n", DkimCanon::Simple);
  STRCMP_EQUAL("DKIM-Signature: a=x; bh=AB=;\r\n b=; d=e", in.c_str());
  in = dkim_signature_hash_input("DKIM-Signature: a=x; b=CD\r\n EF\r\n", DkimCanon::Relaxed);
  STRCMP_EQUAL("dkim-signature:a=x; b=", in.c_str());
  auto raw = base64_decode("aGVs\r\n bG8=");
  CHECK(raw.has_value());
  STRCMP_EQUAL("hello", raw->c_str());
  CHECK_FALSE(base64_decode("aGV*").has_value());
}

TEST_GROUP(DkimVerifier){};

TEST(DkimVerifier, PythonDkimVectorWithLengthTag) {
  DkimCheck r = verify_first(kVector, kVectorKey);
  CHECK_TEXT(r.result == DkimResult::Pass, r.reason.c_str());
  // Text after the l= octets is not covered; inside them it is.
  std::string appended = std::string(kVector) + "Appended.\r\n";
  CHECK_TEXT(verify_first(appended, kVectorKey).result == DkimResult::Pass, "appended text passes with l=");
  std::string changed = kVector;
  changed.replace(changed.find("Hello"), 5, "Jello");
  DkimCheck bad = verify_first(changed, kVectorKey);
  CHECK(bad.result == DkimResult::Fail);
  STRCMP_EQUAL("body hash mismatch", bad.reason.c_str());
  // Relaxed headers: re-folded white space still verifies; a changed value does not.
  std::string refolded = kVector;
  refolded.replace(refolded.find("Subject: vector"), 15, "Subject:   vector");
  CHECK(verify_first(refolded, kVectorKey).result == DkimResult::Pass);
  std::string subject = kVector;
  subject.replace(subject.find("Subject: vector"), 15, "Subject: Vector");
  STRCMP_EQUAL("signature did not verify", verify_first(subject, kVectorKey).reason.c_str());
}

TEST(DkimVerifier, KeyRecordRules) {
  struct {
    std::string key;
    DkimResult want;
    const char* reason;
  } cases[] = {
      {"v=DKIM1; k=ed25519; p=", DkimResult::PermError, "key revoked (empty p=)"},
      {"v=DKIM1; k=rsa; p=6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=", DkimResult::PermError,
       "key type k=rsa does not fit a=ed25519-sha256"},
      {std::string(kVectorKey) + "; h=sha1", DkimResult::PermError, "key does not allow sha256 (h=sha1)"},
      {std::string(kVectorKey) + "; s=other", DkimResult::PermError, "key is not for email (s=other)"},
      {"v=DKIM1; k=ed25519; p=AAAA", DkimResult::PermError, "the key record's p= is not an Ed25519 public key"},
      {"v=DKIM1; k=ed25519; p=ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleTEyMzQ=", DkimResult::Fail,
       "signature did not verify"},
  };
  for (const auto& c : cases) {
    DkimCheck r = verify_first(kVector, c.key);
    CHECK_TEXT(r.result == c.want && r.reason == c.reason, (c.key + ": " + got_want(r.reason, c.reason)).c_str());
  }
}

TEST(DkimVerifier, SignatureTagRules) {
  const std::string rest = "From: a@ours.example\r\n\r\nbody\r\n";
  struct {
    const char* sig;
    const char* reason;
  } cases[] = {
      {"DKIM-Signature: v=1; a=rsa-sha1; d=ours.example; s=s; h=from; bh=AA==; b=AA==\r\n",
       "rsa-sha1 is not accepted (RFC 8301)"},
      {"DKIM-Signature: v=1; a=rsa-sha256; d=ours.example; s=s; h=to; bh=AA==; b=AA==\r\n", "h= does not sign From"},
      {"DKIM-Signature: v=1; a=rsa-sha256; s=s; h=from; bh=AA==; b=AA==\r\n", "missing d= tag"},
      {"DKIM-Signature: v=1; a=rsa-sha256; d=ours.example; i=x@evil.example; s=s; h=from; bh=AA==; b=AA==\r\n",
       "i= is not within d="},
      {"DKIM-Signature: v=1; a=rsa-sha256; d=ours.example; s=s; h=from; t=10; x=5; bh=AA==; b=AA==\r\n",
       "x= is before t="},
  };
  for (const auto& c : cases) {
    std::string msg = c.sig + rest;
    DkimCheck r = verify_first(msg, kVectorKey);
    CHECK_TEXT(r.result == DkimResult::PermError && r.reason == c.reason, got_want(r.reason, c.reason).c_str());
  }
}

TEST(DkimVerifier, OurSignerAndExpiry) {
  std::string err;
  auto key = DkimKey::from_pem(kEdPem, &err);
  CHECK_TEXT(key != nullptr, err.c_str());
  DkimOptions o;
  o.domain = "ours.example";
  o.selector = "s1";
  o.headers = {"from", "subject"};
  o.timestamp = kNow;
  const std::string msg = "From: a@ours.example\r\nSubject: hi\r\n\r\nText \r\n";
  auto sig = dkim_signature(msg, *key, o, &err);
  CHECK_TEXT(sig.has_value(), err.c_str());
  DkimCheck r = verify_first(*sig + msg, key->dns_record());
  CHECK_TEXT(r.result == DkimResult::Pass, r.reason.c_str());
  std::string expired = *sig;
  expired.replace(expired.find("t="), 2, "x=" + std::to_string(kNow + 10) + "; t=");
  // Inserting x= breaks the signature, but the expiry is checked first, so its reason shows.
  auto sigs = dkim_signatures(expired + msg);
  CHECK(sigs[0].expires.has_value());
  DkimCheck late = dkim_verify(expired + msg, sigs[0], key->dns_record(), kNow + 11);
  CHECK(late.result == DkimResult::PermError);
  CHECK(late.reason.rfind("signature expired", 0) == 0);
}

TEST_GROUP(TenantBinding){};

TEST(TenantBinding, SenderRules) {
  auto r = config::load_config_text(
      "allow = [ \"127.0.0.0/8\" ];\nqueue = { path = \"/q\"; };\nroutes = ( { name = \"d\"; match = [ \"*\" ]; } );\n"
      "relay_policy = { sender_domains = [ \"Example.com\", \".example.com\" ]; check_from = true;\n"
      " require_dkim = [ \"example.com\", \"example-com.20230601.gappssmtp.com\" ]; exempt = [ \"10.0.0.0/8\" ]; };\n",
      "t.cfg");
  CHECK_TEXT(r.config != nullptr, r.errors.empty() ? "" : r.errors[0].c_str());
  const auto& p = r.config->relay_policy;
  CHECK(domain_listed(p.sender_domains, "example.com"));
  CHECK(domain_listed(p.sender_domains, "a.b.example.com"));
  CHECK_FALSE(domain_listed(p.sender_domains, "badexample.com"));
  CHECK_FALSE(check_envelope_sender(p, "x@Mail.Example.COM").has_value());
  auto refused = check_envelope_sender(p, "x@other.example");
  CHECK(refused.has_value());
  STRCMP_EQUAL("<x@other.example>: sender domain other.example is not relayed here (only example.com, .example.com)",
               refused->text.c_str());
  CHECK(check_envelope_sender(p, "").has_value());  // allow_null_sender is off
  CHECK(binding_applies(p, *config::parse_ip("127.0.0.1"), ""));
  CHECK_FALSE(binding_applies(p, *config::parse_ip("10.1.2.3"), "x@other.example"));
  CHECK_FALSE(check_header_from(p, "From: \"Eve, at example.com\" <a@example.com> (x@evil.example)\r\n\r\n").has_value());
  auto from = check_header_from(p, "From: a@example.com, b@evil.example\r\n\r\n");
  CHECK(from.has_value());
  STRCMP_EQUAL("evil.example", from->domain.c_str());
  CHECK(check_header_from(p, "Subject: no from\r\n\r\n").has_value());
  STRCMP_EQUAL("accepting mail from 127.0.0.0/8 only for senders @example.com or @*.example.com (envelope and From: "
               "header) with a valid DKIM signature by example.com or example-com.20230601.gappssmtp.com; clients "
               "10.0.0.0/8 are exempt",
               binding_summary(*r.config).c_str());
}

TEST(TenantBinding, AuthenticationResults) {
  MessageVerdict v;
  v.checked_dkim = true;
  STRCMP_EQUAL("Authentication-Results: relay.example;\r\n\tdkim=none\r\n", auth_results_field("relay.example", v).c_str());
  DkimOutcome o;
  o.domain = "example.com";
  o.selector = "s1";
  o.algorithm = "rsa-sha256";
  o.b_prefix = "abcdEFGH";
  o.result = DkimResult::Fail;
  o.reason = "body hash mismatch (x)";
  v.checked.push_back(o);
  STRCMP_EQUAL("Authentication-Results: relay.example;\r\n\tdkim=fail (body hash mismatch  x ) header.d=example.com "
               "header.s=s1 header.a=rsa-sha256 header.b=abcdEFGH\r\n",
               auth_results_field("relay.example", v).c_str());
  const std::string msg =
      "Authentication-Results: (comment) RELAY.example; dkim=pass\r\nAuthentication-Results: relay.example.org; "
      "spf=pass\r\nAuthentication-Results: relay.example;\r\n dkim=pass\r\nFrom: a@b\r\n\r\n"
      "Authentication-Results: relay.example; in the body stays\r\n";
  int removed = 0;
  std::string out = strip_own_auth_results(msg, "relay.example", &removed);
  CHECK_EQUAL(2, removed);
  STRCMP_EQUAL("Authentication-Results: relay.example.org; spf=pass\r\nFrom: a@b\r\n\r\n"
               "Authentication-Results: relay.example; in the body stays\r\n",
               out.c_str());
}

TEST_GROUP(MessageCheck){};

namespace {

struct CheckRig {
  base::EventBasePtr base{event_base_new()};
  std::unique_ptr<router::StaticDns> dns = std::make_unique<router::StaticDns>(base.get());
  DkimKeyCache keys{*dns};
  ~CheckRig() { dns.reset(); }  // before the event base

  MessageVerdict run(const std::vector<std::string>& require, const std::string& msg, const std::string& sign = "") {
    std::optional<MessageVerdict> got;
    auto check = MessageCheck::start(keys, require, sign, msg, [&](MessageVerdict v) {
      got = std::move(v);
      event_base_loopbreak(base.get());
    });
    if (!got) event_base_dispatch(base.get());
    CHECK(got.has_value());
    return *got;
  }
};

// kVector with a second signature on top, by `domain` (never verifying: its b= is junk).
std::string with_second(const std::string& domain) {
  return "DKIM-Signature: v=1; a=rsa-sha256; d=" + domain + "; s=s1; h=from; bh=AAAA; b=AAAA\r\n" + kVector;
}

}  // namespace

TEST(MessageCheck, OneVerifyingListedSignatureIsEnough) {
  CheckRig rig;
  rig.dns->add_txt("vec._domainkey.ours.example", {kVectorKey});
  rig.dns->fail("s1._domainkey.slow.example", router::DnsType::TXT, router::DnsStatus::TempFail, "timed out after 2s");
  // kVector is dated 2026-11-27, its t= 1795392000: the clock does not matter without x=.
  MessageVerdict v = rig.run({"ours.example", "slow.example"}, with_second("slow.example"));
  CHECK(v.kind == MessageVerdict::Kind::Accept);
  STRCMP_EQUAL("temperror d=slow.example s=s1 (key lookup failed: timed out after 2s); pass d=ours.example s=vec",
               v.summary().c_str());
}

TEST(MessageCheck, TemporaryOnlyWhenNoneVerifiedAndAListedLookupFailed) {
  CheckRig rig;
  rig.dns->fail("vec._domainkey.ours.example", router::DnsType::TXT, router::DnsStatus::TempFail, "SERVFAIL");
  MessageVerdict v = rig.run({"ours.example"}, kVector);
  CHECK(v.kind == MessageVerdict::Kind::TempFail);
  STRCMP_EQUAL("DKIM key of ours.example could not be looked up now, try again later", v.text.c_str());
  // An unlisted signature's lookup is never made, so it cannot make the verdict temporary.
  CheckRig rig2;
  MessageVerdict w = rig2.run({"example.com"}, with_second("other.example"));
  CHECK(w.kind == MessageVerdict::Kind::Reject);
  STRCMP_EQUAL("no valid DKIM signature by example.com (the relay for this range only takes mail signed by that domain)",
               w.text.c_str());
  CHECK_EQUAL(0u, rig2.dns->asked().size());
}

TEST(MessageCheck, KeysAreCachedButNotTemporaryFailures) {
  CheckRig rig;
  rig.dns->add_txt("vec._domainkey.ours.example", {"unrelated text", kVectorKey});
  rig.dns->set_security(router::DnsSecurity::Secure);
  MessageVerdict v = rig.run({"ours.example"}, kVector);
  CHECK(v.kind == MessageVerdict::Kind::Accept);
  CHECK(v.checked[0].secure);
  rig.run({"ours.example"}, kVector);
  CHECK_EQUAL(1u, rig.dns->asked().size());  // the second came from the cache
  rig.dns->fail("s1._domainkey.slow.example", router::DnsType::TXT, router::DnsStatus::TempFail, "SERVFAIL");
  rig.run({"slow.example"}, with_second("slow.example"));
  rig.run({"slow.example"}, with_second("slow.example"));
  CHECK_EQUAL(3u, rig.dns->asked().size());  // asked again each time
}

TEST(MessageCheck, SignDomainIsCheckedWithoutDecidingTheVerdict) {
  CheckRig rig;
  rig.dns->add_txt("vec._domainkey.ours.example", {kVectorKey});
  MessageVerdict v = rig.run({}, kVector, "ours.example");
  CHECK(v.kind == MessageVerdict::Kind::Accept);
  CHECK(v.sign_domain_valid);
  CHECK(v.checked.empty());  // not a require_dkim result: no Authentication-Results entry
  CHECK_FALSE(v.checked_dkim);
}
