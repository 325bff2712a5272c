// smtp_server_session.h - one inbound ESMTP session (RFC 5321).
//
// Reads command lines from its Conn, answers each with a reply that carries an
// enhanced status code, reads DATA through DataReader, and hands the finished
// message to the queue; the 250 goes out only when the queue reports the
// commit durable. Pipelined commands wait in the input buffer while a commit
// is outstanding, so replies stay in order. Errors in client input are SMTP
// replies; an unexpected exception closes this session only (smtp_server.cc).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/cidr.h"
#include "router/base/conn.h"
#include "relay/smtpd/data_reader.h"
#include "relay/queue/queue_record.h"
#include "relay/queue/queue_store.h"
#include "relay/smtpd/smtp_command.h"
#include "relay/core/smtp_runtime.h"
#include "relay/tenant/message_check.h"

namespace relay {

class SmtpServer;
struct TenantRefusal;

class SmtpServerSession : public base::Conn::Handler {
 public:
  SmtpServerSession(SmtpServer& server, std::shared_ptr<const Runtime> rt, evutil_socket_t fd,
                    config::IpAddr peer, uint64_t serial);
  ~SmtpServerSession() override;

  void start();
  const config::IpAddr& peer() const { return peer_; }
  uint64_t serial() const { return serial_; }
  const std::string& sid() const { return sid_; }  // "s12-k3x9q2", as log lines name it
  // Server shutdown: log the session as cut off (event=cut-off), say 421 and close.
  void shutdown(const char* why);

 private:
  enum class State { Command, Data, Checking, Storing, Tls, Closed };
  static const char* state_name(State s);

  void on_conn_read() override;
  void on_conn_tls_ready(bool ok, const std::string& error) override;
  void on_conn_closed(const std::string& why) override;
  void on_conn_timeout() override;

  void process();
  bool read_line(std::string* line);
  bool command_too_slow();
  static void on_data_deadline(evutil_socket_t, short, void* self);
  void check_data_deadline();
  void dispatch(const std::string& line);
  void reply(int code, const char* status, const std::string& text);
  void close(const std::string& why);
  void reset_transaction();
  bool tls_required_and_missing();

  void log_tenant_refusal(const TenantRefusal& r, const std::string& sender);
  void cmd_helo(const Command& c, bool extended);
  void cmd_mail(const Command& c);
  void cmd_rcpt(const Command& c);
  void cmd_data(const Command& c);
  void cmd_starttls(const Command& c);
  // 500 5.5.2 for a line that is no command; 421 and close after too many.
  void command_error(const char* text);
  void read_data();
  void finish_data();
  // The DKIM part of relay_policy (and whether a dkim_sign signature is there already) is known:
  // refuse, or store.
  void checked(MessageVerdict v);
  void store_message(const MessageVerdict& v);
  // Our headers on top of the message: [DKIM-Signature,] Received, [Authentication-Results].
  std::string top_headers(const MessageVerdict& v, const std::string& message);
  void stored(StoreStatus status);
  std::string received_header() const;
  void observe_accepted() const;

  SmtpServer& server_;
  std::shared_ptr<const Runtime> rt_;
  config::IpAddr peer_;
  uint64_t serial_;
  std::string sid_;  // for log lines
  State state_ = State::Command;
  std::unique_ptr<base::Conn> conn_;

  std::string helo_;
  bool esmtp_ = false;
  bool tls_required_ = false;
  TlsInfo tls_;
  bool skip_to_eol_ = false;  // after an over-long command line
  int64_t line_deadline_us_ = 0;  // a started command line must be complete by then (0: none)
  int64_t data_deadline_us_ = 0;  // DATA must end by then; each octet received moves it on
  base::EventPtr data_timer_;     // fires at data_deadline_us_ (re-armed when it has moved)
  int errors_ = 0;
  bool closing_after_store_ = false;

  // Current transaction.
  bool have_mail_ = false;
  MailFrom mail_;
  std::vector<RcptTo> rcpts_;
  std::vector<std::string> rcpt_routes_;
  std::string queue_id_;
  std::string message_id_;  // the message's Message-ID header, for the accepted line
  size_t queued_size_ = 0;  // octets stored (our Received: included)
  std::string dkim_summary_;  // relay_policy.require_dkim results, for the log
  std::unique_ptr<DataReader> data_;
  std::unique_ptr<MessageCheck> check_;  // after data_: it reads data_'s body, so it goes first
  bool check_starting_ = false;          // inside MessageCheck::start (its verdict may come at once)
};

}  // namespace relay
