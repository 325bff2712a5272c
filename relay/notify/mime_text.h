// mime_text.h - small text helpers for the messages the relay writes itself
// (DSNs, reports): RFC 5322 dates, header folding, word wrap, quoted-printable.
// Reading a message's header fields lives in relay/message/message_header.h.
//
// Pure functions over strings; they cannot fail. Their one promise is the
// RFC 5322 line limit: no line they return is longer than 998 octets, even
// when the input holds one long word (it is then split, see fold_field()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "relay/message/message_header.h"  // header_fields, header_value: read messages

namespace relay {

// "Tue, 14 Nov 2023 22:13:20 +0000" for unix seconds, in UTC.
std::string rfc5322_date(int64_t unix_seconds);

// "Name: value\r\n", folded at spaces before column 78 where it can be
// (RFC 5322 2.2.3). A word too long for one line is split at 900 octets with
// a fold, which adds one space when the field is unfolded: the price of the
// line limit. CR, LF and other controls in value become spaces, so a value
// can never start a new field.
std::string fold_field(const std::string& name, const std::string& value);

// Words of text re-flowed into lines of at most width columns, each line
// starting with indent, joined with CRLF (a trailing CRLF after the last).
// A word longer than the line keeps a line of its own, split at 900 octets
// (on a UTF-8 character boundary) when it is longer than that.
std::string wrap_text(const std::string& text, size_t width, const std::string& indent);

bool is_ascii(const std::string& s);

// Quoted-printable (RFC 2045 6.7) of CRLF text: CRLF stays a line break,
// lines are soft-broken before 76 columns.
std::string qp_encode(const std::string& text);

}  // namespace relay
