// smtp_command_test.cc - command verbs, MAIL/RCPT parameters, xtext.
#include <CppUTest/TestHarness.h>

#include "relay/smtpd/smtp_command.h"

using namespace relay;

TEST_GROUP(SmtpCommand){};

TEST(SmtpCommand, Verbs) {
  struct {
    const char* line;
    Verb verb;
    const char* arg;
  } cases[] = {
      {"EHLO client.example", Verb::Ehlo, "client.example"},
      {"ehlo client.example", Verb::Ehlo, "client.example"},
      {"HELO x", Verb::Helo, "x"},
      {"MAIL FROM:<a@b.example>", Verb::Mail, "FROM:<a@b.example>"},
      {"RCPT TO:<c@d.example> NOTIFY=NEVER", Verb::Rcpt, "TO:<c@d.example> NOTIFY=NEVER"},
      {"DATA", Verb::Data, ""},
      {"QUIT   ", Verb::Quit, ""},
      {"STARTTLS", Verb::StartTls, ""},
      {"BDAT 10 LAST", Verb::Bdat, "10 LAST"},
      {"XYZZY", Verb::Unknown, ""},
      {"", Verb::Unknown, ""},
      {"MAILFROM:<a@b>", Verb::Unknown, ""},
  };
  for (const auto& c : cases) {
    Command got = parse_command(c.line);
    CHECK_TEXT(got.verb == c.verb, c.line);
    STRCMP_EQUAL_TEXT(c.arg, got.arg.c_str(), c.line);
  }
}

TEST(SmtpCommand, MailFromGood) {
  Reply err;
  auto m = parse_mail_from("FROM:<a@b.example> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ+2B1", &err);
  CHECK(m.has_value());
  STRCMP_EQUAL("a@b.example", m->address.c_str());
  CHECK(m->size && *m->size == 1000);
  CHECK(m->body == BodyType::EightBitMime);
  CHECK(m->ret == Ret::Hdrs);
  STRCMP_EQUAL("QQ+1", m->envid.c_str());

  auto null_sender = parse_mail_from("FROM:<>", &err);
  CHECK(null_sender.has_value());
  STRCMP_EQUAL("", null_sender->address.c_str());

  auto spaced = parse_mail_from("from: <a@b.example>", &err);
  CHECK(spaced.has_value());
}

TEST(SmtpCommand, MailFromRequireTls) {
  Reply err;
  auto m = parse_mail_from("FROM:<a@b.example> REQUIRETLS", &err);
  CHECK(m.has_value());
  CHECK(m->requiretls);
  auto lower = parse_mail_from("FROM:<a@b.example> requiretls SIZE=10", &err);
  CHECK(lower.has_value() && lower->requiretls);
  CHECK_FALSE(parse_mail_from("FROM:<a@b.example>", &err)->requiretls);
  CHECK_FALSE(parse_mail_from("FROM:<a@b.example> REQUIRETLS=YES", &err).has_value());
  CHECK_EQUAL(501, err.code);
  CHECK_FALSE(parse_mail_from("FROM:<a@b.example> REQUIRETLS REQUIRETLS", &err).has_value());
  CHECK_EQUAL(501, err.code);
}

TEST(SmtpCommand, MailFromBad) {
  struct {
    const char* arg;
    int code;
    const char* status;
  } cases[] = {
      {"FROM:a@b.example", 501, "5.5.4"},
      {"TO:<a@b.example>", 501, "5.5.4"},
      {"FROM:<a@b.example", 501, "5.5.4"},
      {"FROM:<a b@c.example>", 553, "5.1.7"},
      {"FROM:<nodomain>", 553, "5.1.7"},
      {"FROM:<a@b.example> SIZE=abc", 501, "5.5.4"},
      {"FROM:<a@b.example> BODY=BINARYMIME", 501, "5.5.4"},
      {"FROM:<a@b.example> RET=FULL RET=HDRS", 501, "5.5.4"},
      {"FROM:<a@b.example> SMTPUTF8=yes", 501, "5.5.4"},   // RFC 6531 3.4: no value
      {"FROM:<a@b.example> SMTPUTF8 SMTPUTF8", 501, "5.5.4"},
      {"FROM:<a@b.example> AUTH=<>", 555, "5.5.4"},
      {"FROM:<a@b.example> ENVID=bad+zz", 501, "5.5.4"},
  };
  for (const auto& c : cases) {
    Reply err;
    auto m = parse_mail_from(c.arg, &err);
    std::string msg = std::string(c.arg) + ": got " + std::to_string(err.code) + " " + err.status;
    CHECK_TEXT(!m.has_value(), c.arg);
    CHECK_TEXT(err.code == c.code, msg.c_str());
    STRCMP_EQUAL_TEXT(c.status, err.status.c_str(), msg.c_str());
  }
}

TEST(SmtpCommand, RcptTo) {
  Reply err;
  auto r = parse_rcpt_to("TO:<u@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40d.example", false, &err);
  CHECK(r.has_value());
  STRCMP_EQUAL("u@d.example", r->address.c_str());
  CHECK_EQUAL(NotifySuccess | NotifyFailure, r->notify);
  STRCMP_EQUAL("rfc822;u+40d.example", r->orcpt.c_str());

  auto never = parse_rcpt_to("TO:<u@d.example> NOTIFY=NEVER", false, &err);
  CHECK(never && never->notify == NotifyNever);

  const char* bad[] = {"TO:<>", "TO:<u@d.example> NOTIFY=NEVER,SUCCESS", "TO:<u@d.example> NOTIFY=SOMETIMES",
                       "TO:<u@d.example> ORCPT=nosemicolon", "TO:u@d.example", "TO:<u@d.example> FOO=1"};
  for (const char* b : bad) CHECK_TEXT(!parse_rcpt_to(b, false, &err).has_value(), b);
}

TEST(SmtpCommand, XtextRoundTrip) {
  std::string s = "a+b=c d\x01";
  auto enc = xtext_encode(s);
  STRCMP_EQUAL("a+2Bb+3Dc+20d+01", enc.c_str());
  auto dec = xtext_decode(enc);
  CHECK(dec && *dec == s);
  CHECK(!xtext_decode("+2").has_value());
  CHECK(!xtext_decode("+").has_value());
  CHECK(!xtext_decode("+zz").has_value());
}

TEST(SmtpCommand, AddressDomain) {
  STRCMP_EQUAL("example.com", address_domain("User@Example.COM").c_str());
  STRCMP_EQUAL("", address_domain("nodomain").c_str());
}

namespace {

// The reply a MAIL or RCPT argument gets; {0, ""} when it is accepted. `utf8`: the transaction's
// MAIL carries SMTPUTF8.
Reply refusal(bool mail, const std::string& addr, bool utf8 = false) {
  Reply err;
  bool ok = mail ? parse_mail_from("FROM:<" + addr + ">" + (utf8 ? " SMTPUTF8" : ""), &err).has_value()
                 : parse_rcpt_to("TO:<" + addr + ">", utf8, &err).has_value();
  return ok ? Reply{} : err;
}

void check_refusal(bool mail, const std::string& addr, int code, const char* status,
                   const char* words = "", bool utf8 = false) {
  Reply got = refusal(mail, addr, utf8);
  std::string msg = std::string(mail ? "MAIL " : "RCPT ") + (utf8 ? "SMTPUTF8 " : "") + addr.substr(0, 40) + "...(" +
                    std::to_string(addr.size()) + " octets): got " + std::to_string(got.code) + " " +
                    got.status + " " + got.text;
  CHECK_TEXT(got.code == code, msg.c_str());
  STRCMP_EQUAL_TEXT(status, got.status.c_str(), msg.c_str());
  CHECK_TEXT(got.text.find(words) != std::string::npos, msg.c_str());
}

}  // namespace

// RFC 6531 3.5 / SPEC R-INTL: without SMTPUTF8 on MAIL a UTF-8 address is refused, never
// relayed raw, whether the 8-bit octets are in the local part or the domain.
TEST(SmtpCommand, EightBitAddressNeedsSmtpUtf8) {
  for (bool mail : {true, false}) {
    check_refusal(mail, "j\xc3\xb6rg@b.example", 553, "5.6.7", "SMTPUTF8");
    check_refusal(mail, "a@b\xc3\xbc" "cher.example", 553, "5.6.7", "SMTPUTF8");
    check_refusal(mail, "a@\xff.example", 553, "5.6.7", "SMTPUTF8");
    check_refusal(mail, "a@xn--bcher-kva.example", 0, "");  // the A-label form is plain ASCII
  }
}

// RFC 5321 4.5.3.1: local part 64 octets, domain 255, path 256 (with the angle brackets).
TEST(SmtpCommand, AddressLengthLimits) {
  std::string local64(64, 'l');
  std::string label63(63, 'd');
  std::string domain_189 = label63 + "." + label63 + "." + std::string(61, 'd');
  std::string domain_256 = label63 + "." + label63 + "." + label63 + "." + std::string(64, 'd');
  for (bool mail : {true, false}) {
    const char* status = mail ? "5.1.7" : "5.1.3";
    check_refusal(mail, local64 + "@x.example", 0, "");
    check_refusal(mail, local64 + "l@x.example", 501, status, "64");
    check_refusal(mail, "a@" + domain_256, 501, status, "255");
    // Each part within its limit: 254 octets (256 with "<>") is the longest path.
    check_refusal(mail, local64 + "@" + domain_189, 0, "");
    check_refusal(mail, local64 + "@" + domain_189 + "d", 501, status, "256");
  }
}

// RFC 6531 3.3: with SMTPUTF8 a UTF-8 local part and a U-label domain are taken; the UTF-8 must be
// strictly valid (RFC 3629) and free of control characters, else 501 5.6.7.
TEST(SmtpCommand, Utf8AddressWithSmtpUtf8) {
  struct Case {
    const char* addr;
    int code;
    const char* status;
    const char* words;
  } cases[] = {
      {"j\xc3\xb6rg@b\xc3\xbc" "cher.example", 0, "", ""},             // jörg@bücher.example
      {"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.example", 0, "", ""},  // 用户@例子.example
      {"a@stra\xc3\x9f" "e.example", 0, "", ""},                         // ß kept (non-transitional)
      {"a@xn--bcher-kva.example", 0, "", ""},                             // A-label, ASCII
      {"\xf0\x9f\x98\x80@b.example", 0, "", ""},                          // emoji local part: any UTF-8
      {"j\xc0\xafrg@b.example", 501, "5.6.7", "overlong"},                // "/" as C0 AF
      {"j\xe0\x80\xafrg@b.example", 501, "5.6.7", "overlong"},            // three-byte overlong
      {"j\xed\xa0\x80rg@b.example", 501, "5.6.7", "surrogate"},           // U+D800
      {"j\xf4\x90\x80\x80rg@b.example", 501, "5.6.7", "above U+10FFFF"},
      {"j\xc3rg@b.example", 501, "5.6.7", "incomplete"},                 // cut-off sequence
      {"j\x80rg@b.example", 501, "5.6.7", "not UTF-8"},                   // stray continuation
      {"j\xffrg@b.example", 501, "5.6.7", "not UTF-8"},
      {"j\xc2\x85rg@b.example", 501, "5.6.7", "control"},                 // C1 NEL
      {"j\xc2\x9frg@b.example", 501, "5.6.7", "control"},                 // C1 APC
      {"j\xc3\xb6rg@\xf0\x9f\x98\x80.example", 553, "", "syntax"},        // emoji: IDNA2008 disallows
      {"a@xn--zz.example", 553, "", "syntax"},                            // invalid Punycode
  };
  for (bool mail : {true, false}) {
    for (const auto& c : cases) {
      const char* status = c.code == 553 ? (mail ? "5.1.7" : "5.1.3") : c.status;
      check_refusal(mail, c.addr, c.code, status, c.words, /*utf8=*/true);
    }
  }
  Reply err;
  auto m = parse_mail_from("FROM:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> SMTPUTF8 BODY=8BITMIME", &err);
  CHECK_TEXT(m.has_value(), err.text.c_str());
  CHECK(m->smtputf8);
  CHECK(m->body == BodyType::EightBitMime);
  CHECK_FALSE(parse_mail_from("FROM:<a@b.example>", &err)->smtputf8);
}

// RFC 6533 3: with SMTPUTF8, ORCPT may carry the UTF-8 address itself ("utf-8" type, unitext);
// a hop without SMTPUTF8 gets it as utf-8-addr-xtext ("\x{F6}"), never raw.
TEST(SmtpCommand, Utf8Orcpt) {
  const std::string arg = "TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example> ORCPT=utf-8;j\xc3\xb6rg@b\xc3\xbc" "cher.example";
  Reply err;
  auto r = parse_rcpt_to(arg, true, &err);
  CHECK_TEXT(r.has_value(), err.text.c_str());
  STRCMP_EQUAL("utf-8;j\xc3\xb6rg@b\xc3\xbc" "cher.example", r->orcpt.c_str());
  CHECK_FALSE(parse_rcpt_to("TO:<a@b.example> ORCPT=utf-8;j\xc3\xb6rg@b.example", false, &err).has_value());
  CHECK_FALSE(parse_rcpt_to("TO:<a@b.example> ORCPT=rfc822;j\xc3\xb6rg@b.example", true, &err).has_value());
  CHECK_FALSE(parse_rcpt_to("TO:<a@b.example> ORCPT=utf-8;j\xc0\xafrg@b.example", true, &err).has_value());
  CHECK_FALSE(parse_rcpt_to("TO:<a@b.example> ORCPT=utf-8;j\xc2\x85rg@b.example", true, &err).has_value());
  STRCMP_EQUAL(r->orcpt.c_str(), orcpt_for_hop(r->orcpt, true).c_str());
  STRCMP_EQUAL("utf-8;j\\x{F6}rg@b\\x{FC}cher.example", orcpt_for_hop(r->orcpt, false).c_str());
  STRCMP_EQUAL("utf-8;\\x{7528}@b.example", orcpt_for_hop("utf-8;\xe7\x94\xa8@b.example", false).c_str());
  STRCMP_EQUAL("rfc822;a+2Bb@b.example", orcpt_for_hop("rfc822;a+2Bb@b.example", false).c_str());
  CHECK(xtext_decode(orcpt_for_hop(r->orcpt, false)).has_value());  // plain xtext
}
