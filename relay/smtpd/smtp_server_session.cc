// smtp_server_session.cc - the inbound ESMTP state machine (see the header).
#include "relay/smtpd/smtp_server_session.h"

#include <sys/time.h>

#include <ctime>

#include "relay/core/log.h"
#include "relay/core/observer.h"
#include "relay/notify/mime_text.h"
#include "relay/smtpd/smtp_server.h"
#include "relay/tenant/auth_results.h"
#include "relay/tenant/tenant_binding.h"

namespace relay {

namespace {

constexpr size_t kMaxCommandLine = 512;  // RFC 5321 4.5.3.1.4, with CRLF
constexpr int kMaxErrors = 20;
// DATA must end within data_timeout plus 1/kMinDataRate s for each octet received (Postfix's
// smtpd_min_data_rate): a big message sent steadily is never cut, a client dripping bytes is.
constexpr int64_t kMinDataRate = 500;  // octets per second

int64_t now_us() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

int64_t mono_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// HELO names go into the Received header: keep them printable and short.
std::string sanitize(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 255)) out += (c > 0x20 && c < 0x7f && c != '(' && c != ')') ? static_cast<char>(c) : '_';
  return out;
}

}  // namespace

SmtpServerSession::SmtpServerSession(SmtpServer& server, std::shared_ptr<const Runtime> rt,
                                     evutil_socket_t fd, config::IpAddr peer, uint64_t serial)
    : server_(server),
      rt_(std::move(rt)),
      peer_(peer),
      serial_(serial),
      sid_(log_session_id('s', serial)),
      conn_(std::make_unique<base::Conn>(server.base(), fd, this)),
      data_timer_(evtimer_new(server.base(), &SmtpServerSession::on_data_deadline, this)) {
  tls_required_ = rt_->inbound_level(peer_) == config::InboundLevel::Required;
}

SmtpServerSession::~SmtpServerSession() = default;

void SmtpServerSession::start() {
  conn_->set_timeout(rt_->config->limits.command_timeout);
  reply(220, nullptr, rt_->config->hostname + " ESMTP smarthost");
}

void SmtpServerSession::reply(int code, const char* status, const std::string& text) {
  std::string line = std::to_string(code) + " ";
  if (status) line += std::string(status) + " ";
  line += text + "\r\n";
  conn_->write(line);
}

void SmtpServerSession::close(const std::string& why) {
  if (state_ == State::Closed) return;
  if (state_ == State::Storing) {
    // The queue still owes us an answer; finish when it arrives.
    closing_after_store_ = true;
    conn_->close_after_flush();
    return;
  }
  state_ = State::Closed;
  check_.reset();  // its lookups are cancelled: the verdict never comes
  conn_->close_after_flush();
  log_event("disconnect", {{"session", sid_}, {"client", peer_.str()}, {"reason", why}});
  observer().inbound_session(tls_.version);
  server_.session_done(this);
}

const char* SmtpServerSession::state_name(State s) {
  switch (s) {
    case State::Command: return "command";
    case State::Data: return "data";
    case State::Checking: return "checking";
    case State::Storing: return "storing";
    case State::Tls: return "tls";
    case State::Closed: return "closed";
  }
  return "?";
}

void SmtpServerSession::shutdown(const char* why) {
  if (state_ == State::Closed) return;
  log_event("cut-off", {{"session", sid_}, {"client", peer_.str()}, {"state", state_name(state_)}});
  if (state_ != State::Storing) reply(421, "4.3.2", rt_->config->hostname + " " + why);
  close(why);
}

void SmtpServerSession::on_conn_read() {
  try {
    process();
  } catch (const std::exception& e) {
    log_event("error", {{"session", sid_}, {"what", e.what()}});
    reply(421, "4.3.0", rt_->config->hostname + " Internal error, closing connection");
    close("internal error");
  }
}

void SmtpServerSession::on_conn_closed(const std::string& why) { close(why); }

void SmtpServerSession::on_conn_timeout() {
  reply(421, "4.4.2", rt_->config->hostname + " Error: timeout exceeded");
  close("timeout");
}

void SmtpServerSession::on_conn_tls_ready(bool ok, const std::string& error) {
  if (!ok) {
    log_event("tls-failed", {{"session", sid_}, {"client", peer_.str()}, {"error", error}});
    close("TLS handshake failed");
    return;
  }
  certs::TlsFacts f = certs::session_facts(conn_->tls());
  tls_.version = f.version;
  tls_.cipher = f.cipher;
  tls_.bits = f.bits;
  state_ = State::Command;
  log_event("starttls", {{"session", sid_}, {"client", peer_.str()}, {"version", f.version},
                         {"cipher", f.cipher}});
}

// Runs commands from the input until it is empty or we must wait.
void SmtpServerSession::process() {
  while (state_ == State::Command || state_ == State::Data) {
    if (state_ == State::Data) {
      read_data();
      if (state_ == State::Data) return;  // need more bytes
      continue;
    }
    std::string line;
    if (!read_line(&line)) {
      if (command_too_slow()) on_conn_timeout();
      return;
    }
    line_deadline_us_ = 0;
    dispatch(line);
  }
}

// One command line without its CRLF; false when none is complete yet. Only CRLF ends a line
// (RFC 5321 2.3.8): "MAIL FROM:<a>\nRCPT TO:<b>\r\n" is one line, which dispatch() refuses for
// its bare LF, never two commands.
bool SmtpServerSession::read_line(std::string* line) {
  evbuffer* in = conn_->input();
  for (;;) {
    evbuffer_ptr eol = evbuffer_search_eol(in, nullptr, nullptr, EVBUFFER_EOL_CRLF_STRICT);
    if (eol.pos < 0) {
      size_t len = evbuffer_get_length(in);
      if (len > kMaxCommandLine) {
        // The last octet stays: it may be the CR whose LF comes in the next read.
        evbuffer_drain(in, len - 1);
        if (!skip_to_eol_) reply(500, "5.5.2", "Error: line too long");
        skip_to_eol_ = true;
      }
      return false;
    }
    size_t len = static_cast<size_t>(eol.pos);
    std::string raw(len + 2, '\0');
    evbuffer_remove(in, raw.data(), len + 2);
    if (skip_to_eol_) {
      skip_to_eol_ = false;
      continue;
    }
    raw.resize(len);
    if (raw.size() + 2 > kMaxCommandLine) {
      reply(500, "5.5.2", "Error: line too long");
      continue;
    }
    *line = std::move(raw);
    return true;
  }
}

// The idle timer restarts with every byte, so a client dripping one byte at a time (slowloris)
// would hold its slot for ever: a command line must be complete within command_timeout of its
// first byte.
bool SmtpServerSession::command_too_slow() {
  if (evbuffer_get_length(conn_->input()) == 0 && !skip_to_eol_) {
    line_deadline_us_ = 0;
    return false;
  }
  int64_t now = mono_us();
  if (line_deadline_us_ == 0) {
    line_deadline_us_ = now + static_cast<int64_t>(rt_->config->limits.command_timeout) * 1000000;
    return false;
  }
  return now >= line_deadline_us_;
}

// The idle timer restarts with every byte, so DATA as a whole has its own deadline (kMinDataRate).
// The timer is armed for the deadline as it stood; when it fires, bytes received since may have
// moved the deadline on, and the timer waits for the rest.
void SmtpServerSession::on_data_deadline(evutil_socket_t, short, void* self) {
  static_cast<SmtpServerSession*>(self)->check_data_deadline();
}

void SmtpServerSession::check_data_deadline() {
  if (state_ != State::Data) return;
  int64_t left = data_deadline_us_ - mono_us();
  if (left > 0) {
    timeval tv{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
    evtimer_add(data_timer_.get(), &tv);
    return;
  }
  log_event("reject", {{"session", sid_}, {"id", queue_id_}, {"client", peer_.str()},
                       {"from", "<" + mail_.address + ">"}, {"reason", "DATA too slow"}, {"size", data_->received()}});
  on_conn_timeout();
}

void SmtpServerSession::dispatch(const std::string& line) {
  // SPEC R-INTL: a NUL, or a CR or LF that is not the line's CRLF, makes the line no command.
  if (line.find_first_of(std::string("\0\r\n", 3)) != std::string::npos) {
    return command_error("Error: bare <CR>, bare <LF> or NUL in command line; lines end with <CR><LF>");
  }
  Command c = parse_command(line);
  switch (c.verb) {
    case Verb::Helo: return cmd_helo(c, false);
    case Verb::Ehlo: return cmd_helo(c, true);
    case Verb::Mail: return cmd_mail(c);
    case Verb::Rcpt: return cmd_rcpt(c);
    case Verb::Data: return cmd_data(c);
    case Verb::StartTls: return cmd_starttls(c);
    case Verb::Rset:
      reset_transaction();
      return reply(250, "2.0.0", "Ok");
    case Verb::Noop: return reply(250, "2.0.0", "Ok");
    case Verb::Quit:
      reply(221, "2.0.0", "Bye");
      return close("quit");
    case Verb::Vrfy: return reply(252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
    case Verb::Help: return reply(214, "2.0.0", "See RFC 5321; commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS");
    case Verb::Expn: return reply(502, "5.5.1", "EXPN is not available");
    case Verb::Bdat: return reply(502, "5.5.1", "BDAT (CHUNKING) is not offered; use DATA");
    case Verb::Auth: return reply(502, "5.5.1", "AUTH is not offered: relaying is allowed by client address");
    case Verb::Unknown: return command_error("Error: command not recognized");
  }
}

void SmtpServerSession::command_error(const char* text) {
  if (++errors_ >= kMaxErrors) {
    reply(421, "4.7.0", rt_->config->hostname + " Error: too many errors");
    return close("too many errors");
  }
  reply(500, "5.5.2", text);
}

void SmtpServerSession::reset_transaction() {
  have_mail_ = false;
  mail_ = MailFrom{};
  rcpts_.clear();
  rcpt_routes_.clear();
  queue_id_.clear();
  message_id_.clear();
  queued_size_ = 0;
  dkim_summary_.clear();
  check_.reset();
  data_.reset();
}

bool SmtpServerSession::tls_required_and_missing() {
  if (!tls_required_ || conn_->tls_active()) return false;
  reply(530, "5.7.0", "Must issue a STARTTLS command first");
  return true;
}

void SmtpServerSession::cmd_helo(const Command& c, bool extended) {
  if (c.arg.empty() || c.arg.find(' ') != std::string::npos) {
    return reply(501, "5.5.4", std::string("Syntax: ") + (extended ? "EHLO" : "HELO") + " hostname");
  }
  reset_transaction();
  helo_ = sanitize(c.arg);
  esmtp_ = extended;
  const auto& cfg = *rt_->config;
  if (!extended) return reply(250, nullptr, cfg.hostname);
  std::vector<std::string> lines = {cfg.hostname, "PIPELINING",
                                    "SIZE " + std::to_string(cfg.queue.max_message_size), "8BITMIME",
                                    "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"};
  if (rt_->server_tls && !conn_->tls_active()) lines.push_back("STARTTLS");
  if (conn_->tls_active()) lines.push_back("REQUIRETLS");  // RFC 8689 3: only over TLS
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += "250" + std::string(i + 1 < lines.size() ? "-" : " ") + lines[i] + "\r\n";
  }
  conn_->write(out);
}

void SmtpServerSession::cmd_mail(const Command& c) {
  if (helo_.empty()) return reply(503, "5.5.1", "Error: send EHLO or HELO first");
  if (tls_required_and_missing()) return;
  if (have_mail_) return reply(503, "5.5.1", "Error: nested MAIL command");
  Reply err;
  auto m = parse_mail_from(c.arg, &err);
  if (!m) return reply(err.code, err.status.c_str(), err.text);
  if (m->requiretls && !conn_->tls_active()) {
    return reply(530, "5.7.10", "REQUIRETLS needs a TLS session: issue STARTTLS first (RFC 8689)");
  }
  const auto& q = rt_->config->queue;
  if (m->size && *m->size > q.max_message_size) {
    return reply(552, "5.3.4", "Message size exceeds fixed limit of " + std::to_string(q.max_message_size) + " octets");
  }
  const auto& policy = rt_->config->relay_policy;
  if (binding_applies(policy, peer_, m->address)) {
    if (auto refusal = check_envelope_sender(policy, m->address)) {
      log_tenant_refusal(*refusal, m->address);
      return reply(550, "5.7.1", refusal->text);
    }
  }
  mail_ = std::move(*m);
  have_mail_ = true;
  reply(250, "2.1.0", "Ok");
}

void SmtpServerSession::log_tenant_refusal(const TenantRefusal& r, const std::string& sender) {
  if (queue_id_.empty()) {  // at MAIL: no queue id yet
    log_event("reject", {{"session", sid_}, {"client", peer_.str()}, {"from", "<" + sender + ">"},
                         {"reason", r.reason}, {"domain", r.domain}, {"allowed", r.allowed}});
  } else {
    log_event("reject", {{"session", sid_}, {"id", queue_id_}, {"client", peer_.str()}, {"from", "<" + sender + ">"},
                         {"reason", r.reason}, {"domain", r.domain}, {"allowed", r.allowed}});
  }
}

void SmtpServerSession::cmd_rcpt(const Command& c) {
  if (!have_mail_) return reply(503, "5.5.1", "Error: need MAIL command");
  if (tls_required_and_missing()) return;
  Reply err;
  auto r = parse_rcpt_to(c.arg, mail_.smtputf8, &err);
  if (!r) return reply(err.code, err.status.c_str(), err.text);
  if (rcpts_.size() >= rt_->config->queue.max_recipients) {
    return reply(452, "4.5.3", "Error: too many recipients");
  }
  const config::Route* route = rt_->routes->route_for(r->address);
  if (!route) {
    log_event("reject", {{"session", sid_}, {"client", peer_.str()}, {"from", "<" + mail_.address + ">"},
                         {"to", "<" + r->address + ">"}, {"reason", "no route"}});
    return reply(550, "5.7.1", "<" + r->address + ">: Relay access denied: no route for this recipient");
  }
  rcpts_.push_back(std::move(*r));
  rcpt_routes_.push_back(route->name);
  reply(250, "2.1.5", "Ok");
}

void SmtpServerSession::cmd_data(const Command& c) {
  if (!have_mail_) return reply(503, "5.5.1", "Error: need MAIL command");
  if (tls_required_and_missing()) return;
  if (rcpts_.empty()) return reply(554, "5.5.1", "Error: no valid recipients");
  if (!c.arg.empty()) return reply(501, "5.5.4", "Syntax: DATA (no arguments)");
  queue_id_ = new_queue_id();
  data_ = std::make_unique<DataReader>(rt_->config->queue.max_message_size);
  state_ = State::Data;
  conn_->set_timeout(rt_->config->limits.data_timeout);
  data_deadline_us_ = mono_us() + static_cast<int64_t>(rt_->config->limits.data_timeout) * 1000000;
  check_data_deadline();  // arms the timer
  reply(354, nullptr, "End data with <CR><LF>.<CR><LF>");
}

void SmtpServerSession::read_data() {
  evbuffer* in = conn_->input();
  while (evbuffer_get_length(in) > 0 && !data_->done()) {
    evbuffer_iovec v;
    if (evbuffer_peek(in, -1, nullptr, &v, 1) < 1) break;
    size_t used = data_->feed(static_cast<const char*>(v.iov_base), v.iov_len);
    evbuffer_drain(in, used);
    data_deadline_us_ += static_cast<int64_t>(used) * 1000000 / kMinDataRate;
  }
  if (data_->done()) finish_data();
}

void SmtpServerSession::finish_data() {
  evtimer_del(data_timer_.get());
  conn_->set_timeout(rt_->config->limits.command_timeout);
  auto err = data_->error();
  const std::string& host = rt_->config->hostname;
  if (err != DataReader::Error::None) {
    log_event("reject", {{"session", sid_}, {"id", queue_id_}, {"client", peer_.str()},
                         {"from", "<" + mail_.address + ">"}, {"reason", data_error_name(err)}, {"size", data_->received()}});
    state_ = State::Command;
    reset_transaction();
    switch (err) {
      case DataReader::Error::TooBig:
        return reply(552, "5.3.4", "Message size exceeds fixed limit of " +
                                       std::to_string(rt_->config->queue.max_message_size) + " octets");
      case DataReader::Error::LineTooLong:
        return reply(554, "5.6.0", "Message refused: a line is longer than 1000 octets (RFC 5321 4.5.3.1.6)");
      case DataReader::Error::BareLf:
        return reply(554, "5.5.2", "Message refused: bare <LF> in message data; lines must end with <CR><LF>");
      case DataReader::Error::BareCr:
        return reply(554, "5.5.2", "Message refused: bare <CR> in message data; lines must end with <CR><LF>");
      case DataReader::Error::Nul:
        return reply(554, "5.5.2", "Message refused: NUL octet in message data (RFC 5321 4.1.1.4)");
      case DataReader::Error::None:
        break;
    }
    (void)host;
    return;
  }
  const auto& cfg = *rt_->config;
  const auto& policy = cfg.relay_policy;
  const bool bound = binding_applies(policy, peer_, mail_.address);
  if (bound) {
    if (auto refusal = check_header_from(policy, data_->body())) {
      log_tenant_refusal(*refusal, mail_.address);
      state_ = State::Command;
      reset_transaction();
      return reply(550, "5.7.1", refusal->text);
    }
  }
  const config::DkimSign* sign = cfg.find_dkim_sign(header_from_domain(data_->body()));
  const std::vector<std::string> require = bound ? policy.require_dkim : std::vector<std::string>{};
  const std::string sign_domain = sign && !sign->resign ? sign->domain : "";
  if (require.empty() && sign_domain.empty()) return store_message(MessageVerdict{});
  state_ = State::Checking;
  check_starting_ = true;
  auto check = MessageCheck::start(server_.dkim_keys(), require, sign_domain, data_->body(),
                                   [this](MessageVerdict v) { checked(std::move(v)); });
  check_starting_ = false;
  if (state_ == State::Checking) check_ = std::move(check);  // else the verdict came at once
}

void SmtpServerSession::checked(MessageVerdict v) {
  if (state_ != State::Checking) return;
  if (v.kind == MessageVerdict::Kind::Accept) return store_message(v);
  const auto& policy = rt_->config->relay_policy;
  log_event("reject", {{"session", sid_}, {"id", queue_id_}, {"client", peer_.str()},
                       {"from", "<" + mail_.address + ">"},
                       {"reason", v.kind == MessageVerdict::Kind::TempFail ? "DKIM key lookup failed" : "no valid DKIM signature"},
                       {"allowed", domain_words(policy.require_dkim)}, {"dkim", v.summary()}});
  const bool temp = v.kind == MessageVerdict::Kind::TempFail;
  const std::string text = v.text;
  state_ = State::Command;
  reset_transaction();  // destroys the MessageCheck that called us: nothing of it is used below
  reply(temp ? 451 : 550, temp ? "4.7.5" : "5.7.1", text);
  if (!check_starting_) process();  // else finish_data's caller goes on reading commands
}

std::string SmtpServerSession::top_headers(const MessageVerdict& v, const std::string& message) {
  std::string top = received_header();
  if (v.checked_dkim) top += auth_results_field(rt_->config->hostname, v);
  const config::DkimSign* sign = rt_->config->find_dkim_sign(header_from_domain(message));
  if (!sign || (v.sign_domain_valid && !sign->resign)) return top;
  auto key = rt_->dkim_sign_keys.find(sign->domain);
  if (key == rt_->dkim_sign_keys.end()) return top;
  DkimOptions o;
  o.domain = sign->domain;
  o.selector = sign->selector;
  o.headers = sign->headers;
  std::string error;
  // The signature covers the message as it leaves: our fields on top of the original bytes.
  auto sig = dkim_signature(top + message, *key->second, o, &error);
  if (!sig) {
    log_event("warning", {{"session", sid_}, {"id", queue_id_}, {"what", "DKIM signing failed"}, {"error", error}});
    return top;
  }
  return *sig + top;
}

void SmtpServerSession::store_message(const MessageVerdict& v) {
  Envelope env;
  env.id = queue_id_;
  env.sender = mail_.address;
  env.arrival_us = now_us();
  env.eight_bit = mail_.body == BodyType::EightBitMime;
  env.smtputf8 = mail_.smtputf8;
  env.require_tls = mail_.requiretls;
  env.ret = static_cast<uint8_t>(mail_.ret);
  env.envid = mail_.envid;
  env.client_ip = peer_.str();
  env.helo = helo_;
  env.tls_in = tls_;
  for (size_t i = 0; i < rcpts_.size(); ++i) {
    Recipient r;
    r.address = rcpts_[i].address;
    r.notify = rcpts_[i].notify;
    r.orcpt = rcpts_[i].orcpt;
    r.route = rcpt_routes_[i];
    r.next_attempt = env.arrival_us / 1000000;
    env.recipients.push_back(std::move(r));
  }
  message_id_ = header_value(data_->body(), "Message-ID");
  if (message_id_.size() > 998) message_id_.resize(998);  // folded over many lines: a log line is no place for it
  if (v.checked_dkim) {
    dkim_summary_ = v.summary();
    int removed = 0;
    // The one change to the original bytes: an Authentication-Results claiming to be ours is forged.
    std::string stripped = strip_own_auth_results(data_->body(), rt_->config->hostname, &removed);
    if (removed) data_->body() = std::move(stripped);
  }
  std::string body = top_headers(v, data_->body());
  body += data_->body();
  env.size = body.size();
  queued_size_ = env.size;
  check_.reset();
  data_.reset();
  state_ = State::Storing;
  server_.store().put_message_async(std::move(env), std::move(body),
                                    [this](StoreStatus s) { stored(s); });
}

void SmtpServerSession::stored(StoreStatus status) {
  bool closing = closing_after_store_;
  state_ = State::Command;
  if (status == StoreStatus::Ok) {
    const std::string tls = tls_.version.empty() ? "none" : tls_.version;
    if (dkim_summary_.empty()) {
      log_event("accepted", {{"session", sid_}, {"id", queue_id_}, {"from", "<" + mail_.address + ">"},
                             {"size", queued_size_}, {"nrcpt", rcpts_.size()}, {"msgid", message_id_},
                             {"client", peer_.str()}, {"tls", tls}});
    } else {  // relay_policy.require_dkim: the signature results go in the same line
      log_event("accepted", {{"session", sid_}, {"id", queue_id_}, {"from", "<" + mail_.address + ">"},
                             {"size", queued_size_}, {"nrcpt", rcpts_.size()}, {"msgid", message_id_},
                             {"client", peer_.str()}, {"tls", tls}, {"dkim", dkim_summary_}});
    }
    observe_accepted();
    if (!closing) reply(250, "2.0.0", "Ok: queued as " + queue_id_);
    server_.message_queued(queue_id_);
  } else {
    log_event("reject", {{"session", sid_}, {"id", queue_id_}, {"client", peer_.str()},
                         {"from", "<" + mail_.address + ">"}, {"reason", store_status_name(status)}});
    if (status == StoreStatus::Full) {
      if (!closing) reply(452, "4.3.1", "Insufficient system storage: queue is full, try again later");
    } else if (!closing) {
      reply(451, "4.3.0", "Error: queue write failed, try again later");
    }
  }
  reset_transaction();
  if (closing) return close("connection closed by peer");
  process();
}

// The console's history and metrics (observer.h): the message as it was queued.
void SmtpServerSession::observe_accepted() const {
  HistoryEvent e;
  e.time_us = now_us();
  e.kind = HistoryKind::Accepted;
  e.id = queue_id_;
  e.message_id = message_id_;
  e.sender = mail_.address;
  for (const auto& r : rcpts_) e.recipients.push_back(r.address);
  e.size = queued_size_;
  e.client = peer_.str();
  e.tls_in = tls_.version;
  observer().event(e);
}

std::string SmtpServerSession::received_header() const {
  // RFC 6531 3.7.3 (UTF8SMTP, UTF8SMTPS) and RFC 3848 (ESMTP, ESMTPS) "with" protocol names.
  std::string proto = !esmtp_ ? "SMTP" : mail_.smtputf8 ? "UTF8SMTP" : "ESMTP";
  if (esmtp_ && !tls_.version.empty()) proto += "S";
  std::string h = "Received: from " + helo_ + " ([" + peer_.str() + "])\r\n\tby " +
                  rt_->config->hostname + " (smarthost) with " + proto + " id " + queue_id_;
  if (!tls_.version.empty()) {
    h += "\r\n\t(version=" + tls_.version + " cipher=" + tls_.cipher + " bits=" + std::to_string(tls_.bits) +
         "/" + std::to_string(tls_.bits) + ")";
  }
  // "for" only with one recipient: listing several would leak Bcc addresses.
  if (rcpts_.size() == 1) h += "\r\n\tfor <" + rcpts_[0].address + ">";
  h += "; " + rfc5322_date(time(nullptr)) + "\r\n";
  return h;
}

void SmtpServerSession::cmd_starttls(const Command& c) {
  if (!rt_->server_tls) return reply(502, "5.5.1", "Error: STARTTLS not available");
  if (conn_->tls_active()) return reply(503, "5.5.1", "Error: TLS already active");
  if (!c.arg.empty()) return reply(501, "5.5.4", "Syntax: STARTTLS");
  std::string error;
  certs::SslPtr ssl = certs::new_session(rt_->server_tls.get(), "", &error);
  if (!ssl) return reply(454, "4.7.0", "TLS not available due to temporary reason");
  reply(220, "2.0.0", "Ready to start TLS");
  // Anything the client sent behind STARTTLS was sent in plaintext and
  // could be injected by an attacker: it must not count as a command.
  conn_->discard_input();
  reset_transaction();
  helo_.clear();
  esmtp_ = false;
  state_ = State::Tls;
  conn_->start_tls(std::move(ssl), true);
}

}  // namespace relay
