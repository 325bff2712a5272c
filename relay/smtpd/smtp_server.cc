// smtp_server.cc - listeners, admission control and session ownership.
#include "relay/smtpd/smtp_server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "router/base/conn.h"
#include "relay/core/log.h"
#include "relay/smtpd/smtp_server_session.h"

namespace relay {

SmtpServer::SmtpServer(event_base* base, QueueStore& store, router::DnsService& dns, std::shared_ptr<const Runtime> rt)
    : base_(base), store_(store), rt_(std::move(rt)), dkim_keys_(dns) {
  reaper_.reset(event_new(base_, -1, 0, &SmtpServer::reap, this));
  resume_.reset(evtimer_new(base_, &SmtpServer::resume_accepting, this));
  take_spare_fds();
}

bool SmtpServer::take_spare_fds() {
  while (spare_fds_.size() < kSpareFds) {
    base::UniqueFd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) return false;
    spare_fds_.push_back(std::move(fd));
  }
  return true;
}

SmtpServer::~SmtpServer() {
  listeners_.clear();
  sessions_.clear();
  dead_.clear();
}

namespace {

// A listening socket; IPv6 sockets are v6-only so that "0.0.0.0" and "::"
// can both be bound on one port. -1 with *error on failure.
int bind_socket(const config::Listen& l, std::string* error) {
  auto ip = config::parse_ip(l.address);
  sockaddr_storage ss{};
  socklen_t len;
  bool v6 = l.address.find(':') != std::string::npos;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(l.port));
    memcpy(&s6->sin6_addr, ip->bytes.data(), 16);
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(static_cast<uint16_t>(l.port));
    memcpy(&s4->sin_addr, ip->bytes.data() + 12, 4);
    len = sizeof *s4;
  }
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 1024) != 0) {
    *error = "cannot listen on " + l.address + " port " + std::to_string(l.port) + ": " + strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool SmtpServer::listen(std::string* error) {
  for (const auto& l : rt_->config->listen) {
    int fd = bind_socket(l, error);
    if (fd < 0) return false;
    evconnlistener* lev = evconnlistener_new(base_, &SmtpServer::on_accept, this,
                                             LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (!lev) {
      ::close(fd);
      *error = "cannot listen on " + l.address;
      return false;
    }
    evconnlistener_set_error_cb(lev, &SmtpServer::on_accept_error);
    listeners_.emplace_back(lev);
    log_event("listen", {{"address", l.address}, {"port", l.port}});
  }
  return true;
}

void SmtpServer::stop_listening() { listeners_.clear(); }

void SmtpServer::close_all(const char* why) {
  std::vector<SmtpServerSession*> live;
  for (auto& kv : sessions_) live.push_back(kv.first);
  for (auto* s : live) s->shutdown(why);
}

void SmtpServer::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int, void* self) {
  static_cast<SmtpServer*>(self)->accept(fd, sa);
}

void SmtpServer::on_accept_error(evconnlistener*, void* arg) {
  auto* self = static_cast<SmtpServer*>(arg);
  int e = EVUTIL_SOCKET_ERROR();
  self->spare_fds_.clear();
  log_event("accept-failed", {{"error", evutil_socket_error_to_string(e)},
                              {"sessions", self->sessions_.size()},
                              {"what", "not accepting for 1s (raise ulimit -n or lower limits.connections)"}});
  for (auto& l : self->listeners_) evconnlistener_disable(l.get());
  timeval tv{1, 0};
  evtimer_add(self->resume_.get(), &tv);
}

void SmtpServer::resume_accepting(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<SmtpServer*>(arg);
  if (!self->take_spare_fds()) {
    self->spare_fds_.clear();
    timeval tv{1, 0};
    evtimer_add(self->resume_.get(), &tv);
    return;
  }
  for (auto& l : self->listeners_) evconnlistener_enable(l.get());
}

void SmtpServer::refuse(evutil_socket_t fd, const std::string& reply) {
  // Conn's destructor keeps the socket until the reply has been written.
  base::Conn c(base_, fd, nullptr);
  c.write(reply);
  c.close_after_flush();
}

void SmtpServer::accept(evutil_socket_t fd, sockaddr* sa) {
  evutil_make_socket_nonblocking(fd);
  auto ip = config::ip_from_sockaddr(sa);
  const auto& cfg = *rt_->config;
  std::string who = ip ? ip->str() : "unknown";
  if (!ip || !config::any_contains(cfg.allow, *ip)) {
    log_event("reject", {{"client", who}, {"reason", "client not in allow list"}});
    return refuse(fd, "554 5.7.1 " + cfg.hostname + " Access denied: " + who +
                          " may not relay through this server\r\n");
  }
  uint32_t& mine = per_ip_[who];
  if (sessions_.size() >= cfg.limits.connections || mine >= cfg.limits.connections_per_ip) {
    if (mine == 0) per_ip_.erase(who);
    log_event("reject", {{"client", who}, {"reason", "too many connections"}});
    return refuse(fd, "421 4.7.0 " + cfg.hostname + " Too many connections, try again later\r\n");
  }
  ++mine;
  auto s = std::make_unique<SmtpServerSession>(*this, rt_, fd, *ip, ++serial_);
  SmtpServerSession* raw = s.get();
  sessions_.emplace(raw, std::move(s));
  log_event("connect", {{"session", raw->sid()}, {"client", who}});
  raw->start();
}

void SmtpServer::session_done(SmtpServerSession* s) {
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  std::string who = s->peer().str();
  auto ip = per_ip_.find(who);
  if (ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  dead_.push_back(std::move(it->second));
  sessions_.erase(it);
  event_active(reaper_.get(), EV_TIMEOUT, 0);
}

void SmtpServer::reap(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<SmtpServer*>(arg);
  self->dead_.clear();
  if (self->sessions_.empty() && self->on_idle) self->on_idle();
}

}  // namespace relay
