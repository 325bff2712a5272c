// control_socket.cc - the relay's control socket and the tools' client for it (see the header).
#include "relay/queue/control_socket.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "router/base/unique_fd.h"

namespace relay {

namespace {

constexpr int kIdleSeconds = 10;

bool socket_address(const std::string& path, sockaddr_un* sa, std::string* error) {
  *sa = sockaddr_un{};
  sa->sun_family = AF_UNIX;
  if (path.size() >= sizeof sa->sun_path) {
    *error = "control socket path " + path + " is longer than a unix socket allows (" +
             std::to_string(sizeof sa->sun_path - 1) + " octets): choose a shorter queue.path";
    return false;
  }
  memcpy(sa->sun_path, path.c_str(), path.size() + 1);
  return true;
}

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct BevFree {
  void operator()(bufferevent* b) const { bufferevent_free(b); }
};

}  // namespace

std::string control_socket_path(const std::string& queue_dir) { return queue_dir + "/smarthost.ctl"; }

// One client: reads its one request line, hands it to the handler, writes the answer, closes.
class ControlServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ControlServer& server, evutil_socket_t fd, ControlPeer peer)
      : server_(server), peer_(peer),
        bev_(bufferevent_socket_new(server.base_, fd, BEV_OPT_CLOSE_ON_FREE)) {}

  void start() {
    bufferevent_setcb(bev_.get(), &Connection::on_read, &Connection::on_write, &Connection::on_event, this);
    timeval idle{kIdleSeconds, 0};
    bufferevent_set_timeouts(bev_.get(), &idle, &idle);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
  }

  void answer(const nlohmann::json& doc) {
    if (answered_) return;
    answered_ = true;
    std::string line = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    bufferevent_write(bev_.get(), line.data(), line.size());
  }

 private:
  static void on_read(bufferevent* bev, void* arg) {
    auto* self = static_cast<Connection*>(arg);
    if (self->asked_) return;
    evbuffer* in = bufferevent_get_input(bev);
    size_t n = 0;
    char* line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
    if (!line) {
      if (evbuffer_get_length(in) > kControlMaxRequest) self->refuse("request too long");
      return;
    }
    std::string text(line, n);
    free(line);
    self->asked_ = true;
    bufferevent_disable(bev, EV_READ);
    self->dispatch(text);
  }

  void dispatch(const std::string& text) {
    if (peer_.uid != 0 && peer_.uid != geteuid()) return refuse("permission denied: only root or the relay's user");
    nlohmann::json req = nlohmann::json::parse(text, nullptr, false);
    if (req.is_discarded() || !req.is_object()) return refuse("the request is not a JSON object");
    std::weak_ptr<Connection> weak = shared_from_this();
    server_.handler_(req, peer_, [weak](const nlohmann::json& doc) {
      if (auto c = weak.lock()) c->answer(doc);
    });
  }

  void refuse(const std::string& why) {
    asked_ = true;
    answer({{"error", why}});
  }

  static void on_write(bufferevent* bev, void* arg) {
    auto* self = static_cast<Connection*>(arg);
    if (self->answered_ && evbuffer_get_length(bufferevent_get_output(bev)) == 0) self->server_.closed(self);
  }

  static void on_event(bufferevent*, short, void* arg) {
    auto* self = static_cast<Connection*>(arg);
    self->server_.closed(self);  // EOF, error or idle: nothing more to say
  }

  ControlServer& server_;
  ControlPeer peer_;
  std::unique_ptr<bufferevent, BevFree> bev_;
  bool asked_ = false;
  bool answered_ = false;
};

std::unique_ptr<ControlServer> ControlServer::listen(event_base* base, const std::string& queue_dir,
                                                     ControlHandler handler, std::string* error) {
  std::string path = control_socket_path(queue_dir);
  sockaddr_un sa;
  if (!socket_address(path, &sa, error)) return nullptr;
  base::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    *error = std::string("control socket: ") + strerror(errno);
    return nullptr;
  }
  unlink(path.c_str());  // a relay killed with SIGKILL leaves its socket file behind
  mode_t old = umask(0177);  // 0600 from the start: no moment where others may connect
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  umask(old);
  if (rc != 0 || ::listen(fd.get(), 16) != 0) {
    *error = "cannot listen on the control socket " + path + ": " + strerror(errno);
    return nullptr;
  }
  std::unique_ptr<ControlServer> s(new ControlServer(base, path, std::move(handler)));
  evconnlistener* lev = evconnlistener_new(base, &ControlServer::on_accept, s.get(),
                                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd.get());  // 0: listening already
  if (!lev) {
    *error = "cannot serve the control socket " + path;
    return nullptr;
  }
  (void)fd.release();  // the listener owns it now
  s->listener_.reset(lev);
  return s;
}

ControlServer::~ControlServer() {
  listener_.reset();
  conns_.clear();
  unlink(path_.c_str());
}

void ControlServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* self = static_cast<ControlServer*>(arg);
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    close(fd);
    return;
  }
  auto c = std::make_shared<Connection>(*self, fd, ControlPeer{cred.uid, cred.pid});
  self->conns_.emplace(c.get(), c);
  c->start();
}

// From the connection's own callback: freed on a later turn.
void ControlServer::closed(Connection* c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  auto keep = std::make_unique<std::shared_ptr<Connection>>(std::move(it->second));
  conns_.erase(it);
  base::delete_later(base_, std::move(keep));
}

namespace {

// Waits for `events` on fd until deadline; false on timeout or error.
bool wait_fd(int fd, short events, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

}  // namespace

bool control_listening(const std::string& queue_dir) {
  sockaddr_un sa;
  std::string error;
  if (!socket_address(control_socket_path(queue_dir), &sa, &error)) return false;
  base::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fd && connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
}

ControlCall control_call(const std::string& queue_dir, const nlohmann::json& request, nlohmann::json* answer,
                         std::string* error, int timeout_ms) {
  std::string path = control_socket_path(queue_dir);
  sockaddr_un sa;
  if (!socket_address(path, &sa, error)) return ControlCall::Failed;
  base::UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    *error = std::string("socket: ") + strerror(errno);
    return ControlCall::Failed;
  }
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return ControlCall::NoRelay;
    *error = "cannot reach the relay at " + path + ": " + strerror(errno);
    return ControlCall::Failed;
  }
  const int64_t deadline = now_ms() + timeout_ms;
  std::string out = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  for (size_t sent = 0; sent < out.size();) {
    if (!wait_fd(fd.get(), POLLOUT, deadline)) {
      *error = "the relay did not take the request within " + std::to_string(timeout_ms / 1000) + "s";
      return ControlCall::Failed;
    }
    ssize_t n = send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN) {
      *error = std::string("sending to the relay: ") + strerror(errno);
      return ControlCall::Failed;
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[65536];
  for (;;) {
    if (!wait_fd(fd.get(), POLLIN, deadline)) {
      *error = "no answer from the relay within " + std::to_string(timeout_ms / 1000) + "s";
      return ControlCall::Failed;
    }
    ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    if (n > 0) in.append(buf, static_cast<size_t>(n));
    if (!in.empty() && in.back() == '\n') break;
  }
  *answer = nlohmann::json::parse(in, nullptr, false);
  if (answer->is_discarded() || !answer->is_object()) {
    *error = "the relay's answer is not JSON";
    return ControlCall::Failed;
  }
  if (answer->contains("error")) {
    *error = (*answer)["error"].is_string() ? (*answer)["error"].get<std::string>() : "error";
    return ControlCall::Failed;
  }
  return ControlCall::Ok;
}

}  // namespace relay
