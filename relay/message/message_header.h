// message_header.h - reading the header section of a message (RFC 5322 2.2): its fields, one
// field's name and value. Used wherever the relay looks into message bytes: DKIM, the tenant
// binding's From: check, the Message-ID the log names.
//
// Pure functions over strings with CRLF line ends; they cannot fail (a message without an empty
// line is all header).
#pragma once

#include <string>
#include <vector>

namespace relay {

// The header section of a message: everything up to and including the CRLF
// that ends the last header line, without the empty line. The whole message
// when it has no empty line.
std::string header_section(const std::string& message);

// The header fields of a message, each with its CRLF and continuation lines;
// *body_start is where the body begins (after the empty line).
std::vector<std::string> header_fields(const std::string& message, size_t* body_start);
// A field's name in lower case ("message-id" for "Message-ID: <x>").
std::string field_name(const std::string& field);
// The value of the first field called `name` (any case), unfolded, without
// the leading and trailing white space; "" when the message has none.
std::string header_value(const std::string& message, const std::string& name);

// The addr-spec of a From:-like value ("Name <a@b.example>", "a@b.example (c)"): the last
// <...> when there is one, else the text without comments; "" when it holds no '@'.
std::string mailbox_address(const std::string& value);

}  // namespace relay
