// mta_sts_policy.cc - MTA-STS TXT record and policy parsers, MX matching (see the header).
#include "router/mta_sts/mta_sts_policy.h"

#include <cctype>
#include <map>

namespace router {
namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim_wsp(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// One LDH label: 1-63 letters, digits and hyphens, not starting or ending with a hyphen.
bool valid_label(const std::string& l) {
  if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
  for (char c : l) {
    if (!is_alnum(c) && c != '-') return false;
  }
  return true;
}

size_t count_valid_labels(const std::string& name) {
  if (name.empty() || name.size() > 253) return 0;
  size_t n = 0, start = 0;
  for (;;) {
    size_t dot = name.find('.', start);
    std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!valid_label(label)) return 0;
    ++n;
    if (dot == std::string::npos) return n;
    start = dot + 1;
  }
}

// An mx pattern: a host name, or "*." and a name of at least two labels.
bool valid_mx_pattern(const std::string& p) {
  if (p.compare(0, 2, "*.") == 0) return count_valid_labels(p.substr(2)) >= 2;
  return count_valid_labels(p) >= 1;
}

// Splits on LF; a CR right before the LF belongs to the line end.
std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t lf = text.find('\n', start);
    size_t end = lf == std::string::npos ? text.size() : lf;
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    if (lf == std::string::npos) break;
    start = lf + 1;
  }
  return lines;
}

StsPolicyParse fail(const std::string& why) { return StsPolicyParse{std::nullopt, why}; }

// max_age: 1*10DIGIT, at most kStsMaxAge.
bool parse_max_age(const std::string& v, uint32_t* out) {
  if (v.empty() || v.size() > 10) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > kStsMaxAge) return false;
  *out = static_cast<uint32_t>(n);
  return true;
}

}  // namespace

const char* sts_mode_name(StsMode m) {
  switch (m) {
    case StsMode::Enforce: return "enforce";
    case StsMode::Testing: return "testing";
    case StsMode::None: return "none";
  }
  return "?";
}

std::string normalise_domain(std::string name) {
  if (!name.empty() && name.back() == '.') name.pop_back();
  return lower(std::move(name));
}

StsPolicyParse parse_sts_policy(const std::string& text) {
  if (text.size() > kStsMaxPolicyBytes) return fail("policy larger than 64 KiB");
  std::map<std::string, std::string> single;
  StsPolicy p;
  size_t n = 0;
  for (const std::string& line : split_lines(text)) {
    ++n;
    if (trim_wsp(line).empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return fail("line " + std::to_string(n) + " is not 'key: value'");
    }
    std::string key = line.substr(0, colon);
    std::string value = trim_wsp(line.substr(colon + 1));
    for (char c : key) {
      if (!is_alnum(c) && c != '_' && c != '-' && c != '.') {
        return fail("line " + std::to_string(n) + ": '" + key + "' is not a field name");
      }
    }
    if (key == "mx") {
      std::string pat = normalise_domain(value);
      if (!valid_mx_pattern(pat)) return fail("mx '" + value + "' is not a host name or *.domain pattern");
      p.mx.push_back(pat);
      continue;
    }
    if (key != "version" && key != "mode" && key != "max_age") continue;  // extension: ignored
    if (!single.emplace(key, value).second) return fail(key + " appears more than once");
  }
  auto version = single.find("version");
  if (version == single.end()) return fail("version missing");
  if (version->second != "STSv1") return fail("version '" + version->second + "' is not STSv1");
  auto mode = single.find("mode");
  if (mode == single.end()) return fail("mode missing");
  if (mode->second == "enforce") {
    p.mode = StsMode::Enforce;
  } else if (mode->second == "testing") {
    p.mode = StsMode::Testing;
  } else if (mode->second == "none") {
    p.mode = StsMode::None;
  } else {
    return fail("mode '" + mode->second + "' is not enforce, testing or none");
  }
  auto age = single.find("max_age");
  if (age == single.end()) return fail("max_age missing");
  if (!parse_max_age(age->second, &p.max_age)) {
    return fail("max_age '" + age->second + "' is not a number of seconds from 0 to 31557600");
  }
  if (p.mx.empty() && p.mode != StsMode::None) return fail("no mx pattern (needed in mode " + mode->second + ")");
  return StsPolicyParse{std::move(p), ""};
}

std::string format_sts_policy(const StsPolicy& p) {
  std::string out = "version: STSv1\nmode: ";
  out += sts_mode_name(p.mode);
  out += "\n";
  for (const auto& m : p.mx) out += "mx: " + m + "\n";
  out += "max_age: " + std::to_string(p.max_age) + "\n";
  return out;
}

std::optional<std::string> parse_sts_txt(const std::vector<std::string>& txt, std::string* error) {
  std::vector<std::string> candidates;
  for (const auto& t : txt) {
    // Section 3.1: "v=STSv1" must come first, followed by the field delimiter or the end.
    if (t.compare(0, 7, "v=STSv1") != 0) continue;
    std::string rest = t.substr(7);
    if (!rest.empty() && rest[0] != ';' && rest[0] != ' ' && rest[0] != '\t') continue;
    candidates.push_back(t);
  }
  if (candidates.empty()) {
    *error = "no v=STSv1 TXT record";
    return std::nullopt;
  }
  if (candidates.size() > 1) {
    *error = std::to_string(candidates.size()) + " v=STSv1 TXT records (exactly one allowed)";
    return std::nullopt;
  }
  const std::string& rec = candidates[0];
  std::vector<std::string> fields;
  for (size_t pos = 0;;) {
    size_t semi = rec.find(';', pos);
    fields.push_back(trim_wsp(rec.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos)));
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  if (fields.size() < 2 || fields[0] != "v=STSv1") {
    *error = "'v=STSv1' must be followed by '; id=...'";
    return std::nullopt;
  }
  std::optional<std::string> id;
  for (size_t i = 1; i < fields.size(); ++i) {
    const std::string& field = fields[i];
    if (field.empty()) {
      if (i + 1 == fields.size()) break;  // a trailing ';'
      *error = "empty field in '" + rec + "'";
      return std::nullopt;
    }
    size_t eq = field.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == field.size()) {
      *error = "field '" + field + "' is not name=value";
      return std::nullopt;
    }
    std::string name = field.substr(0, eq), value = field.substr(eq + 1);
    for (char c : value) {
      if (c <= 0x20 || c >= 0x7f || c == '=') {
        *error = "field '" + field + "' has a character not allowed in a value";
        return std::nullopt;
      }
    }
    if (name != "id") continue;  // extension field
    bool ok = !id && !value.empty() && value.size() <= 32;
    for (char c : value) ok = ok && is_alnum(c);
    if (!ok) {
      *error = id ? "id given twice" : "id '" + value + "' is not 1 to 32 letters and digits";
      return std::nullopt;
    }
    id = value;
  }
  if (!id) {
    *error = "no id in '" + rec + "'";
    return std::nullopt;
  }
  return id;
}

bool mx_pattern_matches(const std::string& host_in, const std::string& pattern_in) {
  const std::string host = normalise_domain(host_in);
  const std::string pattern = normalise_domain(pattern_in);
  if (host.empty() || pattern.empty()) return false;
  if (pattern.compare(0, 2, "*.") != 0) return host == pattern;
  const std::string base = pattern.substr(1);  // ".example.com"
  if (host.size() <= base.size()) return false;
  if (host.compare(host.size() - base.size(), base.size(), base) != 0) return false;
  const std::string left = host.substr(0, host.size() - base.size());
  return !left.empty() && left.find('.') == std::string::npos;  // exactly one label
}

bool mx_matches_policy(const std::string& host, const StsPolicy& policy) {
  for (const auto& p : policy.mx) {
    if (mx_pattern_matches(host, p)) return true;
  }
  return false;
}

}  // namespace router
