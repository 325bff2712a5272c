// daemon.cc - start-up, signals and reload of the relay (see daemon.h).
#include "relay/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>

#include <cstdio>
#include <iostream>

#include "config/config_loader.h"
#include "relay/log.h"
#include "relay/queue_store.h"
#include "relay/delivery_scheduler.h"
#include "relay/queue_control.h"
#include "relay/smtp_server.h"
#include "router/dns_resolver.h"

namespace relay {

namespace {

constexpr int kDrainSeconds = 30;

struct BaseFree {
  void operator()(event_base* b) const { event_base_free(b); }
};

void write_pid_file(const std::string& queue_dir) {
  std::ofstream f(pid_file(queue_dir), std::ios::trunc);
  f << getpid() << "\n";
}

class Daemon {
 public:
  explicit Daemon(std::string path) : path_(std::move(path)) {}

  int run() {
    auto loaded = config::load_config(path_);
    if (!loaded.config) {
      for (const auto& e : loaded.errors) std::cerr << e << "\n";
      return 1;
    }
    const auto& cfg = *loaded.config;
    std::string error;
    if (!log_open(cfg.log.format == config::LogFormat::Json ? LogStyle::Json : LogStyle::Kv, cfg.log.file,
                  &error)) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    auto rt = Runtime::build(loaded.config, &error);
    if (!rt) {
      std::cerr << path_ << ": " << error << "\n";
      return 1;
    }
    store_ = QueueStore::open(cfg.queue.path, cfg.queue.map_size_mb, &error);
    if (!store_) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    base_.reset(event_base_new());
    if (!store_->attach(base_.get(), &error)) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    dns_ = router::DnsResolver::create(base_.get(), cfg.dns, &error);
    if (!dns_) {
      std::cerr << path_ << ": " << error << "\n";
      return 1;
    }
    scheduler_ = std::make_unique<DeliveryScheduler>(base_.get(), *store_, *dns_, rt);
    server_ = std::make_unique<SmtpServer>(base_.get(), *store_, rt);
    server_->on_queued = [this](const std::string& id) { scheduler_->message_queued(id); };
    if (!server_->listen(&error)) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    scheduler_->rescan();
    add_signal(SIGTERM);
    add_signal(SIGINT);
    add_signal(SIGHUP);
    add_signal(SIGUSR1);
    write_pid_file(cfg.queue.path);
    signal(SIGPIPE, SIG_IGN);
    log_event("started", {{"version", SMARTHOST_VERSION}, {"config", path_},
                          {"queue", cfg.queue.path}, {"messages", std::to_string(store_->list().size())}});
    event_base_dispatch(base_.get());
    server_.reset();
    scheduler_.reset();
    dns_.reset();
    signals_.clear();
    store_.reset();  // joins the writer: every commit it started finishes
    unlink(pid_file(cfg.queue.path).c_str());
    log_event("stopped", {});
    return 0;
  }

 private:
  void add_signal(int sig) {
    event* ev = evsignal_new(base_.get(), sig, &Daemon::on_signal, this);
    event_add(ev, nullptr);
    signals_.emplace_back(ev);
  }

  static void on_signal(evutil_socket_t sig, short, void* arg) {
    auto* self = static_cast<Daemon*>(arg);
    if (sig == SIGUSR1) {
      self->scheduler_->rescan();  // `queue flush` and friends changed the queue
    } else if (sig == SIGHUP) {
      self->reload();
    } else {
      self->drain();
    }
  }

  void drain() {
    if (draining_) {
      event_base_loopexit(base_.get(), nullptr);
      return;
    }
    draining_ = true;
    log_event("stopping", {{"sessions", std::to_string(server_->session_count())}});
    server_->stop_listening();
    if (server_->session_count() == 0) {
      event_base_loopexit(base_.get(), nullptr);
      return;
    }
    server_->on_idle = [this] { event_base_loopexit(base_.get(), nullptr); };
    timeval tv{kDrainSeconds, 0};
    event_base_once(
        base_.get(), -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* arg) {
          auto* self = static_cast<Daemon*>(arg);
          self->server_->close_all("Service shutting down");
        },
        this, &tv);
  }

  void reload() {
    auto loaded = config::load_config(path_);
    if (!loaded.config) {
      for (const auto& e : loaded.errors) log_event("reload-failed", {{"error", e}});
      return;
    }
    std::string error;
    auto rt = Runtime::build(loaded.config, &error);
    if (!rt) {
      log_event("reload-failed", {{"error", path_ + ": " + error}});
      return;
    }
    server_->set_runtime(rt);
    scheduler_->set_runtime(rt);
    log_event("reloaded", {{"config", path_}});
  }

  std::string path_;
  std::unique_ptr<event_base, BaseFree> base_;
  std::unique_ptr<QueueStore> store_;
  std::unique_ptr<router::DnsResolver> dns_;
  std::unique_ptr<DeliveryScheduler> scheduler_;
  std::unique_ptr<SmtpServer> server_;
  std::vector<EventPtr> signals_;
  bool draining_ = false;
};

}  // namespace

int run_daemon(const std::string& config_path) { return Daemon(config_path).run(); }

}  // namespace relay
