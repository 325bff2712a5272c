// smtp_client_session_test.cc - the client session's state table: every state
// has a name and a timeout, and each timeout kind maps to the right limit.
#include <CppUTest/TestHarness.h>

#include <set>
#include <string>

#include "relay/delivery/smtp_client_session.h"

using namespace relay;

TEST_GROUP(ClientStates){};

TEST(ClientStates, EveryStateHasANameAndATimeout) {
  for (size_t i = 0; i < kClientStateCount; ++i) {
    auto s = static_cast<ClientState>(i);
    const char* name = client_state_name(s);
    std::string label = "state " + std::to_string(i);
    CHECK_TEXT(name != nullptr && *name != '\0', label.c_str());
    bool connected = s != ClientState::Done;
    CHECK_EQUAL_TEXT(connected, client_state_timeout(s) != ClientTimeout::None, (label + " " + name).c_str());
  }
}

TEST(ClientStates, TimeoutsComeFromTheLimits) {
  config::Limits l;
  l.connect_timeout = 7;
  l.reply_timeout = 11;
  struct {
    ClientState state;
    uint64_t want;
  } cases[] = {
      {ClientState::Connect, 7}, {ClientState::Banner, 11}, {ClientState::Handshake, 11}, {ClientState::Mail, 11},
      {ClientState::Body, 22},   {ClientState::Quit, 11},   {ClientState::Idle, kClientIdleSeconds},
      {ClientState::Done, 0},
  };
  for (const auto& c : cases) {
    uint64_t got = client_timeout_seconds(client_state_timeout(c.state), l);
    std::string label = std::string(client_state_name(c.state)) + ": got " + std::to_string(got) + ", want " +
                        std::to_string(c.want);
    CHECK_EQUAL_TEXT(c.want, got, label.c_str());
  }
}

// The names are what "while waiting for X reply" says in logs and DSNs.
TEST(ClientStates, NamesUsedInErrorTexts) {
  STRCMP_EQUAL("end of data", client_state_name(ClientState::Body));
  STRCMP_EQUAL("MAIL FROM", client_state_name(ClientState::Mail));
  STRCMP_EQUAL("TLS handshake", client_state_name(ClientState::Handshake));
  STRCMP_EQUAL("EHLO", client_state_name(ClientState::EhloTls));
}
