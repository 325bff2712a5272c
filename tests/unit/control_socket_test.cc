// control_socket_test.cc - the relay's control socket: a request and its (later) answer, no relay,
// requests that are not JSON, and the admin's edits of a record (queue_admin.h).
#include <CppUTest/TestHarness.h>

#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "relay/queue/control_socket.h"
#include "relay/queue/queue_admin.h"
#include "router/base/event_handles.h"

using namespace relay;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/smarthost-ctl-XXXXXX";
  return mkdtemp(tmpl);
}

event_base* g_base = nullptr;  // the serving loop, for handlers that answer from a later turn

// A loop in its own thread serving the socket; stopped (and joined) by the destructor.
struct Served {
  base::EventBasePtr base{event_base_new()};
  std::unique_ptr<ControlServer> server;
  std::thread loop;
  base::EventPtr stop_event;  // the loop ends itself when the test writes into stop_pipe
  int stop_pipe[2] = {-1, -1};

  Served(const std::string& dir, ControlHandler h) {
    g_base = base.get();
    std::string error;
    server = ControlServer::listen(base.get(), dir, std::move(h), &error);
    CHECK_TRUE_TEXT(server != nullptr, error.c_str());
    CHECK(pipe(stop_pipe) == 0);
    stop_event.reset(event_new(base.get(), stop_pipe[0], EV_READ,
                               [](evutil_socket_t, short, void* b) { event_base_loopbreak(static_cast<event_base*>(b)); },
                               base.get()));
    event_add(stop_event.get(), nullptr);
    loop = std::thread([this] { event_base_dispatch(base.get()); });
  }
  ~Served() {
    CHECK(write(stop_pipe[1], "x", 1) == 1);
    loop.join();
    server.reset();
    stop_event.reset();
    close(stop_pipe[0]);
    close(stop_pipe[1]);
  }
};

}  // namespace

TEST_GROUP(ControlSocket) {
  std::string dir;
  void setup() override { dir = temp_dir(); }
  void teardown() override { CHECK(system(("rm -rf '" + dir + "'").c_str()) == 0); }
};

TEST(ControlSocket, NoRelayWhenNothingListens) {
  nlohmann::json answer;
  std::string error;
  CHECK(control_call(dir, {{"action", "status"}}, &answer, &error, 1000) == ControlCall::NoRelay);
  CHECK_FALSE(control_listening(dir));
}

TEST(ControlSocket, RequestAndLaterAnswer) {
  ControlReply pending;
  {
    Served s(dir, [&](const nlohmann::json& req, const ControlPeer& peer, ControlReply reply) {
      CHECK_EQUAL(getuid(), peer.uid);
      CHECK_EQUAL(getpid(), peer.pid);
      if (req.value("action", "") == "later") {
        // Answered from a later loop turn, as after a queue commit.
        pending = [reply, n = req["n"]](const nlohmann::json&) { reply({{"echo", n}}); };
        event_base_once(g_base, -1, EV_TIMEOUT,
                        [](evutil_socket_t, short, void* p) { (*static_cast<ControlReply*>(p))(nullptr); },
                        &pending, nullptr);
        return;
      }
      reply({{"echo", req["n"]}});
    });
    CHECK(control_listening(dir));
    nlohmann::json answer;
    std::string error;
    CHECK(control_call(dir, {{"action", "now"}, {"n", 7}}, &answer, &error, 5000) == ControlCall::Ok);
    CHECK_EQUAL(7, answer["echo"].get<int>());
    CHECK(control_call(dir, {{"action", "later"}, {"n", 8}}, &answer, &error, 5000) == ControlCall::Ok);
    CHECK_EQUAL(8, answer["echo"].get<int>());
  }
  // The server is gone: its socket file too.
  CHECK(access(control_socket_path(dir).c_str(), F_OK) != 0);
}

TEST(ControlSocket, NotJsonIsRefusedWithAnError) {
  Served s(dir, [](const nlohmann::json&, const ControlPeer&, ControlReply reply) { reply({{"ok", true}}); });
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::string path = control_socket_path(dir);
  memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  CHECK(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  const char req[] = "this is not json\n";
  CHECK(write(fd, req, sizeof req - 1) == static_cast<ssize_t>(sizeof req - 1));
  std::string got;
  char buf[512];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fd);
  STRCMP_CONTAINS("\"error\"", got.c_str());
  STRCMP_CONTAINS("not a JSON object", got.c_str());
}

TEST_GROUP(QueueAdmin){};

TEST(QueueAdmin, BounceSkipsFinalAndInFlightRecipients) {
  Envelope e;
  e.id = "X";
  for (RcptState st : {RcptState::Pending, RcptState::Deferred, RcptState::Sent, RcptState::Deferred}) {
    Recipient r;
    r.state = st;
    r.last_error = st == RcptState::Deferred ? "451 later" : "";
    e.recipients.push_back(r);
  }
  std::vector<size_t> got = bounce_by_admin(&e, {3});
  CHECK(got == std::vector<size_t>({0, 1}));
  CHECK(e.recipients[1].state == RcptState::Bounced);
  CHECK_EQUAL("5.0.0", e.recipients[1].dsn_status);
  STRCMP_CONTAINS("mail administrator (last error: 451 later)", e.recipients[1].last_error.c_str());
  CHECK(e.recipients[2].state == RcptState::Sent);
  CHECK(e.recipients[3].state == RcptState::Deferred);
  CHECK_FALSE(all_final(e));
}

TEST(QueueAdmin, ReleaseMakesUnfinishedRecipientsDue) {
  Envelope e;
  e.held = true;
  Recipient r;
  r.state = RcptState::Deferred;
  r.next_attempt = 5000;
  e.recipients.push_back(r);
  r.state = RcptState::Sent;
  e.recipients.push_back(r);
  release_hold(&e, 100);
  CHECK_FALSE(e.held);
  CHECK_EQUAL(100, e.recipients[0].next_attempt);
  CHECK_EQUAL(5000, e.recipients[1].next_attempt);
}

TEST(QueueAdmin, ActionNames) {
  AdminAction a;
  CHECK(parse_admin_action("hold", &a) && a == AdminAction::Hold);
  CHECK(parse_admin_action("release", &a) && a == AdminAction::Release);
  CHECK_FALSE(parse_admin_action("requeue", &a));
  STRCMP_EQUAL("deleted", admin_action_done(AdminAction::Delete));
}
