// daemon.cc - start-up, signals and reload of the relay (see daemon.h).
#include "relay/daemon.h"
#include "router/base/event_handles.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "config/config_loader.h"
#include "relay/control_requests.h"
#include "relay/queue/control_socket.h"
#include "relay/core/log.h"
#include "relay/privileges.h"
#include "relay/queue/queue_store.h"
#include "relay/queue/history_store.h"
#include "relay/console/console_feed.h"
#include "relay/console/console_server.h"
#include "relay/core/observer.h"
#include "router/base/utc_time.h"
#include "relay/delivery/delivery_scheduler.h"
#include "relay/queue/queue_control.h"
#include "relay/smtpd/smtp_server.h"
#include "relay/startup_checks.h"
#include "relay/sts_services.h"
#include "router/dns/dns_resolver.h"

namespace relay {

namespace {

constexpr int kLockWaitMs = 3000;

// Each inbound session holds a descriptor, each delivery another: raise the soft limit towards
// the hard one so that limits.connections fits, and warn when it cannot (accept() would fail).
void raise_fd_limit(uint32_t connections) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = static_cast<rlim_t>(connections) * 2 + 256;
  if (rl.rlim_cur < want) {
    rlimit up = rl;
    up.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl = up;
  }
  if (rl.rlim_cur < static_cast<rlim_t>(connections) + 64) {
    log_event("warning", {{"what", "limits.connections does not fit the descriptor limit (ulimit -n)"},
                          {"connections", connections}, {"nofile", static_cast<uint64_t>(rl.rlim_cur)}});
  }
}

class Daemon {
 public:
  explicit Daemon(std::string path) : path_(std::move(path)) {}

  int run() {
    signal(SIGHUP, SIG_IGN);  // a reload asked for during start-up must not kill us (handled below)
    auto loaded = config::load_config(path_);
    if (!loaded.config) {
      for (const auto& e : loaded.errors) std::cerr << e << "\n";
      return 1;
    }
    const auto& cfg = *loaded.config;
    current_ = loaded.config;
    auto checked = check_startup(loaded.config, CheckStage::Start);
    for (const auto& e : checked.errors) std::cerr << e << "\n";
    if (!checked.errors.empty()) return 1;
    std::string error;
    if (!log_open(log_style(cfg), cfg.log.file, &error)) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    apply_log_level(cfg);
    bound_ = loaded.config;
    for (const auto& w : checked.warnings) log_event("warning", {{"what", w}});
    raise_fd_limit(cfg.limits.connections);
    run_user_ = checked.run_user;
    auto rt = checked.runtime;
    // One relay per queue, locked before anything is written into it (queue_control.h). A queue
    // tool holds the lock for a moment when no relay runs: wait that out, not a relay's life.
    lock_ = QueueLock::acquire(cfg.queue.path, &error, kLockWaitMs);
    if (!lock_) {
      std::cerr << "smarthost: " << error << "\n";
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
    server_ = std::make_unique<SmtpServer>(base_.get(), *store_, *dns_, rt);
    server_->on_queued = [this](const std::string& id) { scheduler_->message_queued(id); };
    sts_ = StsRuntime::open(base_.get(), *dns_, *store_, rt,
                            [this](const std::string& id) { scheduler_->message_queued(id); }, &error);
    if (!sts_) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    scheduler_->set_sts(sts_->services());
    if (!start_console(rt, &error) || !server_->listen(&error) || !become_run_user(cfg.queue.path, &error)) {
      std::cerr << "smarthost: " << error << "\n";
      return 1;
    }
    scheduler_->rescan();
    add_signal(SIGTERM);
    add_signal(SIGINT);
    add_signal(SIGHUP);
    add_signal(SIGUSR1);
    lock_->write_pid_file();
    serve_control(cfg);
    signal(SIGPIPE, SIG_IGN);
    log_event("started", {{"version", SMARTHOST_VERSION}, {"config", path_},
                          {"queue", cfg.queue.path}, {"messages", store_->list().size()}});
    event_base_dispatch(base_.get());
    control_.reset();  // before what its requests use
    requests_.reset();
    console_.reset();
    set_observer(nullptr);
    server_.reset();
    scheduler_.reset();
    sts_.reset();
    dns_.reset();
    signals_.clear();
    // Sessions closed at shutdown leave their last reply (421) to a lingering Conn: give the
    // loop a few turns to hand it to the kernel, so that it is sent and freed, not leaked.
    // The queue's completions must not run now: their owners are gone.
    store_->detach();
    for (int i = 0; i < 3; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    store_.reset();  // joins the writer: every commit it started finishes (history too)
    feed_.reset();
    history_.reset();
    lock_.reset();   // removes the PID file, then lets the next relay have the queue
    log_event("stopped", {});
    return 0;
  }

 private:
  // SPEC R-CONSOLE, when the config has an `admin` section: the delivery history (written by the
  // queue's writer thread), the metrics, and the HTTPS console, bound before we drop root.
  bool start_console(std::shared_ptr<const Runtime> rt, std::string* error) {
    const auto& cfg = *rt->config;
    if (!cfg.admin.enabled) return true;
    history_ = HistoryStore::open(cfg.queue.path + "/history", cfg.admin.history_days, cfg.admin.history_max_mb, error);
    if (!history_) return false;
    HistoryStore* h = history_.get();
    QueueStore* q = store_.get();
    history_->set_kick([q, h] { q->run_after_commits([h] { h->flush(base::now_us()); }); });
    metrics_ = std::make_unique<Metrics>();
    cert_watch_ = std::make_unique<CertExpiryWatch>();
    feed_ = std::make_unique<ConsoleFeed>(*metrics_, *cert_watch_, *history_);
    set_observer(feed_.get());
    ConsoleDeps deps;
    deps.history = h;
    deps.metrics = metrics_.get();
    deps.certs = cert_watch_.get();
    deps.tlsrpt = sts_->tlsrpt();
    deps.config_path = path_;
    deps.gauges = [this] { return gauges(); };
    QueueStore* store = store_.get();
    deps.count_queue = [store] {  // the console's worker thread: LMDB reads are safe there (MDB_NOTLS)
      std::map<std::string, uint64_t> n = {{"queued", 0}, {"deferred", 0}, {"held", 0}};
      for (const auto& e : store->list()) {
        bool deferred = std::any_of(e.recipients.begin(), e.recipients.end(),
                                    [](const Recipient& r) { return r.state == RcptState::Deferred; });
        ++n[e.held ? "held" : deferred ? "deferred" : "queued"];
      }
      return n;
    };
    console_ = std::make_unique<ConsoleServer>(base_.get(), std::move(deps), rt);
    return console_->listen(error);
  }

  // What the console asks at each scrape (cheap; the queue is counted by the console itself).
  Metrics::Gauges gauges() {
    Metrics::Gauges g;
    g.inbound = server_ ? server_->session_count() : 0;
    g.outbound = scheduler_ ? scheduler_->active_sessions() : 0;
    g.history_bytes = history_ ? history_->used_bytes() : 0;
    g.history_dropped = history_ ? history_->dropped() : 0;
    return g;
  }

  // Root only, once everything that needs root is open: the queue folder (with the MTA-STS cache
  // and whatever else lives in it) goes to the run user, then we become that user for good.
  bool become_run_user(const std::string& queue_dir, std::string* error) {
    if (!run_user_) return true;
    if (!hand_over_queue(queue_dir, *run_user_, error) || !log_hand_over(run_user_->uid, run_user_->gid, error) ||
        !drop_privileges(*run_user_, error))
      return false;
    log_event("privileges", {{"user", run_user_->name}, {"uid", getuid()}, {"gid", getgid()}});
    return true;
  }

  // The queue tools' way in (control_socket.h); created as the run user, in its queue folder. A
  // relay without it still relays: the tools then say they cannot reach it.
  void serve_control(const config::Config& cfg) {
    facts_.config_path = path_;
    facts_.started = facts_.config_loaded = static_cast<int64_t>(time(nullptr));
    for (const auto& l : cfg.listen) {
      bool v6 = l.address.find(':') != std::string::npos;
      facts_.listeners.push_back((v6 ? "[" + l.address + "]" : l.address) + ":" + std::to_string(l.port));
    }
    note_routes(cfg);
    requests_ = std::make_unique<ControlRequests>(*scheduler_, *server_, facts_);
    std::string error;
    control_ = ControlServer::listen(
        base_.get(), cfg.queue.path,
        [this](const nlohmann::json& req, const ControlPeer& peer, ControlReply reply) {
          requests_->handle(req, peer, std::move(reply));
        },
        &error);
    if (!control_) log_event("warning", {{"what", "the queue tools cannot reach this relay"}, {"error", error}});
  }

  void note_routes(const config::Config& cfg) {
    facts_.routes.clear();
    for (const auto& r : cfg.routes) facts_.routes.push_back(r.name);
  }

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
    log_event("stopping", {{"sessions", server_->session_count()}});
    server_->stop_listening();
    if (server_->session_count() == 0) {
      event_base_loopexit(base_.get(), nullptr);
      return;
    }
    server_->on_idle = [this] { event_base_loopexit(base_.get(), nullptr); };
    // Sessions get limits.shutdown_timeout to finish; then each is cut off with 421 and named in
    // the log (event=cut-off). A commit under way still completes (SmtpServerSession::close).
    timeval tv{static_cast<time_t>(current_->limits.shutdown_timeout), 0};
    event_base_once(
        base_.get(), -1, EV_TIMEOUT,
        [](evutil_socket_t, short, void* arg) {
          auto* self = static_cast<Daemon*>(arg);
          const config::Config& c = *self->current_;
          log_event("shutdown-timeout", {{"sessions", self->server_->session_count()},
                                         {"after", c.duration_words("limits.shutdown_timeout", c.limits.shutdown_timeout)}});
          self->server_->close_all("Service shutting down");
        },
        this, &tv);
  }

  // New sessions and deliveries take the new Runtime; live ones keep theirs to the end. The log
  // is opened again first (logrotate moved the file away, or the log section changed), so that
  // the lines of this reload are in the new file. Settings bound at start-up (listeners, queue,
  // DNS, user) need a restart: named in the log while they differ from what is bound.
  void reload() {
    auto loaded = config::load_config(path_);
    auto checked = loaded.config ? check_startup(loaded.config, CheckStage::Reload) : StartupCheck{};
    bool ok = loaded.config && checked.runtime;
    open_log(ok ? *loaded.config : *current_);
    if (!ok) {
      const auto& errors = loaded.config ? checked.errors : loaded.errors;
      for (const auto& e : errors) log_event("reload-failed", {{"error", e}});
      log_event("reload-failed", {{"config", path_}, {"errors", errors.size()},
                                  {"what", "the running configuration stays in force"}});
      return;
    }
    for (const auto& w : checked.warnings) log_event("warning", {{"what", w}});
    auto rt = checked.runtime;
    current_ = loaded.config;
    facts_.config_loaded = static_cast<int64_t>(time(nullptr));
    note_routes(*current_);
    apply_log_level(*current_);
    server_->set_runtime(rt);
    scheduler_->set_runtime(rt);
    if (console_) console_->set_runtime(rt);
    sts_->set_runtime(rt);
    log_event("reloaded", {{"config", path_}, {"sessions", server_->session_count()}});
    std::string restart = needs_restart(*bound_, *current_);
    if (!restart.empty()) {
      log_event("warning", {{"what", "changed settings take effect only after a restart"}, {"settings", restart}});
    }
  }

  // log.file and log.format as `cfg` says: the same file is opened again under its name. When
  // that fails, lines keep going where they went, and the log says why.
  static void open_log(const config::Config& cfg) {
    std::string error;
    if (!log_open(log_style(cfg), cfg.log.file, &error)) {
      log_event("warning", {{"what", "the log stays where it was"}, {"error", error}});
    }
  }

  static LogStyle log_style(const config::Config& cfg) {
    return cfg.log.format == config::LogFormat::Json ? LogStyle::Json : LogStyle::Kv;
  }

  static void apply_log_level(const config::Config& cfg) {
    log_set_level(cfg.log.level == config::LogLevel::Debug ? LogLevel::Debug : LogLevel::Info);
  }

  static std::string needs_restart(const config::Config& a, const config::Config& b) {
    std::string out;
    auto note = [&](bool changed, const char* name) {
      if (changed) out += (out.empty() ? "" : ",") + std::string(name);
    };
    bool listen_changed = a.listen.size() != b.listen.size();
    for (size_t i = 0; !listen_changed && i < a.listen.size(); ++i) {
      listen_changed = a.listen[i].address != b.listen[i].address || a.listen[i].port != b.listen[i].port;
    }
    note(listen_changed, "listen");
    note(a.queue.path != b.queue.path || a.queue.map_size_mb != b.queue.map_size_mb, "queue.path/map_size_mb");
    note(a.dns.servers != b.dns.servers || a.dns.dnssec != b.dns.dnssec || a.dns.trust_anchor != b.dns.trust_anchor,
         "dns");
    note(a.user != b.user, "user");
    bool admin_changed = a.admin.enabled != b.admin.enabled || a.admin.tls != b.admin.tls ||
                         a.admin.listen.size() != b.admin.listen.size() || a.admin.history_days != b.admin.history_days ||
                         a.admin.history_max_mb != b.admin.history_max_mb;
    for (size_t i = 0; !admin_changed && i < a.admin.listen.size(); ++i) {
      admin_changed = a.admin.listen[i].address != b.admin.listen[i].address || a.admin.listen[i].port != b.admin.listen[i].port;
    }
    note(admin_changed, "admin.listen/tls/history");
    return out;
  }

  std::string path_;
  base::EventBasePtr base_;
  std::unique_ptr<QueueLock> lock_;  // outlives store_: nobody else opens the queue while it is open
  std::unique_ptr<HistoryStore> history_;  // outlives store_: its writer thread flushes the history
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<CertExpiryWatch> cert_watch_;
  std::unique_ptr<ConsoleFeed> feed_;      // installed as the observer while the loop runs
  std::unique_ptr<QueueStore> store_;
  std::unique_ptr<ConsoleServer> console_;

  std::unique_ptr<router::DnsResolver> dns_;
  std::unique_ptr<StsRuntime> sts_;  // outlives scheduler_: sessions use its cache and counters
  std::unique_ptr<DeliveryScheduler> scheduler_;
  std::unique_ptr<SmtpServer> server_;
  RelayFacts facts_;
  std::unique_ptr<ControlRequests> requests_;  // uses scheduler_, server_ and facts_
  std::unique_ptr<ControlServer> control_;     // goes first: its requests use requests_
  std::vector<base::EventPtr> signals_;
  bool draining_ = false;
  std::shared_ptr<const config::Config> current_;  // in force for new sessions
  std::shared_ptr<const config::Config> bound_;    // the start-up one: listeners, queue, DNS, user
  std::optional<RunUser> run_user_;  // set when started as root: who we run as after start-up
};

}  // namespace

int run_daemon(const std::string& config_path) { return Daemon(config_path).run(); }

}  // namespace relay
