// smtp_client_session.h - one outbound SMTP connection delivering jobs.
//
// Walks the candidate hosts of a destination (each address of each host, in
// order) until one takes the first job, applying the route's TLS policy:
//   none          never STARTTLS;
//   opportunistic STARTTLS when offered, verdict logged but not enforced; a
//                 failed handshake is retried once in plaintext on that host;
//   required      STARTTLS, handshake and the route's certificate checks must
//                 all pass before MAIL FROM, else the host is skipped.
// Every failure goes through fail(), the one funnel that decides between the
// next host, deferring and bouncing (a required-TLS failure on every host that
// answered bounces at once: one attempt, never retried); what it settles is a
// typed router::Outcome (kind, TLS problem, the session's TLS facts even when
// a check failed after the handshake), logged by relay/delivery/delivery_log.
// After a message the connection is reused for the destination's next job;
// then QUIT.
//
// Internationalised and 8-bit mail (SPEC R-INTL): before MAIL, the recipients
// this hop cannot take bounce (refuse_unsendable): 5.6.7 when the message
// needs SMTPUTF8 (a UTF-8 address, or UTF-8 headers) and the hop does not offer
// it, 5.6.3 for 8-bit content without 8BITMIME. Nothing is downgraded or
// converted, and no 8-bit octet goes to a hop that did not offer 8BITMIME.
// A REQUIRETLS message (RFC 8689) comes from a destination whose route demands verified TLS
// (router/tls_demand.h); a hop that does not offer REQUIRETLS after STARTTLS is a TLS failure of
// that host (next host; when none is left, the single-attempt bounce with 5.7.30), and MAIL
// carries REQUIRETLS on.
//
// The conversation is a state machine: ClientState, one table with each
// state's name and timeout, and every transition through enter(), which arms
// the state's timer and logs "A -> B" at debug level.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "router/base/conn.h"
#include "relay/delivery/delivery_job.h"
#include "relay/delivery/smtp_reply.h"
#include "relay/core/smtp_runtime.h"
#include "router/candidate_hosts.h"
#include "router/mta_sts_enforce.h"

namespace relay {

class SmtpClientSession;

// The client conversation's states, in the order of kClientStates (smtp_client_session.cc).
enum class ClientState : uint8_t { Connect, Banner, Ehlo, Helo, StartTls, Handshake, EhloTls, Mail, Rcpt, Data, Body, Rset, Quit, Done, Idle };
constexpr size_t kClientStateCount = static_cast<size_t>(ClientState::Idle) + 1;

// Which limit bounds the wait in a state.
enum class ClientTimeout : uint8_t {
  None,       // no connection to wait on
  Connect,    // limits.connect_timeout
  Reply,      // limits.reply_timeout
  EndOfData,  // twice limits.reply_timeout: the server may scan the message first
  Idle,       // kClientIdleSeconds: a cached connection waiting for the next job
};

// How long a connection with nothing to do waits for the next job (Postfix's
// smtp_connection_cache_time_limit is 2s too).
constexpr uint64_t kClientIdleSeconds = 2;

const char* client_state_name(ClientState s);  // "EHLO", "end of data", ...: for "while waiting for X reply"
ClientTimeout client_state_timeout(ClientState s);
// Seconds for a timeout kind under these limits (0: none).
uint64_t client_timeout_seconds(ClientTimeout t, const config::Limits& limits);

// One TLS outcome on a host under an MTA-STS policy, for TLS-RPT (RFC 8460).
struct TlsReportEvent {
  bool ok = false;
  std::string result_type;  // failures: "certificate-expired", "starttls-not-supported", ...
  std::string host;         // receiving MX host name
  std::string ip;           // receiving address
  std::string detail;       // the error in words: failure-reason-code
  std::string sending_ip;   // our address on the connection: sending-mta-ip
  // A DANE host (secure TLSA, or a bogus/failed answer): counted under policy-type "tlsa" with
  // these records as policy-string (RFC 8460 4.1), not under the domain's MTA-STS policy.
  bool dane = false;
  std::vector<std::string> tlsa;
};

// The destination that feeds a session jobs and takes back the results.
class JobSource {
 public:
  virtual ~JobSource() = default;
  virtual std::unique_ptr<DeliveryJob> next_job() = 0;
  virtual void job_done(std::unique_ptr<DeliveryJob> job) = 0;
  // Called once, last; the source may delete the session from a later turn.
  virtual void session_done(SmtpClientSession* s) = 0;
  // No job right now: true when the source keeps the connection open a
  // little (a connection cache) and will call wake() when work arrives.
  virtual bool park(SmtpClientSession*) { return false; }
  // True when the session was opened under a configuration since replaced
  // (a reload): it finishes its job but takes no other, so the next one
  // goes over a connection opened under the new route and TLS policy.
  virtual bool stale(const SmtpClientSession*) const { return false; }
  // The session is about to report a settled job: true when the source takes it back instead
  // (to try it again on another session; then nothing is logged as its outcome).
  virtual bool take_back(std::unique_ptr<DeliveryJob>&) { return false; }
};

class SmtpClientSession : public base::Conn::Handler {
 public:
  SmtpClientSession(event_base* base, std::shared_ptr<const Runtime> rt, const config::Route& route,
                    router::Candidates hosts, std::unique_ptr<DeliveryJob> first, JobSource& source);
  ~SmtpClientSession() override;
  void start();
  // Whether a required-TLS failure bounces at once (the route's own
  // tls = "required") or defers (TLS required only by an MTA-STS policy).
  void set_single_attempt(bool on) { single_attempt_ = on; }
  // The MTA-STS plan this session's route and hosts came from (kept alive
  // here: route_ may refer into it), and where TLS-RPT events go (null: the
  // sessions are not counted). Under a policy in enforce or testing mode a
  // session counts as the policy's checks say; without one (the domain only
  // publishes _smtp._tls) a completed TLS handshake is a success, a missing
  // STARTTLS or a failed handshake a failure.
  void set_sts(std::shared_ptr<const router::StsEnforcement> sts,
               std::function<void(const TlsReportEvent&)> report) {
    sts_ = std::move(sts);
    report_ = std::move(report);
  }
  // Called with the host and the new state's name at every transition, and
  // with "failed: REASON" when an attempt fails (the route tester prints them
  // on a terminal as they happen); null: nothing.
  void set_step_observer(std::function<void(const std::string& where, const std::string& step)> f) {
    on_step_ = std::move(f);
  }
  // A parked session takes the source's next job; false when it no longer
  // can (idle time over, connection gone).
  bool wake();
  // A parked session whose configuration was replaced says QUIT instead of
  // waiting for a job; any other state is left alone.
  void retire();
  // The job in hand is for message `id` (a delivery, not a probe).
  bool carries(const std::string& id) const { return job_ && !job_->probe && job_->id == id; }
  // The admin deleted, held or bounced the message of the job in hand: the connection is cut
  // (output thrown away, no QUIT) so that the next hop never sees the end of the data, the
  // session ends, and the job comes back with its results untouched and unlogged (the log says
  // event=delivery-stopped). nullptr when it is too late: the whole message, final dot included,
  // has left our buffers; its reply then settles the job as usual. *relay: "host[ip]:port".
  std::unique_ptr<DeliveryJob> withdraw(std::string* relay);

 private:
  using State = ClientState;
  // What a failure means for the job: try the next address, or settle it.
  enum class Next { NextHost, Defer, Bounce };
  struct Expect {
    State state;
    size_t rcpt;  // for Rcpt replies: index into job_->rcpts
  };

  void on_conn_read() override;
  void on_conn_tls_ready(bool ok, const std::string& error) override;
  void on_conn_closed(const std::string& why) override;
  void on_conn_timeout() override;
  bool reconnect_if_reused(const std::string& why);
  void on_conn_connected() override;

  void connect_next();
  void enter(State s);
  void send(const std::string& line, State expect, size_t rcpt = 0);
  void on_reply(const SmtpReply& r);
  void on_ehlo(const SmtpReply& r);
  void after_ehlo();
  void begin_transaction();
  const char* smtputf8_need(const Recipient& r) const;
  bool any_needs_smtputf8() const;
  bool refuse_unsendable();
  std::string no_requiretls_reason() const;
  void on_rcpt(const SmtpReply& r, size_t index);
  void on_data(const SmtpReply& r);
  void on_body(const SmtpReply& r);
  void finish_job();
  router::Outcome problem(router::FailureKind kind, const std::string& status, const std::string& reason,
                          const std::string& reply = "") const;
  router::Outcome remote_refused(const SmtpReply& r, const std::string& reason) const;
  router::Outcome tls_problem(const certs::TlsFailure& f, const std::string& reason) const;
  void fail(Next n, router::Outcome o);
  void tls_fail(router::Outcome o);
  void settle_unfinished();
  void drop_connection();
  void abort_connection();
  void probe_done();
  std::optional<certs::TlsFailure> route_checks(const certs::TlsFacts& f) const;
  std::optional<certs::TlsFailure> dane_check(const certs::TlsFacts& f);
  void refuse_host();
  static std::string dane_word(const router::DaneHost& d);
  HostTrace host_trace(const router::CandidateHost& h) const;
  void report_tls(bool ok, const std::string& result_type, const std::string& detail);
  HostTrace* trace();
  void finish();
  std::string where() const;
  std::string mail_command() const;
  std::string rcpt_command(const Recipient& r) const;
  void send_body();

  event_base* base_;
  std::shared_ptr<const Runtime> rt_;
  const config::Route& route_;
  router::Candidates cand_;
  std::unique_ptr<DeliveryJob> job_;
  JobSource& source_;
  std::string sid_;

  size_t host_ = 0;
  size_t addr_ = 0;
  bool plain_retry_ = false;     // opportunistic: this host failed TLS, retry in clear
  bool tls_failed_somewhere_ = false;  // a required-TLS check failed on some host
  bool skip_host_ = false;             // this host failed TLS: its other addresses too
  bool delivered_any_ = false;   // this connection completed at least one job
  bool woken_ = false;           // reused from Idle, no reply on it since (reconnect_if_reused)
  std::unique_ptr<base::Conn> conn_;
  State state_ = State::Connect;
  std::deque<Expect> expect_;
  std::string ehlo_name_;
  bool pipelining_ = false, starttls_ = false, dsn_ = false, eightbit_ = false, size_ext_ = false;
  bool smtputf8_ = false;  // RFC 6531, offered by this hop
  bool requiretls_ = false;  // RFC 8689, offered by this hop (only ever over TLS)
  size_t rcpt_accepted_ = 0;
  router::Outcome last_;      // the last failure (NextHost included)
  router::Outcome tls_fail_;  // the last required-TLS failure, for the bounce
  TlsInfo tls_;
  bool finished_ = false;
  bool single_attempt_;
  router::HostTlsLevel level_;     // the current host's TLS level (DANE decides it per host)
  bool dane_temp_failed_ = false;  // a host was skipped for a bogus/failed DNS answer: defer
  std::shared_ptr<const router::StsEnforcement> sts_;
  std::function<void(const TlsReportEvent&)> report_;
  std::function<void(const std::string&, const std::string&)> on_step_;
  std::chrono::steady_clock::time_point connect_started_;
};

}  // namespace relay
