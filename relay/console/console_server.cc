// console_server.cc - the admin console's HTTP side (see console_server.h).
#include "relay/console/console_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "relay/console/child_output.h"
#include "relay/console/console_api.h"
#include "relay/console/console_pages.h"
#include "relay/console/tls_bufferevent.h"
#include "relay/core/json_dump.h"
#include "relay/core/log.h"
#include "relay/core/password_hash.h"
#include "router/base/utc_time.h"

namespace relay {

namespace {

constexpr const char* kCookie = "smarthost_session";
constexpr int kRouteTestTimeout = 30;

int64_t now_s() { return static_cast<int64_t>(time(nullptr)); }

std::string header(evhttp_request* req, const char* name) {
  const char* v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
  return v ? v : "";
}

std::string body_of(evhttp_request* req) {
  evbuffer* b = evhttp_request_get_input_buffer(req);
  std::string s(evbuffer_get_length(b), '\0');
  evbuffer_copyout(b, s.data(), s.size());
  return s;
}

// The value of `key` in a query string or an application/x-www-form-urlencoded body.
std::string form_value(const std::string& text, const char* key) {
  evkeyvalq q;
  q.tqh_first = nullptr;
  q.tqh_last = &q.tqh_first;
  std::string out;
  if (evhttp_parse_query_str(text.c_str(), &q) == 0) {
    const char* v = evhttp_find_header(&q, key);
    if (v) out = v;
  }
  evhttp_clear_headers(&q);
  return out;
}

std::string cookie(const std::string& h, const std::string& name) {
  size_t pos = 0;
  while (pos < h.size()) {
    size_t end = h.find(';', pos);
    if (end == std::string::npos) end = h.size();
    std::string part = h.substr(pos, end - pos);
    size_t b = part.find_first_not_of(' ');
    if (b != std::string::npos) part = part.substr(b);
    if (part.compare(0, name.size() + 1, name + "=") == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

struct ConsoleServer::Request {
  evhttp_request* req = nullptr;
  std::string ip;
  std::string path;
  std::string query;
  bool post = false;
  std::string user;                            // who is logged in, once known
  const LoginGuard::Session* session = nullptr;  // cookie logins only
  std::string session_token;

  void send(int code, const char* reason, const std::string& type, const std::string& body) {
    evkeyvalq* out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", type.c_str());
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    evhttp_add_header(out, "Referrer-Policy", "same-origin");
    evhttp_add_header(out, "Content-Security-Policy",
                      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                      "img-src 'self' data:; frame-ancestors 'none'");
    evbuffer* b = evbuffer_new();
    evbuffer_add(b, body.data(), body.size());
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
  }
  void json(int code, const char* reason, const nlohmann::ordered_json& j) {
    send(code, reason, "application/json", json_dump(j));
  }
  void html(int code, const char* reason, const std::string& page) {
    send(code, reason, "text/html; charset=utf-8", page);
  }
  bool api() const { return starts_with(path, "/api/") || path == "/metrics"; }
};

ConsoleServer::ConsoleServer(event_base* base, ConsoleDeps deps, std::shared_ptr<const Runtime> rt)
    : base_(base), deps_(std::move(deps)), rt_(std::move(rt)) {}

ConsoleServer::~ConsoleServer() { *alive_ = false; }

bool ConsoleServer::listen(std::string* error) {
  const auto& a = rt_->config->admin;
  if (!worker_.attach(base_, error)) return false;
  refresh_queue_counts();
  seed_cert_watch();
  http_.reset(evhttp_new(base_));
  evhttp_set_gencb(http_.get(), &ConsoleServer::on_request, this);
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
  evhttp_set_max_headers_size(http_.get(), 16384);
  evhttp_set_max_body_size(http_.get(), 65536);
  evhttp_set_timeout(http_.get(), 60);
  if (a.tls) evhttp_set_bevcb(http_.get(), &ConsoleServer::make_bev, this);
  for (const auto& l : a.listen) {
    if (!evhttp_bind_socket_with_handle(http_.get(), l.address.c_str(), static_cast<uint16_t>(l.port))) {
      *error = "admin console: cannot listen on " + l.address + " port " + std::to_string(l.port) + ": " +
               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
      return false;
    }
    log_event("console", {{"listen", l.address + ":" + std::to_string(l.port)}, {"tls", a.tls ? "yes" : "no"}});
  }
  return true;
}

void ConsoleServer::check_password(std::string password, std::string hash, std::function<void(bool)> done) {
  auto ok = std::make_shared<bool>(false);
  worker_.post([ok, password = std::move(password), hash = std::move(hash)] { *ok = password_matches(password, hash); },
               [ok, done = std::move(done)] { done(*ok); });
}

// The queue by state, counted on the worker at most every 10 s: a scrape never scans the
// queue on the loop (a deep queue must not stall it); the figures are up to 10 s old.
void ConsoleServer::refresh_queue_counts() {
  int64_t now = now_s();
  if (counting_ || now - queue_counted_ < 10 || !deps_.count_queue) return;
  counting_ = true;
  auto counts = std::make_shared<std::map<std::string, uint64_t>>();
  std::weak_ptr<bool> alive = alive_;
  worker_.post([counts, f = deps_.count_queue] { *counts = f(); },
               [this, alive, counts] {
                 if (alive.expired() || !*alive.lock()) return;
                 queue_counts_ = *counts;
                 queue_counted_ = now_s();
                 counting_ = false;
               });
}

// The certificates the history saw before this start, read on the worker (a long scan).
void ConsoleServer::seed_cert_watch() {
  if (!deps_.certs || !deps_.history) return;
  auto table = std::make_shared<CertExpiryWatch::Table>();
  int64_t since = base::now_us() - static_cast<int64_t>(rt_->config->admin.history_days) * 86400 * 1000000;
  std::weak_ptr<bool> alive = alive_;
  worker_.post([table, h = deps_.history, since] { *table = scan_history(*h, since); },
               [this, alive, table] {
                 if (alive.expired() || !*alive.lock()) return;
                 deps_.certs->seed(*table);
               });
}

Metrics::Gauges ConsoleServer::gauges() {
  refresh_queue_counts();
  Metrics::Gauges g = deps_.gauges ? deps_.gauges() : Metrics::Gauges{};
  g.queue_by_state = queue_counts_;
  if (deps_.certs) g.expiring_certs = deps_.certs->count_by_route(*rt_->config, now_s());
  return g;
}

bufferevent* ConsoleServer::make_bev(event_base* base, void* arg) {
  auto* self = static_cast<ConsoleServer*>(arg);
  auto rt = self->rt_;
  if (!rt->server_tls) return nullptr;
  return tls_bufferevent_new(base, rt->server_tls.get(), rt);
}

void ConsoleServer::on_request(evhttp_request* req, void* arg) {
  auto* self = static_cast<ConsoleServer*>(arg);
  auto r = std::make_shared<Request>();
  r->req = req;
  char* addr = nullptr;
  ev_uint16_t port = 0;
  evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr, &port);
  r->ip = addr ? addr : "";
  if (starts_with(r->ip, "::ffff:")) r->ip = r->ip.substr(7);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  const char* query = uri ? evhttp_uri_get_query(uri) : nullptr;
  r->path = path && *path ? path : "/";
  r->query = query ? query : "";
  r->post = evhttp_request_get_command(req) == EVHTTP_REQ_POST;
  self->handle(std::move(r));
}

const config::AdminUser* ConsoleServer::user(const std::string& name) const {
  for (const auto& u : rt_->config->admin.users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

void ConsoleServer::handle(std::shared_ptr<Request> r) {
  int64_t now = now_s();
  if (r->path == "/login") {
    if (!r->post) return r->html(200, "OK", page_login(""));
    return login_form(std::move(r));
  }
  if (r->path == "/metrics" && !r->post) {
    auto ip = config::parse_ip(r->ip);
    if (ip && config::any_contains(rt_->config->admin.metrics_allow, *ip)) {
      return r->send(200, "OK", "text/plain; version=0.0.4; charset=utf-8", deps_.metrics->render(gauges()));
    }
  }
  std::string token = cookie(header(r->req, "Cookie"), kCookie);
  if (!token.empty()) {
    if (const auto* s = guard_.find(token, now)) {
      r->session = s;
      r->session_token = token;
      r->user = s->user;
      return authenticated(std::move(r));
    }
  }
  std::string auth = header(r->req, "Authorization");
  if (starts_with(auth, "Basic ")) return check_basic(std::move(r), auth.substr(6));
  if (r->api()) {
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
                      "Basic realm=\"smarthost\", charset=\"UTF-8\"");
    return r->json(401, "Unauthorized", {{"error", "login required"}});
  }
  r->html(401, "Unauthorized", page_login(""));
}

void ConsoleServer::login_failed(const std::shared_ptr<Request>& r, const std::string& name, const char* how) {
  bool blocked = guard_.failed(r->ip, now_s());
  log_event("console-login-failed", {{"client", r->ip}, {"user", name}, {"by", how}});
  if (blocked) {
    log_event("console-login-blocked", {{"client", r->ip},
                                        {"failures", static_cast<uint64_t>(LoginGuard::kMaxFailures)},
                                        {"seconds", static_cast<uint64_t>(LoginGuard::kBlockSeconds)}});
  }
}

void ConsoleServer::check_basic(std::shared_ptr<Request> r, const std::string& b64) {
  if (int64_t wait = guard_.blocked_for(r->ip, now_s())) {
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", std::to_string(wait).c_str());
    return r->json(429, "Too Many Requests", {{"error", "too many failed logins; try again later"}});
  }
  std::string dec(b64.size(), '\0');
  word32 n = static_cast<word32>(dec.size());
  std::string name, password;
  if (Base64_Decode(reinterpret_cast<const byte*>(b64.data()), static_cast<word32>(b64.size()),
                    reinterpret_cast<byte*>(dec.data()), &n) == 0) {
    dec.resize(n);
    size_t colon = dec.find(':');
    if (colon != std::string::npos) {
      name = dec.substr(0, colon);
      password = dec.substr(colon + 1);
    }
  }
  const config::AdminUser* u = user(name);
  // An unknown user costs a check too: the time taken does not say which names exist.
  std::string hash = u ? u->password_hash : rt_->config->admin.users.front().password_hash;
  std::weak_ptr<bool> alive = alive_;
  check_password(password, hash, [this, alive, r, name, known = u != nullptr](bool ok) {
    if (alive.expired() || !*alive.lock()) return;
    if (ok && known) {
      r->user = name;
      return authenticated(r);
    }
    login_failed(r, name, "basic");
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate",
                      "Basic realm=\"smarthost\", charset=\"UTF-8\"");
    if (r->api()) return r->json(401, "Unauthorized", {{"error", "wrong user or password"}});
    r->html(401, "Unauthorized", page_login("Wrong user or password."));
  });
}

void ConsoleServer::login_form(std::shared_ptr<Request> r) {
  if (int64_t wait = guard_.blocked_for(r->ip, now_s())) {
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", std::to_string(wait).c_str());
    return r->html(429, "Too Many Requests", page_login("Too many failed logins from your address; try again in " +
                                                         std::to_string((wait + 59) / 60) + " minutes."));
  }
  std::string body = body_of(r->req);
  std::string name = form_value(body, "user"), password = form_value(body, "password");
  const config::AdminUser* u = user(name);
  std::string hash = u ? u->password_hash : rt_->config->admin.users.front().password_hash;
  std::weak_ptr<bool> alive = alive_;
  check_password(password, hash, [this, alive, r, name, known = u != nullptr](bool ok) {
    if (alive.expired() || !*alive.lock()) return;
    if (!ok || !known) {
      login_failed(r, name, "form");
      return r->html(401, "Unauthorized", page_login("Wrong user or password."));
    }
    std::string token = guard_.open(name, now_s());
    log_event("console-login", {{"client", r->ip}, {"user", name}});
    std::string c = std::string(kCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict" +
                    (rt_->config->admin.tls ? "; Secure" : "");
    evkeyvalq* out = evhttp_request_get_output_headers(r->req);
    evhttp_add_header(out, "Set-Cookie", c.c_str());
    evhttp_add_header(out, "Location", "/");
    r->html(303, "See Other", "<p><a href=\"/\">Overview</a></p>");
  });
}

// SPEC R-CONSOLE: a cookie login's POSTs carry the session's CSRF token; POST /api/... is JSON,
// and from our own origin when the browser says where it comes from.
bool ConsoleServer::csrf_ok(const Request& r) {
  std::string origin = header(r.req, "Origin");
  if (!origin.empty()) {
    std::string own = std::string(rt_->config->admin.tls ? "https://" : "http://") + header(r.req, "Host");
    if (origin != own) return false;
  }
  if (starts_with(r.path, "/api/")) {
    std::string type = header(r.req, "Content-Type");
    if (!starts_with(type, "application/json")) return false;
  }
  if (!r.session) return true;  // HTTP Basic: no cookie a forged request could ride on
  std::string token = header(r.req, "X-CSRF-Token");
  if (token.empty() && !starts_with(r.path, "/api/")) token = form_value(body_of(r.req), "csrf");
  return !token.empty() && token == r.session->csrf;
}

void ConsoleServer::authenticated(std::shared_ptr<Request> r) {
  if (r->post && !csrf_ok(*r)) {
    log_event("console-csrf-refused", {{"client", r->ip}, {"user", r->user}, {"path", r->path}});
    if (r->api()) return r->json(403, "Forbidden", {{"error", "CSRF check failed"}});
    return r->html(403, "Forbidden", "<p>CSRF check failed: reload the page and try again.</p>");
  }
  const std::string csrf = r->session ? r->session->csrf : "";
  PageContext ctx{rt_->config.get(), deps_.history, csrf, r->user, static_cast<int64_t>(time(nullptr))};
  if (r->post && r->path == "/logout") {
    guard_.close(r->session_token);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Set-Cookie",
                      (std::string(kCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict").c_str());
    return r->html(200, "OK", page_login("Logged out."));
  }
  if (r->path == "/metrics" && !r->post) {
    return r->send(200, "OK", "text/plain; version=0.0.4; charset=utf-8", deps_.metrics->render(gauges()));
  }
  if (r->path == "/api/tracking" && !r->post) {
    return r->json(200, "OK", tracking_json(*deps_.history, form_value(r->query, "q")));
  }
  if (r->post && starts_with(r->path, "/api/routes/") && r->path.size() > 17 &&
      r->path.compare(r->path.size() - 5, 5, "/test") == 0) {
    char* name = evhttp_uridecode(r->path.substr(12, r->path.size() - 17).c_str(), 0, nullptr);
    std::string route = name ? name : "";
    free(name);
    return route_test(std::move(r), route);
  }
  if (r->path == "/api/preview" && !r->post) return preview(std::move(r));
  if (r->post) return r->json(404, "Not Found", {{"error", "no such action"}});
  if (r->path == "/") {
    auto warnings = deps_.certs ? deps_.certs->warnings(*rt_->config, ctx.now) : std::vector<ExpiryWarning>{};
    return r->html(200, "OK", page_overview(ctx, gauges(), warnings));
  }
  if (r->path == "/tracking") return r->html(200, "OK", page_tracking(ctx, form_value(r->query, "q")));
  if (r->path == "/routes") return r->html(200, "OK", page_routes(ctx));
  if (r->path == "/tls") return tls_reports(std::move(r), ctx);
  if (r->path == "/certificates") return r->html(200, "OK", page_certificates(ctx));
  r->html(404, "Not Found", "<p>No such page. <a href=\"/\">Overview</a></p>");
}

// The TLS-RPT store is read on the worker (a range per day of history_days), the page made here.
void ConsoleServer::tls_reports(std::shared_ptr<Request> r, const PageContext& ctx) {
  auto rows = std::make_shared<std::vector<TlsReportRow>>();
  std::weak_ptr<bool> alive = alive_;
  auto rt = rt_;  // keeps ctx.cfg alive until the page is made
  worker_.post([rows, store = deps_.tlsrpt, now = ctx.now, days = rt->config->admin.history_days] {
                 if (store) *rows = tls_report_rows(*store, now, days);
               },
               [alive, rows, r, ctx, rt] {
                 if (alive.expired() || !*alive.lock()) return;
                 r->html(200, "OK", page_tls_reports(ctx, *rows));
               });
}

void ConsoleServer::preview(std::shared_ptr<Request> r) {
  int64_t since = base::now_us() - static_cast<int64_t>(rt_->config->admin.history_days) * 86400 * 1000000;
  auto p = policy_preview(*deps_.history, form_value(r->query, "route"), form_value(r->query, "setting"),
                          form_value(r->query, "value"), since);
  if (!p.error.empty()) return r->json(400, "Bad Request", {{"error", p.error}});
  r->json(200, "OK", {{"route", form_value(r->query, "route")},
                      {"setting", form_value(r->query, "setting")},
                      {"deliveries", p.deliveries},
                      {"failing", p.failing},
                      {"hosts", p.hosts},
                      {"failing_hosts", p.failing_hosts},
                      {"words", p.words}});
}

// The real tester in a child process: `smarthost test-route -c CONFIG ROUTE [--domain D] --json`,
// so the answer is the command line's, to the byte.
void ConsoleServer::route_test(std::shared_ptr<Request> r, const std::string& route) {
  if (!rt_->config->find_route(route)) return r->json(404, "Not Found", {{"error", "no route '" + route + "'"}});
  auto body = nlohmann::json::parse(body_of(r->req), nullptr, false);
  std::string domain;
  if (body.is_object() && body.contains("domain")) {
    if (!body["domain"].is_string()) return r->json(400, "Bad Request", {{"error", "domain must be a string"}});
    domain = body["domain"].get<std::string>();
  } else if (!body.is_object() && !body_of(r->req).empty()) {
    return r->json(400, "Bad Request", {{"error", "the body must be a JSON object"}});
  }
  std::vector<std::string> argv = {deps_.self_exe, "test-route", "-c", deps_.config_path, route, "--json"};
  if (!domain.empty()) {
    argv.push_back("--domain");
    argv.push_back(domain);
  }
  log_event("console-route-test", {{"client", r->ip}, {"user", r->user}, {"route", route}, {"domain", domain}});
  std::weak_ptr<bool> alive = alive_;
  run_child(base_, argv, kRouteTestTimeout + 5, [r, alive](int code, const std::string& out) {
    if (alive.expired() || !*alive.lock()) return;
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (code < 0 || code == 2 || !j.is_object()) {
      return r->json(code == 2 ? 400 : 500, code == 2 ? "Bad Request" : "Internal Server Error",
                     {{"error", code == 2 ? "the tester refused the request (unknown route, or a kind mx "
                                            "route without a valid domain)"
                                          : "the tester did not answer"}});
    }
    r->send(200, "OK", "application/json", out);
  });
}

}  // namespace relay
