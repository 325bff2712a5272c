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
      {"FROM:<a@b.example> SMTPUTF8", 555, "5.5.4"},
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
  auto r = parse_rcpt_to("TO:<u@d.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40d.example", &err);
  CHECK(r.has_value());
  STRCMP_EQUAL("u@d.example", r->address.c_str());
  CHECK_EQUAL(NotifySuccess | NotifyFailure, r->notify);
  STRCMP_EQUAL("rfc822;u+40d.example", r->orcpt.c_str());

  auto never = parse_rcpt_to("TO:<u@d.example> NOTIFY=NEVER", &err);
  CHECK(never && never->notify == NotifyNever);

  const char* bad[] = {"TO:<>", "TO:<u@d.example> NOTIFY=NEVER,SUCCESS", "TO:<u@d.example> NOTIFY=SOMETIMES",
                       "TO:<u@d.example> ORCPT=nosemicolon", "TO:u@d.example", "TO:<u@d.example> FOO=1"};
  for (const char* b : bad) CHECK_TEXT(!parse_rcpt_to(b, &err).has_value(), b);
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
