// data_reader.cc - DATA phase state machine (see data_reader.h).
#include "relay/smtpd/data_reader.h"

#include <cstring>

namespace relay {

// Message octets (CRLFs included, stuffing dots not): counted against the limit and kept.
void DataReader::keep(const char* p, size_t n) {
  size_ += n;
  if (size_ > max_size_ && error_ != Error::TooBig) {
    error_ = Error::TooBig;  // overrides others: the size reply is the useful one
    body_.clear();
    body_.shrink_to_fit();
  }
  if (error_ != Error::TooBig) body_.append(p, n);
}

void DataReader::text(char c) {
  if (++line_len_ > max_line_ - 2) fail(Error::LineTooLong);
  if (c == '\0') fail(Error::Nul);
  keep(&c, 1);
}

// text()'s checks over a run of ordinary octets, in the order text() would meet them: the first
// error wins, so a NUL before the octet that makes the line too long must be found first.
void DataReader::run_checks(const char* p, size_t run) {
  size_t room = max_line_ - 2 > line_len_ ? max_line_ - 2 - line_len_ : 0;  // octets before too long
  const char* nul = static_cast<const char*>(memchr(p, '\0', run));
  size_t nul_at = nul ? static_cast<size_t>(nul - p) : run;
  if (nul_at < run && nul_at < room) fail(Error::Nul);
  if (run > room) fail(Error::LineTooLong);
  if (nul_at < run) fail(Error::Nul);
  line_len_ += run;
}

// The octet just taken is ordinary text after all: read it again in state Mid.
void DataReader::reread_in_text(size_t* i) {
  state_ = State::Mid;
  --*i;
  --received_;
}

size_t DataReader::feed(const char* data, size_t n) {
  size_t i = 0;
  while (i < n && state_ != State::Done) {
    if (state_ == State::Mid) {
      // Fast path: the run of ordinary octets up to the next CR or LF is
      // taken at once (same checks as text() octet by octet, same result).
      const char* p = data + i;
      const char* end = data + n;
      const char* cr = static_cast<const char*>(memchr(p, '\r', n - i));
      const char* stop = cr ? cr : end;
      const char* lf = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(stop - p)));
      if (lf) stop = lf;
      size_t run = static_cast<size_t>(stop - p);
      if (run > 0) {
        received_ += run;
        run_checks(p, run);
        keep(p, run);
        i += run;
        continue;
      }
    }
    char c = data[i++];
    ++received_;
    switch (state_) {
      case State::LineStart:
        line_len_ = 0;
        if (c == '.') {
          state_ = State::Dot;
          ++line_len_;
          break;
        }
        state_ = State::Mid;
        [[fallthrough]];
      case State::Mid:
        if (c == '\r') {
          state_ = State::Cr;
        } else if (c == '\n') {
          // Not a line start: only CRLF "." CRLF may end DATA.
          fail(Error::BareLf);
          line_len_ = 0;
        } else {
          text(c);
        }
        break;
      case State::Cr:
        if (c == '\n') {
          keep("\r\n", 2);
          state_ = State::LineStart;
        } else {
          fail(Error::BareCr);
          reread_in_text(&i);
        }
        break;
      case State::Dot:
        if (c == '\r') {
          state_ = State::DotCr;
        } else {
          // RFC 5321 4.5.2: a leading dot is removed.
          reread_in_text(&i);
        }
        break;
      case State::DotCr:
        if (c == '\n') {
          state_ = State::Done;
        } else {
          fail(Error::BareCr);
          reread_in_text(&i);
        }
        break;
      case State::Done:
        break;
    }
  }
  return i;
}

const char* data_error_name(DataReader::Error e) {
  switch (e) {
    case DataReader::Error::None: return "none";
    case DataReader::Error::BareLf: return "bare LF";
    case DataReader::Error::BareCr: return "bare CR";
    case DataReader::Error::LineTooLong: return "line too long";
    case DataReader::Error::TooBig: return "message too big";
    case DataReader::Error::Nul: return "NUL octet";
  }
  return "?";
}

}  // namespace relay
