// data_reader.h - incremental reader for the SMTP DATA phase.
//
// Bytes arrive in arbitrary chunks (TCP and TLS records do not follow lines).
// The reader removes dot-stuffing, stops exactly after CRLF "." CRLF (so that
// pipelined commands after it stay in the input), and flags what must refuse
// the message: a bare LF or bare CR anywhere (SMTP smuggling), a NUL octet
// (RFC 5321 4.1.1.4; the one smuggling variant left), a line over 1000 octets,
// or a message over max_size octets. The size is counted as RFC 1870 does: the
// message with its CRLF line ends, without the dot-stuffing and without the
// final ".CRLF", so a message of exactly the advertised SIZE passes. After an
// error it keeps scanning for the real end of DATA, so the session stays in
// step with the client.
#pragma once

#include <cstddef>
#include <string>

namespace relay {

class DataReader {
 public:
  enum class Error { None, BareLf, BareCr, LineTooLong, TooBig, Nul };

  explicit DataReader(size_t max_size, size_t max_line = 1000)
      : max_size_(max_size), max_line_(max_line) {}

  // Consumes from [data, data+n) up to and including the end-of-data line;
  // returns how many bytes it took. done() tells whether the end was seen.
  size_t feed(const char* data, size_t n);

  bool done() const { return state_ == State::Done; }
  Error error() const { return error_; }
  // Octets received so far as sent (dot-stuffing included), for the log.
  size_t received() const { return received_; }
  // The message's size so far as RFC 1870 counts it, which the limit applies to.
  size_t size() const { return size_; }
  // The message, CRLF line ends kept, dots un-stuffed. Empty after TooBig.
  std::string& body() { return body_; }

 private:
  enum class State { LineStart, Mid, Cr, Dot, DotCr, Done };

  void text(char c);
  void keep(const char* p, size_t n);
  void run_checks(const char* p, size_t run);
  void reread_in_text(size_t* i);
  void fail(Error e) {
    if (error_ == Error::None) error_ = e;
  }

  size_t max_size_;
  size_t max_line_;
  State state_ = State::LineStart;
  Error error_ = Error::None;
  size_t line_len_ = 0;
  size_t received_ = 0;
  size_t size_ = 0;
  std::string body_;
};

const char* data_error_name(DataReader::Error e);

}  // namespace relay
