// dkim_canon.h - what DKIM signing and verifying share (RFC 6376): the "simple" and "relaxed"
// canonical forms of header fields and body (3.4), tag lists (3.2), the choice of the header
// fields a signature covers (5.4.2), the signature field with its b= value taken out (3.7), and
// SHA-256 (wolfCrypt).
//
// Pure functions over strings with CRLF line ends; nothing here can fail: a malformed tag list
// is a nullopt.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace relay {

enum class DkimCanon { Simple, Relaxed };

// One header field (folded or not, ending in CRLF) in canonical form, with its CRLF.
std::string dkim_canon_header(const std::string& field, DkimCanon c);
// The body in canonical form (simple: an empty body is one CRLF; relaxed: stays empty).
std::string dkim_canon_body(const std::string& body, DkimCanon c);
// The relaxed forms by name (the signer's, and the unit tests').
inline std::string dkim_relaxed_header(const std::string& field) { return dkim_canon_header(field, DkimCanon::Relaxed); }
inline std::string dkim_relaxed_body(const std::string& body) { return dkim_canon_body(body, DkimCanon::Relaxed); }

// "tag=value; tag=value" (3.2): names and values with white space around them removed. nullopt
// when a tag has no '=', an empty or invalid name, or comes twice.
std::optional<std::map<std::string, std::string>> dkim_tag_list(const std::string& value);

// For each name of `names` (lower case) the last field of that name not taken yet, bottom up
// (5.4.2); a name with no field left contributes nothing. Returns the indices into `fields`
// (-1 for a name with no field: it signs the field's absence).
std::vector<long> dkim_select_fields(const std::vector<std::string>& fields, const std::vector<std::string>& names);

// The DKIM-Signature field with the value of its b= tag removed (the rest, white space and
// all, kept), canonicalised and without its final CRLF: the last part of the hash input (3.7).
std::string dkim_signature_hash_input(const std::string& field, DkimCanon c);

std::string sha256_bytes(const std::string& data);  // raw 32-byte digest

}  // namespace relay
