// child_output.cc - a child process read through the event loop (see child_output.h).
#include "relay/console/child_output.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "router/base/event_handles.h"

extern char** environ;

namespace relay {

namespace {

constexpr int kReapTries = 100;  // 100 ms apart, after the pipe closed

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::string out;
  ChildDone done;
  base::EventPtr read_ev, timer_ev, reap_ev;
  int reap_tries = 0;
  bool killed = false;
  ~Child() {
    read_ev.reset();
    if (fd >= 0) close(fd);
  }
};

void finish(Child* c, int code) {
  ChildDone done = std::move(c->done);
  std::string out = std::move(c->out);
  delete c;
  done(code, out);
}

void try_reap(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Child*>(arg);
  int st = 0;
  pid_t r = waitpid(c->pid, &st, WNOHANG);
  if (r == c->pid || (r < 0 && errno == ECHILD)) {
    int code = r == c->pid && WIFEXITED(st) && !c->killed ? WEXITSTATUS(st) : -1;
    return finish(c, code);
  }
  if (++c->reap_tries == kReapTries) {
    c->killed = true;
    kill(c->pid, SIGKILL);
  }
  timeval tv{0, 100000};
  event_add(c->reap_ev.get(), &tv);
}

void on_read(evutil_socket_t fd, short, void* arg) {
  auto* c = static_cast<Child*>(arg);
  char buf[8192];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0) {
    if (c->out.size() < (4u << 20)) c->out.append(buf, static_cast<size_t>(n));
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  c->read_ev.reset();
  c->timer_ev.reset();
  close(c->fd);
  c->fd = -1;
  try_reap(-1, 0, c);
}

void on_timeout(evutil_socket_t, short, void* arg) {
  auto* c = static_cast<Child*>(arg);
  c->killed = true;
  kill(c->pid, SIGKILL);  // the pipe then closes and on_read reaps it
}

}  // namespace

void run_child(event_base* base, const std::vector<std::string>& argv, int timeout_s, ChildDone done) {
  int p[2];
  auto fail = [base, done] {
    // Still from the loop, never inside the caller.
    auto* copy = new ChildDone(done);
    event_base_once(base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* a) {
      std::unique_ptr<ChildDone> d(static_cast<ChildDone*>(a));
      (*d)(-1, "");
    }, copy, nullptr);
  };
  if (pipe2(p, O_CLOEXEC) != 0) return fail();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    return fail();
  }
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  auto* c = new Child;
  c->pid = pid;
  c->fd = p[0];
  c->done = std::move(done);
  c->read_ev.reset(event_new(base, c->fd, EV_READ | EV_PERSIST, &on_read, c));
  c->timer_ev.reset(evtimer_new(base, &on_timeout, c));
  c->reap_ev.reset(evtimer_new(base, &try_reap, c));
  event_add(c->read_ev.get(), nullptr);
  timeval tv{timeout_s, 0};
  event_add(c->timer_ev.get(), &tv);
}

}  // namespace relay
