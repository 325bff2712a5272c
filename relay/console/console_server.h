// console_server.h - the admin console over HTTPS (SPEC R-CONSOLE): pages, the JSON API and
// /metrics, served by libevent's evhttp (no HTTP parser of our own) with TLS by wolfSSL
// (relay/console/tls_bufferevent.h), or plain HTTP on loopback when admin.tls = false.
//
// Every request needs a login: HTTP Basic (scripts, Prometheus) or the session cookie set by
// POST /login (HttpOnly, Secure, SameSite=Strict). A cookie-authenticated POST needs the
// session's CSRF token (X-CSRF-Token header or csrf form field); POST /api/... needs
// Content-Type: application/json and, when Origin is sent, our own origin. Failed logins are
// limited per client IP (login_guard.h) and logged (event=console-login-failed). /metrics is open
// to metrics_allow. Password checks run on a worker thread; the route test runs the real tester
// as a child process (`smarthost test-route --json`), read through the loop: nothing here
// waits. listen() fails (with *error) when an address cannot be bound.
#pragma once

#include <event2/event.h>
#include <event2/http.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "relay/console/cert_expiry_watch.h"
#include "relay/console/console_pages.h"
#include "relay/console/login_guard.h"
#include "relay/console/metrics.h"
#include "relay/console/background_worker.h"
#include "relay/core/smtp_runtime.h"
#include "relay/queue/history_store.h"

namespace relay {

struct ConsoleDeps {
  HistoryStore* history = nullptr;
  Metrics* metrics = nullptr;
  CertExpiryWatch* certs = nullptr;         // seeded from the history by listen()
  TlsrptStore* tlsrpt = nullptr;            // TLS reports page; read on the worker thread
  std::function<Metrics::Gauges()> gauges;  // asked at each scrape and overview (cheap: no queue scan)
  // Counts the queue by state; run on the console's worker thread, never on the loop.
  std::function<std::map<std::string, uint64_t>()> count_queue;
  std::string config_path;                  // for the route tester
  std::string self_exe = "/proc/self/exe";
};

class ConsoleServer {
 public:
  ConsoleServer(event_base* base, ConsoleDeps deps, std::shared_ptr<const Runtime> rt);
  ~ConsoleServer();
  bool listen(std::string* error);
  void set_runtime(std::shared_ptr<const Runtime> rt) { rt_ = std::move(rt); }

  struct Request;  // one request being answered (console_server.cc)

 private:
  struct HttpFree {
    void operator()(evhttp* h) const { evhttp_free(h); }
  };
  static bufferevent* make_bev(event_base* base, void* self);
  static void on_request(evhttp_request* req, void* self);
  void handle(std::shared_ptr<Request> r);
  void authenticated(std::shared_ptr<Request> r);
  void login_form(std::shared_ptr<Request> r);
  void check_basic(std::shared_ptr<Request> r, const std::string& header);
  void login_failed(const std::shared_ptr<Request>& r, const std::string& user, const char* how);
  bool csrf_ok(const Request& r);
  void route_test(std::shared_ptr<Request> r, const std::string& route);
  void preview(std::shared_ptr<Request> r);
  void tls_reports(std::shared_ptr<Request> r, const PageContext& ctx);
  const config::AdminUser* user(const std::string& name) const;

  event_base* base_;
  ConsoleDeps deps_;
  std::shared_ptr<const Runtime> rt_;
  std::unique_ptr<evhttp, HttpFree> http_;
  LoginGuard guard_;
  void check_password(std::string password, std::string hash, std::function<void(bool)> done);
  void refresh_queue_counts();
  void seed_cert_watch();
  Metrics::Gauges gauges();

  BackgroundWorker worker_;
  std::map<std::string, uint64_t> queue_counts_;
  int64_t queue_counted_ = -100;
  bool counting_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // route tests outliving us check it
};

}  // namespace relay
