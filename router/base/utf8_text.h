// utf8_text.h - UTF-8 checked strictly, and shown safely.
//
// check_utf8() is the one strict validator (RFC 3629): it refuses overlong forms, UTF-16
// surrogates (U+D800..U+DFFF), code points above U+10FFFF, stray continuation bytes and cut-off
// sequences, and on request C0/C1 control characters and DEL. The SMTP server uses it on
// internationalised addresses (RFC 6531 section 3.3: a mailbox is UTF-8, never raw 8-bit).
//
// printable_utf8() makes text from a peer or a client safe for one log line, a terminal or a
// report: valid printable UTF-8 stays as it is (so "jörg@bücher.example" stays readable), while
// control characters (C0, DEL, C1), line and paragraph separators and bidirectional overrides
// become "\u{XXXX}"-style escapes and bytes that are not UTF-8 become "\xNN". A backslash is
// doubled, so an escape in the output always means an escape was made.
//
// Pure functions; they cannot fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace base {

enum class Utf8Error : uint8_t {
  None,
  Truncated,     // a sequence cut off by the end of the text or by a non-continuation byte
  BadByte,       // a stray continuation byte, or a byte never used in UTF-8 (C0, C1, F5..FF)
  Overlong,      // a longer encoding than the code point needs ("/" as C0 AF)
  Surrogate,     // U+D800..U+DFFF (CESU-8, WTF-8)
  TooLarge,      // above U+10FFFF
  Control,       // C0 control, DEL or C1 control (only when controls are refused)
};

struct Utf8Check {
  Utf8Error error = Utf8Error::None;
  size_t offset = 0;  // of the first bad sequence
  bool ok() const { return error == Utf8Error::None; }
};

// Strict RFC 3629 validation; `refuse_controls` also refuses U+0000..U+001F, U+007F..U+009F.
Utf8Check check_utf8(std::string_view text, bool refuse_controls);
const char* utf8_error_text(Utf8Error e);  // "overlong encoding", ...

// Decodes one code point at text[at]; returns its length in bytes, 0 when the bytes there are
// not a valid sequence (then *error says why).
size_t decode_utf8(std::string_view text, size_t at, uint32_t* cp, Utf8Error* error);

bool has_8bit(std::string_view text);

// The code points printable_utf8() escapes although they are valid: controls (C0, DEL, C1), line
// and paragraph separators, bidirectional marks, embeddings, overrides and isolates, the BOM.
bool shown_escaped(uint32_t cp);

// The text, safe to print (see the header block).
std::string printable_utf8(std::string_view text);

}  // namespace base
