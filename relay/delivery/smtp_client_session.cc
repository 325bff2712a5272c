// smtp_client_session.cc - outbound SMTP state machine (see the header).
#include "relay/delivery/smtp_client_session.h"

#include <chrono>
#include <cstring>

#include "relay/core/log.h"
#include "relay/delivery/delivery_log.h"
#include "router/base/event_handles.h"
#include "router/base/sockaddr.h"
#include "relay/queue/envelope_params.h"
#include "router/base/utf8_text.h"

namespace relay {

namespace {

struct StateInfo {
  ClientState state;
  const char* name;  // for the transition log and "while waiting for X reply"
  ClientTimeout timeout;
};

constexpr StateInfo kClientStates[] = {
    {ClientState::Connect, "connect", ClientTimeout::Connect},
    {ClientState::Banner, "banner", ClientTimeout::Reply},
    {ClientState::Ehlo, "EHLO", ClientTimeout::Reply},
    {ClientState::Helo, "HELO", ClientTimeout::Reply},
    {ClientState::StartTls, "STARTTLS", ClientTimeout::Reply},
    {ClientState::Handshake, "TLS handshake", ClientTimeout::Reply},
    {ClientState::EhloTls, "EHLO", ClientTimeout::Reply},
    {ClientState::Mail, "MAIL FROM", ClientTimeout::Reply},
    {ClientState::Rcpt, "RCPT TO", ClientTimeout::Reply},
    {ClientState::Data, "DATA", ClientTimeout::Reply},
    {ClientState::Body, "end of data", ClientTimeout::EndOfData},
    {ClientState::Rset, "RSET", ClientTimeout::Reply},
    {ClientState::Quit, "QUIT", ClientTimeout::Reply},
    {ClientState::Done, "done", ClientTimeout::None},
    {ClientState::Idle, "idle", ClientTimeout::Idle},
};
static_assert(sizeof kClientStates / sizeof kClientStates[0] == kClientStateCount, "one row per state");

constexpr bool rows_in_order() {
  for (size_t i = 0; i < kClientStateCount; ++i) {
    if (static_cast<size_t>(kClientStates[i].state) != i) return false;
  }
  return true;
}
static_assert(rows_in_order(), "kClientStates is indexed by state");

const StateInfo& info(ClientState s) { return kClientStates[static_cast<size_t>(s)]; }

// The same RFC 3463 status with class 4: a failure that defers instead of
// bouncing ("5.7.5" -> "4.7.5").
std::string as_temporary(const std::string& status) { return status.empty() ? "4.0.0" : "4" + status.substr(1); }

// A reply's own enhanced status, else the generic one of its class.
std::string reply_status(const SmtpReply& r) {
  if (!r.status.empty()) return r.status;
  return r.temporary() ? "4.0.0" : "5.0.0";
}

uint64_t g_serial = 0;

}  // namespace

const char* client_state_name(ClientState s) { return info(s).name; }

ClientTimeout client_state_timeout(ClientState s) { return info(s).timeout; }

uint64_t client_timeout_seconds(ClientTimeout t, const config::Limits& limits) {
  switch (t) {
    case ClientTimeout::None: return 0;
    case ClientTimeout::Connect: return limits.connect_timeout;
    case ClientTimeout::Reply: return limits.reply_timeout;
    case ClientTimeout::EndOfData: return limits.reply_timeout * 2;
    case ClientTimeout::Idle: return kClientIdleSeconds;
  }
  return 0;
}

SmtpClientSession::SmtpClientSession(event_base* base, std::shared_ptr<const Runtime> rt,
                                     const config::Route& route, router::Candidates hosts,
                                     std::unique_ptr<DeliveryJob> first, JobSource& source)
    : base_(base),
      rt_(std::move(rt)),
      route_(route),
      cand_(std::move(hosts)),
      job_(std::move(first)),
      source_(source),
      sid_(log_session_id('c', ++g_serial)),
      single_attempt_(route.tls == config::TlsMode::Required || router::dane_single_attempt(route)) {
  last_.status = "4.4.1";
  last_.kind = router::FailureKind::Connect;
}

SmtpClientSession::~SmtpClientSession() = default;

void SmtpClientSession::start() { connect_next(); }

HostTrace* SmtpClientSession::trace() {
  if (!job_ || !job_->trace || job_->trace->empty()) return nullptr;
  return &job_->trace->back();
}

std::string SmtpClientSession::where() const {
  if (host_ >= cand_.hosts.size()) return "";
  const auto& h = cand_.hosts[host_];
  std::string ip = addr_ < h.addresses.size() ? h.addresses[addr_] : "";
  return h.name + "[" + ip + "]:" + std::to_string(h.port);
}

// Opens a connection to the current address, or moves on to the next one.
void SmtpClientSession::connect_next() {
  drop_connection();
  expect_.clear();
  while (host_ < cand_.hosts.size()) {
    const auto& h = cand_.hosts[host_];
    level_ = router::dane_host_level(route_, h.dane);
    if (level_.refuse && addr_ < h.addresses.size()) return refuse_host();
    if (addr_ < h.addresses.size()) {
      base::SockAddr sa;
      if (base::to_sockaddr(h.addresses[addr_], h.port, &sa)) {
        pipelining_ = starttls_ = dsn_ = eightbit_ = size_ext_ = smtputf8_ = requiretls_ = false;
        tls_ = TlsInfo{};
        tls_.dane = dane_word(h.dane);
        conn_ = std::make_unique<base::Conn>(base_, sa.get(), static_cast<int>(sa.len), this);
        enter(State::Connect);
        if (job_ && job_->trace) {
          HostTrace t = host_trace(h);
          t.plaintext_retry = plain_retry_;
          job_->trace->push_back(t);
          connect_started_ = std::chrono::steady_clock::now();
        }
        return;
      }
      ++addr_;
      continue;
    }
    ++host_;
    addr_ = 0;
    plain_retry_ = false;
  }
  // Every host tried for this job.
  if (job_ && job_->probe && job_->probe_ok) {
    router::Outcome sent;  // which host, over what TLS: the traces say
    sent.disposition = router::Disposition::Sent;
    sent.status = "2.0.0";
    job_->settle(sent);
    finish_job();
  } else if (job_) {
    router::Outcome o;
    if (tls_failed_somewhere_) {
      // R-DELIVER: a route that requires TLS gets one attempt over its hosts
      // (bounce); MTA-STS raised this route to required TLS: RFC 8461 5.1 defers.
      o = tls_fail_;
      // A host skipped for a bogus or failed DNS answer (DANE) makes it a deferral.
      const bool bounce = single_attempt_ && !dane_temp_failed_;
      o.disposition = bounce ? router::Disposition::Bounce : router::Disposition::Defer;
      if (!bounce) o.status = as_temporary(o.status);
    } else {
      // No one host decided this: Remote-MTA names none.
      o = last_;
      o.disposition = router::Disposition::Defer;
      o.remote_host.clear();
      if (o.reason.empty()) o.reason = "no host could be reached";
    }
    job_->settle(o);
    finish_job();
  }
  finish();
}

void SmtpClientSession::on_conn_connected() {
  if (HostTrace* t = trace()) {
    t->connected = true;
    t->connect_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - connect_started_).count();
  }
  enter(State::Banner);
}

// Every transition: the state, its timer, and a debug line.
void SmtpClientSession::enter(State s) {
  if (log_debug_enabled()) {
    log_debug("client-state", {{"session", sid_}, {"transition", std::string(info(state_).name) + " -> " + info(s).name}});
  }
  state_ = s;
  if (conn_) conn_->set_timeout(client_timeout_seconds(info(s).timeout, rt_->config->limits));
  if (on_step_) on_step_(where(), info(s).name);
}

void SmtpClientSession::send(const std::string& line, State expect, size_t rcpt) {
  expect_.push_back({expect, rcpt});
  conn_->write(line + "\r\n");
}

void SmtpClientSession::on_conn_read() {
  evbuffer* in = conn_->input();
  while (conn_ && evbuffer_get_length(in) > 0) {
    size_t len = evbuffer_get_length(in);
    const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(len)));
    size_t used = 0;
    SmtpReply r;
    ReplyParse p = parse_reply(data, len, &used, &r);
    if (p == ReplyParse::NeedMore) return;
    if (p == ReplyParse::Malformed) {
      fail(Next::NextHost, problem(router::FailureKind::Protocol, "4.4.2",
                                   "malformed reply from " + where() + " while waiting for " +
                                       client_state_name(state_) + " reply"));
      return;
    }
    evbuffer_drain(in, used);
    on_reply(r);
    if (conn_) in = conn_->input();
  }
}

void SmtpClientSession::on_reply(const SmtpReply& r) {
  State s = state_;
  size_t rcpt = 0;
  if (!expect_.empty()) {
    s = expect_.front().state;
    rcpt = expect_.front().rcpt;
    expect_.pop_front();
  } else if (state_ == State::Idle) {
    drop_connection();  // e.g. a 421 at the server's own idle timeout
    return finish();
  } else if (state_ != State::Banner) {
    return fail(Next::NextHost,
                problem(router::FailureKind::Protocol, "4.4.2", "unexpected reply from " + where() + ": " + r.text()));
  }
  // A 421 as the first answer on a reused connection is the server's idle timeout crossing
  // our command; any other answer shows the connection works, and later failures are real.
  if (woken_ && r.code == 421 && reconnect_if_reused(r.text())) return;
  woken_ = false;
  switch (s) {
    case State::Banner:
      if (HostTrace* t = trace()) t->banner = r.text();
      if (!r.positive()) {
        return fail(Next::NextHost, problem(router::FailureKind::RemoteReply, r.temporary() ? "4.4.0" : "5.0.0",
                                            "host " + where() + " refused to talk to us: " + r.text(), r.text()));
      }
      ehlo_name_ = rt_->config->hostname;
      enter(State::Ehlo);
      return send("EHLO " + ehlo_name_, State::Ehlo);
    case State::Ehlo:
    case State::EhloTls:
      return on_ehlo(r);
    case State::Helo:
      if (!r.positive()) {
        return fail(Next::NextHost, problem(router::FailureKind::RemoteReply, "4.4.0",
                                            "host " + where() + " refused HELO: " + r.text(), r.text()));
      }
      return after_ehlo();
    case State::StartTls: {
      if (r.code != 220) {
        if (level_.tls == config::TlsMode::Required) {
          auto f = certs::tls_failure(certs::TlsProblem::NotOffered, r.text());
          report_tls(false, "starttls-not-supported", "STARTTLS refused: " + r.text());
          return tls_fail(tls_problem(f, "TLS unavailable: " + where() + " refused STARTTLS: " + r.text()));
        }
        plain_retry_ = true;  // go on in plaintext on this very connection
        return begin_transaction();
      }
      std::string err;
      std::string host = host_ < cand_.hosts.size() ? cand_.hosts[host_].name : "";
      // RFC 7672 8.1: with DANE the SNI name is the TLSA base domain (the secure CNAME
      // expansion when the records were found there); the certificate is checked against it.
      if (level_.dane_verify && !cand_.hosts[host_].dane.base_domain.empty()) host = cand_.hosts[host_].dane.base_domain;
      certs::SslPtr ssl = certs::new_session(rt_->client_ctx(route_.name), host, &err);
      if (!ssl) return fail(Next::Defer, problem(router::FailureKind::Local, "4.7.0", "cannot start TLS: " + err));
      enter(State::Handshake);
      conn_->start_tls(std::move(ssl), false);
      return;
    }
    case State::Mail:
      if (!r.positive()) {
        // The whole transaction failed; the pipelined RCPT/DATA replies follow.
        job_->settle(remote_refused(r, "host " + where() + " refused the sender: " + r.text()));
      }
      if (!pipelining_ && r.positive()) {
        for (size_t i = 0; i < job_->rcpts.size(); ++i) {
          if (job_->results[i].disposition == router::Disposition::Pending) {
            return send(rcpt_command(job_->rcpts[i]), State::Rcpt, i);
          }
        }
      }
      if (!pipelining_) {
        enter(State::Rset);
        return send("RSET", State::Rset);
      }
      return;
    case State::Rcpt:
      return on_rcpt(r, rcpt);
    case State::Data:
      return on_data(r);
    case State::Body:
      return on_body(r);
    case State::Rset:
      if (!r.positive()) return fail(Next::Defer, problem(router::FailureKind::Protocol, "4.0.0", "RSET refused by " + where()));
      finish_job();
      return begin_transaction();
    case State::Quit:
      drop_connection();
      return finish();
    case State::Connect:
    case State::Handshake:
    case State::Done:
    case State::Idle:
      return;
  }
}

void SmtpClientSession::on_ehlo(const SmtpReply& r) {
  if (!r.positive()) {
    if (state_ == State::Ehlo) {
      enter(State::Helo);
      return send("HELO " + ehlo_name_, State::Helo);
    }
    return fail(Next::NextHost, problem(router::FailureKind::Protocol, "4.4.0",
                                        "host " + where() + " refused EHLO after STARTTLS: " + r.text()));
  }
  HostTrace* t = trace();
  if (t && state_ == State::Ehlo) t->ehlo.assign(r.lines.begin() + 1, r.lines.end());
  for (size_t i = 1; i < r.lines.size(); ++i) {
    std::string kw = r.lines[i].substr(0, r.lines[i].find(' '));
    for (auto& c : kw) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    if (kw == "PIPELINING") pipelining_ = true;
    else if (kw == "STARTTLS") starttls_ = true;
    else if (kw == "DSN") dsn_ = true;
    else if (kw == "8BITMIME") eightbit_ = true;
    else if (kw == "SIZE") size_ext_ = true;
    else if (kw == "SMTPUTF8") smtputf8_ = true;
    else if (kw == "REQUIRETLS") requiretls_ = true;
  }
  if (t && state_ == State::Ehlo) t->starttls_offered = starttls_;
  if (t) {
    t->smtputf8_offered = smtputf8_;
    t->eightbitmime_offered = eightbit_;
    t->requiretls_offered = requiretls_;
  }
  after_ehlo();
}

void SmtpClientSession::after_ehlo() {
  bool in_tls = conn_->tls_active();
  if (!in_tls && level_.tls != config::TlsMode::None && !plain_retry_) {
    if (!starttls_) report_tls(false, "starttls-not-supported", "STARTTLS not offered");
    if (starttls_) {
      if (HostTrace* t = trace()) t->tls_attempted = true;
      enter(State::StartTls);
      return send("STARTTLS", State::StartTls);
    }
    if (level_.tls == config::TlsMode::Required) {
      auto f = certs::tls_failure(certs::TlsProblem::NotOffered);
      return tls_fail(tls_problem(f, "TLS unavailable: the receiving server " + where() + " did not offer STARTTLS"));
    }
  }
  if (in_tls && job_ && job_->require_tls && !requiretls_) {
    // RFC 8689 4.2.1: QUIT, and the next MX host may offer it; when none does, the message
    // bounces (the destination's single attempt).
    enter(State::Quit);
    send("QUIT", State::Quit);
    return tls_fail(problem(router::FailureKind::NoRequireTls, "5.7.30", no_requiretls_reason()));
  }
  begin_transaction();
}

void SmtpClientSession::on_conn_tls_ready(bool ok, const std::string& error) {
  if (!ok) {
    WOLFSSL* ssl = conn_->tls();
    certs::TlsFailure f = ssl ? certs::describe_handshake_failure(ssl, -1) : certs::tls_failure(certs::TlsProblem::HandshakeFailed, error);
    report_tls(false, router::tlsrpt_result_type(f.problem), f.reason + ": " + error);
    if (HostTrace* t = trace()) {
      t->handshake_error = f.reason + ": " + error;
      t->handshake_problem = f.problem;
      t->policy_error = f.reason;
      t->advice = f.advice;
    }
    if (level_.tls == config::TlsMode::Required) {
      return tls_fail(tls_problem(f, f.reason + " (TLS handshake with " + where() + " failed: " + error + ")"));
    }
    // Opportunistic: this host gets one more try, in plaintext.
    log_event("tls-fallback", {{"session", sid_}, {"id", job_ ? job_->id : ""}, {"relay", where()}, {"error", error}});
    plain_retry_ = true;
    drop_connection();
    return connect_next();
  }
  certs::TlsFacts f = certs::session_facts(conn_->tls());
  tls_ = certs::session_summary(f, tls_.dane);
  std::optional<certs::TlsFailure> bad = route_checks(f);
  if (level_.dane_verify) bad = dane_check(f);
  if (level_.dane_verify) {
    report_tls(!bad, bad ? router::tlsrpt_result_type(bad->problem) : "", bad ? bad->reason : "");
  } else if (sts_ && (sts_->enforce || sts_->testing)) {
    auto sts_bad = router::check_sts_session(f);
    report_tls(!sts_bad, sts_bad ? router::tlsrpt_result_type(sts_bad->problem) : "",
               sts_bad ? sts_bad->reason : "");
  } else {
    report_tls(true, "", "");  // no policy (no-policy-found): the TLS session is the success
  }
  if (HostTrace* t = trace()) {
    t->handshake_ok = true;
    t->facts = f;
    t->policy_ok = !bad || level_.tls != config::TlsMode::Required;
    if (bad) {
      t->policy_error = bad->reason;
      t->advice = bad->advice;
    }
  }
  if (level_.tls == config::TlsMode::Required) {
    if (bad) {
      // Not one byte of mail goes over a session that fails the route's checks.
      // The outcome keeps this session's TLS facts (tls_): the handshake did complete.
      enter(State::Quit);
      send("QUIT", State::Quit);
      std::string err = bad->reason + " (" + where() + (bad->detail.empty() ? "" : ": " + bad->detail) + ")";
      return tls_fail(tls_problem(*bad, err));
    }
  }
  enter(State::EhloTls);
  send("EHLO " + ehlo_name_, State::EhloTls);
}

// The route's checks on an established session: certificate (check_peer)
// and, where the context could not enforce it (an MTA-STS policy raising an
// opportunistic route to TLS 1.2), the protocol version.
std::optional<certs::TlsFailure> SmtpClientSession::route_checks(const certs::TlsFacts& f) const {
  if (auto bad = certs::check_peer(f, level_.verify_ca, level_.verify_hostname)) return bad;
  if (route_.has_min_tls_version) {
    static const char* names[] = {"TLS1_1", "TLS1_2", "TLS1_3"};
    int want = static_cast<int>(route_.min_tls_version);
    int got = -1;
    for (int i = 0; i < 3; ++i) {
      if (f.version == names[i]) got = i;
    }
    if (got < want) return certs::tls_failure(certs::TlsProblem::VersionTooOld, f.version + " negotiated");
  }
  return std::nullopt;
}

// DANE (RFC 7672 3): the certificate against the host's secure TLSA records, and nothing else
// (no CA store; DANE-TA checks the chain to its anchor and the names). The verdict goes into the
// session's TLS facts (tls_.dane) for the log line and REQUIRETLS.
std::optional<certs::TlsFailure> SmtpClientSession::dane_check(const certs::TlsFacts& f) {
  const router::CandidateHost& h = cand_.hosts[host_];
  const router::DaneHost& d = h.dane;
  // DANE-TA reference identifiers (RFC 7672 3.2.3): the TLSA base domain (the SNI name, which
  // f.hostname_ok was checked against) and the MX host name, or its CNAME expansion.
  bool named = f.hostname_ok;
  for (const std::string* n : {&h.name, &h.expanded_name}) named = named || certs::peer_names_host(conn_->tls(), *n);
  certs::DaneMatchResult m = certs::dane_match(conn_->tls(), d.records, named);
  tls_.dane = router::dane_result_name(m.matched ? router::DaneResult::Verified : router::DaneResult::Failed);
  if (HostTrace* t = trace()) {
    t->dane_matched = m.matched ? certs::dane_record_text(d.records[static_cast<size_t>(m.record)]) : "";
    t->dane_notes = m.notes;
    t->dane_result = tls_.dane;
  }
  if (m.matched) return std::nullopt;
  return certs::tls_failure(certs::TlsProblem::DaneMismatch, m.why);
}

// The dane= word before any session: a host with usable records counts as "failed" until its
// certificate matches (a connection or handshake failure leaves it unverified).
std::string SmtpClientSession::dane_word(const router::DaneHost& d) {
  if (d.state == router::DaneState::Usable) return router::dane_result_name(router::DaneResult::Failed);
  return router::dane_result_name(router::dane_result_of(d.state));
}

// A host's trace line as an attempt on it starts: where, and what test-route shows of its
// DNSSEC and TLSA state (SPEC R-DANE).
HostTrace SmtpClientSession::host_trace(const router::CandidateHost& h) const {
  HostTrace out;
  out.host = h.name;
  out.address = h.addresses[addr_];
  out.port = h.port;
  out.preference = h.preference;
  HostTrace* t = &out;
  const router::DaneHost& d = h.dane;
  if (d.state == router::DaneState::NotApplied) return out;
  t->dane_result = dane_word(d);
  t->dane_state = d.reason;
  for (const auto& r : d.records) t->dane_records.push_back(certs::dane_record_text(r));
  std::string dns;
  if (d.mx_looked_up) dns = std::string("MX ") + router::dns_security_name(d.mx_security) + ", ";
  dns += std::string("A/AAAA ") + router::dns_security_name(d.address_security);
  if (!d.tlsa_name.empty()) dns += std::string(", TLSA ") + router::dns_security_name(d.tlsa_security);
  t->dane_dns = dns;
  t->dane_secure = (!d.mx_looked_up || d.mx_security == router::DnsSecurity::Secure) &&
                   d.address_security == router::DnsSecurity::Secure && !d.tlsa_name.empty() &&
                   d.tlsa_security == router::DnsSecurity::Secure && d.state != router::DaneState::LookupFailed;
  return out;
}

// A DANE route's host that must not be tried (router::dane_host_level): a bogus or failed DNS
// answer (defer, never plaintext) or, for dane-only, no secure usable TLSA records.
void SmtpClientSession::refuse_host() {
  const auto& h = cand_.hosts[host_];
  tls_ = TlsInfo{};
  tls_.dane = dane_word(h.dane);
  if (job_ && job_->trace) {
    HostTrace t = host_trace(h);
    job_->trace->push_back(t);
  }
  certs::TlsFailure f = certs::tls_failure(*level_.refuse, level_.refuse_reason);
  router::Outcome o = tls_problem(f, f.reason + " (" + h.name + ": " + level_.refuse_reason + ")");
  if (level_.refuse_temporary) {
    dane_temp_failed_ = true;
    o.status = as_temporary(o.status);
  }
  report_tls(false, router::tlsrpt_result_type(f.problem), o.reason);
  tls_fail(std::move(o));
}

std::string SmtpClientSession::mail_command() const {
  std::string c = "MAIL FROM:<" + job_->sender + ">";
  if (size_ext_) c += " SIZE=" + std::to_string(job_->size);
  if (eightbit_ && job_->eight_bit) c += " BODY=8BITMIME";
  if (smtputf8_ && (job_->smtputf8 || any_needs_smtputf8())) c += " SMTPUTF8";
  if (job_->require_tls) c += " REQUIRETLS";
  if (dsn_) {
    if (job_->ret == 1) c += " RET=FULL";
    if (job_->ret == 2) c += " RET=HDRS";
    if (!job_->envid.empty()) c += " ENVID=" + xtext_encode(job_->envid);
  }
  return c;
}

std::string SmtpClientSession::rcpt_command(const Recipient& r) const {
  std::string c = "RCPT TO:<" + r.address + ">";
  if (dsn_) {
    if (r.notify) {
      std::string n;
      if (r.notify & NotifyNever) n = "NEVER";
      if (r.notify & NotifySuccess) n += "SUCCESS,";
      if (r.notify & NotifyFailure) n += "FAILURE,";
      if (r.notify & NotifyDelay) n += "DELAY,";
      if (!n.empty() && n.back() == ',') n.pop_back();
      c += " NOTIFY=" + n;
    }
    if (!r.orcpt.empty()) c += " ORCPT=" + orcpt_for_hop(r.orcpt, smtputf8_);
  }
  return c;
}

std::string SmtpClientSession::no_requiretls_reason() const {
  return "not sent: the message requires TLS all the way (REQUIRETLS, RFC 8689) and " + where() +
         " did not offer REQUIRETLS, so it could not promise to keep that requirement";
}

// Why recipient r of the job needs SMTPUTF8 (RFC 6531, RFC 6532); nullptr when it does not.
const char* SmtpClientSession::smtputf8_need(const Recipient& r) const {
  if (base::has_8bit(r.address)) return "the recipient address is internationalised (UTF-8)";
  if (base::has_8bit(job_->sender)) return "the sender address is internationalised (UTF-8)";
  if (job_->utf8_headers) return "the message has UTF-8 in its header section (RFC 6532)";
  return nullptr;
}

bool SmtpClientSession::any_needs_smtputf8() const {
  for (size_t i = 0; i < job_->rcpts.size(); ++i) {
    if (job_->results[i].disposition == router::Disposition::Pending && smtputf8_need(job_->rcpts[i])) return true;
  }
  return false;
}

// What this hop cannot be given (SPEC R-INTL): the recipients that need SMTPUTF8 when it is not
// offered (5.6.7, no downgrade), every recipient of 8-bit content when 8BITMIME is not offered
// (5.6.3: no conversion, it would break DKIM signatures). They bounce now, with no transaction
// for them; the others still go. False when no recipient is left to send.
bool SmtpClientSession::refuse_unsendable() {
  for (size_t i = 0; i < job_->rcpts.size(); ++i) {
    router::Outcome& res = job_->results[i];
    if (res.disposition != router::Disposition::Pending) continue;
    const char* need = smtputf8_need(job_->rcpts[i]);
    if (job_->eight_bit && !eightbit_) {
      res = problem(router::FailureKind::No8BitMime, "5.6.3",
                    "not sent: the message has 8-bit content and " + where() + " did not offer 8BITMIME (RFC 6152); "
                    "converting it to 7 bits would break its DKIM signatures, so it was not converted");
    } else if (job_->require_tls && (!requiretls_ || !conn_->tls_active())) {
      // Only a REQUIRETLS destination (verified TLS, hop checked in after_ehlo) carries these.
      res = problem(router::FailureKind::NoRequireTls, "5.7.30", no_requiretls_reason());
    } else if (need && !smtputf8_) {
      res = problem(router::FailureKind::NoSmtpUtf8, "5.6.7",
                    "not sent: " + std::string(need) + " and " + where() + " did not offer SMTPUTF8, so it "
                    "cannot take internationalised mail (RFC 6531: no downgrade)");
    } else {
      continue;
    }
    res.disposition = router::Disposition::Bounce;
  }
  return !job_->all_done();
}

void SmtpClientSession::begin_transaction() {
  if (job_ && job_->probe) return probe_done();
  for (;;) {
    if (!job_ && !source_.stale(this)) job_ = source_.next_job();
    if (!job_ || refuse_unsendable()) break;
    finish_job();  // nothing of it may go to this hop; the next job may
  }
  if (!job_) {
    if (conn_ && !source_.stale(this) && source_.park(this)) {
      // Connected and idle: the next job reuses this session (no new
      // connect, EHLO or TLS handshake) unless it comes too late.
      return enter(State::Idle);
    }
    enter(State::Quit);
    return send("QUIT", State::Quit);
  }
  rcpt_accepted_ = 0;
  enter(State::Mail);
  if (!pipelining_) return send(mail_command(), State::Mail);
  // RFC 2920: MAIL, every RCPT and DATA in one write.
  send(mail_command(), State::Mail);
  for (size_t i = 0; i < job_->rcpts.size(); ++i) {
    if (job_->results[i].disposition == router::Disposition::Pending) send(rcpt_command(job_->rcpts[i]), State::Rcpt, i);
  }
  send("DATA", State::Data);
}

void SmtpClientSession::on_rcpt(const SmtpReply& r, size_t i) {
  auto& res = job_->results[i];
  if (res.disposition == router::Disposition::Pending) {
    if (r.positive()) {
      ++rcpt_accepted_;
    } else {
      res = remote_refused(r, "host " + where() + " said: " + r.text());
    }
  }
  if (pipelining_) return;
  for (size_t k = i + 1; k < job_->rcpts.size(); ++k) {
    if (job_->results[k].disposition == router::Disposition::Pending) return send(rcpt_command(job_->rcpts[k]), State::Rcpt, k);
  }
  if (rcpt_accepted_ == 0) {
    enter(State::Rset);
    return send("RSET", State::Rset);
  }
  enter(State::Data);
  send("DATA", State::Data);
}

void SmtpClientSession::on_data(const SmtpReply& r) {
  if (r.code == 354 && rcpt_accepted_ > 0) {
    enter(State::Body);
    send_body();
    expect_.push_back({State::Body, 0});
    return;
  }
  if (r.code == 354) {
    // Pipelined DATA got through although every RCPT failed: send an empty
    // message terminator is wrong; RFC 2920 says end the data with "." anyway.
    conn_->write(".\r\n");
    expect_.push_back({State::Rset, 0});
    enter(State::Rset);
    return;
  }
  if (rcpt_accepted_ > 0) job_->settle(remote_refused(r, "host " + where() + " refused DATA: " + r.text()));
  enter(State::Rset);
  send("RSET", State::Rset);
}

void SmtpClientSession::send_body() {
  // The stored message has CRLF lines; only dot-stuffing is added here, and
  // only a message with a line that starts with "." is copied for it.
  const std::string& b = *job_->body;
  const std::string end = b.empty() || b.back() == '\n' ? ".\r\n" : "\r\n.\r\n";
  if (b.empty() || (b[0] != '.' && b.find("\n.") == std::string::npos)) {
    if (!b.empty()) conn_->write(b);
    conn_->write(end);
    return;
  }
  std::string out;
  out.reserve(b.size() + b.size() / 64 + 8);
  if (b[0] == '.') out += '.';
  size_t from = 0;
  for (size_t at = b.find("\n."); at != std::string::npos; at = b.find("\n.", at + 1)) {
    out.append(b, from, at + 1 - from);
    out += '.';
    from = at + 1;
  }
  out.append(b, from, std::string::npos);
  out += end;
  conn_->write(out);
}

void SmtpClientSession::on_body(const SmtpReply& r) {
  if (r.positive()) {
    router::Outcome sent = problem(router::FailureKind::None, "2.0.0", "delivered", r.text());
    sent.disposition = router::Disposition::Sent;
    job_->settle(sent);
  } else {
    job_->settle(remote_refused(r, "host " + where() + " refused the message: " + r.text()));
  }
  delivered_any_ = true;
  finish_job();
  begin_transaction();
}

void SmtpClientSession::finish_job() {
  if (!job_) return;
  settle_unfinished();
  if (source_.take_back(job_)) return;
  for (size_t i = 0; i < job_->results.size(); ++i) {
    log_delivery(sid_, job_->id, job_->rcpts[i].address, route_.name, job_->results[i]);
  }
  source_.job_done(std::move(job_));
}

// Recipients no reply settled (the session ended under them) defer with the
// last failure's status and words.
void SmtpClientSession::settle_unfinished() {
  if (job_->all_done()) return;
  router::Outcome o = problem(last_.kind, last_.status, last_.reason.empty() ? "delivery interrupted" : last_.reason);
  o.disposition = router::Disposition::Defer;
  o.tls_problem = last_.tls_problem;
  o.remote_host.clear();  // no host answered for these recipients
  job_->settle(o);
}

// A failure of this session, typed: who (relay, host), over what TLS.
router::Outcome SmtpClientSession::problem(router::FailureKind kind, const std::string& status,
                                           const std::string& reason, const std::string& reply) const {
  router::Outcome o;
  o.status = status;
  o.kind = kind;
  o.reason = reason;
  o.remote_host = host_ < cand_.hosts.size() ? cand_.hosts[host_].name : "";
  o.relay = where();
  o.remote_reply = reply;
  o.tls = tls_;
  return o;
}

// The server answered a transaction command with 4xx/5xx: its reply decides.
router::Outcome SmtpClientSession::remote_refused(const SmtpReply& r, const std::string& reason) const {
  router::Outcome o = problem(router::FailureKind::RemoteReply, reply_status(r), reason, r.text());
  o.disposition = r.temporary() ? router::Disposition::Defer : router::Disposition::Bounce;
  return o;
}

router::Outcome SmtpClientSession::tls_problem(const certs::TlsFailure& f, const std::string& reason) const {
  router::Outcome o = problem(router::FailureKind::Tls, f.status, reason);
  o.tls_problem = f.problem;
  o.advice = f.advice;
  return o;
}

// The failure funnel: what failed, and what it means for the job.
void SmtpClientSession::fail(Next n, router::Outcome o) {
  last_ = o;
  if (HostTrace* t = trace()) {
    t->error = o.reason;
    t->status = o.status;
    if (t->advice.empty()) t->advice = o.advice;
  }
  log_event("delivery-problem", {{"session", sid_}, {"id", job_ ? job_->id : ""}, {"relay", where()},
                                 {"state", client_state_name(state_)}, {"error", o.reason}});
  if (on_step_) on_step_(where(), "failed: " + o.reason);
  drop_connection();
  if (n == Next::NextHost && !delivered_any_) {
    ++addr_;
    if (skip_host_) {
      // Another address of the same host would show the same certificate.
      skip_host_ = false;
      ++host_;
      addr_ = 0;
    }
    return connect_next();
  }
  if (job_) {
    o.disposition = n == Next::Bounce ? router::Disposition::Bounce : router::Disposition::Defer;
    job_->settle(o);
    finish_job();
  }
  finish();
}

// Route tester: this host would take the mail; say goodbye and look at the
// next one, so the report covers every candidate.
void SmtpClientSession::probe_done() {
  job_->probe_ok = true;
  if (HostTrace* t = trace()) t->policy_ok = true;
  conn_->write("QUIT\r\n");
  drop_connection();
  ++host_;
  addr_ = 0;
  plain_retry_ = false;
  connect_next();
}

void SmtpClientSession::report_tls(bool ok, const std::string& result_type, const std::string& detail) {
  if (!report_ || !sts_) return;  // the destination decides which sessions count
  if (job_ && job_->no_tlsrpt) return;  // never report on a report's own delivery
  TlsReportEvent e;
  e.ok = ok;
  e.result_type = result_type;
  e.detail = detail;
  if (conn_) e.sending_ip = conn_->local_address();
  if (host_ < cand_.hosts.size()) {
    const auto& h = cand_.hosts[host_];
    e.host = h.name;
    if (addr_ < h.addresses.size()) e.ip = h.addresses[addr_];
    using router::DaneState;
    const DaneState s = h.dane.state;
    e.dane = s == DaneState::Usable || s == DaneState::Unusable || s == DaneState::Bogus ||
             s == DaneState::LookupFailed || (level_.refuse && *level_.refuse == certs::TlsProblem::DaneRequired);
    for (const auto& r : h.dane.records) e.tlsa.push_back(certs::dane_record_text(r));
  }
  report_(e);
}

// A required-TLS check failed on this host: remembered for the bounce, then
// the next host is tried within the same single attempt.
void SmtpClientSession::tls_fail(router::Outcome o) {
  tls_failed_somewhere_ = true;
  skip_host_ = true;
  tls_fail_ = o;
  fail(Next::NextHost, std::move(o));
}

bool SmtpClientSession::wake() {
  if (state_ != State::Idle || !conn_ || finished_) return false;
  woken_ = true;
  begin_transaction();
  return true;
}

// A parked connection woken for a new job failed before the server answered anything on it:
// our idle timer, due in the loop turn that woke it, or the server dropping the idle
// connection just as we reused it. Reusing it was our choice, no fault of the destination:
// the job goes out at once on a fresh connection to the same address, never deferred.
bool SmtpClientSession::reconnect_if_reused(const std::string& why) {
  if (!woken_ || !job_) return false;
  woken_ = false;
  log_event("connection-reuse-failed", {{"session", sid_}, {"id", job_->id}, {"relay", where()},
                                        {"state", client_state_name(state_)}, {"error", why},
                                        {"what", "retrying at once on a new connection"}});
  delivered_any_ = false;  // the new connection has carried nothing yet
  connect_next();
  return true;
}

void SmtpClientSession::retire() {
  if (state_ != State::Idle || !conn_ || finished_) return;
  enter(State::Quit);
  send("QUIT", State::Quit);
}

std::unique_ptr<DeliveryJob> SmtpClientSession::withdraw(std::string* relay) {
  *relay = where();
  if (!job_ || finished_) return nullptr;
  if (state_ == State::Body && conn_ && conn_->output_pending() == 0) return nullptr;
  log_event("delivery-stopped", {{"session", sid_}, {"id", job_->id}, {"relay", where()},
                                 {"state", client_state_name(state_)}});
  auto job = std::move(job_);
  abort_connection();
  finish();
  return job;
}

void SmtpClientSession::on_conn_closed(const std::string& why) {
  std::string s = client_state_name(state_);
  if (state_ == State::Quit || state_ == State::Idle) {
    drop_connection();
    return finish();
  }
  if (reconnect_if_reused(why)) return;
  if (state_ == State::Connect) {
    return fail(Next::NextHost, problem(router::FailureKind::Connect, "4.4.1", "connect to " + where() + " failed: " + why));
  }
  fail(delivered_any_ ? Next::Defer : Next::NextHost,
       problem(router::FailureKind::Connect, "4.4.2",
               "lost connection with " + where() + " while waiting for " + s + " reply: " + why));
}

void SmtpClientSession::on_conn_timeout() {
  std::string s = client_state_name(state_);
  if (state_ == State::Idle) return retire();
  if (reconnect_if_reused("timeout")) return;
  bool connecting = state_ == State::Connect;
  // A server that accepts and never greets: say so, with the wait (issue 14 item 11).
  std::string text = connecting ? "connect to " + where() + " timed out"
                     : state_ == State::Banner
                         ? "no banner within " + std::to_string(client_timeout_seconds(ClientTimeout::Reply,
                                                                                       rt_->config->limits)) +
                               " s from " + where()
                         : "timeout at " + where() + " while waiting for " + s + " reply";
  fail(delivered_any_ ? Next::Defer : Next::NextHost,
       problem(router::FailureKind::Connect, connecting ? "4.4.1" : "4.4.2", text));
}

void SmtpClientSession::drop_connection() {
  if (conn_) conn_->close_after_flush();
  // Freed on a later turn: we may be inside one of its callbacks.
  base::delete_later(base_, std::move(conn_));
}

// No goodbye: whatever we had not yet sent (the rest of a message) is thrown away, and the socket
// closes as soon as the Conn goes; a server that sees the connection end inside DATA discards
// the message (RFC 5321 section 4.1.1.4: only the final dot commits it).
void SmtpClientSession::abort_connection() {
  if (conn_) {
    conn_->close_after_flush();  // no more callbacks
    conn_->discard_output();     // ...and nothing of ours goes out, close_notify included
  }
  base::delete_later(base_, std::move(conn_));
}

void SmtpClientSession::finish() {
  if (finished_) return;
  finished_ = true;
  drop_connection();
  enter(State::Done);
  if (job_) finish_job();
  source_.session_done(this);
}

}  // namespace relay
