// tlsrpt_report.cc - RFC 8460 report JSON, gzip and the report message (see the header).
#include "relay/notify/tlsrpt_report.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "relay/core/json_dump.h"
#include "router/base/utc_time.h"
#include "relay/notify/mime_text.h"
#include "router/mta_sts_enforce.h"

namespace relay {
namespace {

struct DeflateEnd {
  void operator()(z_stream* z) const { deflateEnd(z); }
};
struct InflateEnd {
  void operator()(z_stream* z) const { inflateEnd(z); }
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  for (size_t pos = 0;;) {
    size_t next = s.find(sep, pos);
    out.push_back(trim(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos)));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

using Json = nlohmann::ordered_json;

void add_opt(Json* obj, const char* name, const std::string& value) {
  if (!value.empty()) (*obj)[name] = value;
}

// "scheme:..." with an RFC 3986 scheme and no white space.
bool is_uri(const std::string& s) {
  size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (size_t i = 0; i < colon; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (!std::isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return s.find_first_of(" \t\r\n") == std::string::npos;
}

Json detail_json(const FailureDetail& d) {
  Json out = {{"result-type", d.result_type}};
  add_opt(&out, "sending-mta-ip", d.sending_mta_ip);
  add_opt(&out, "receiving-mx-hostname", d.receiving_mx_hostname);
  add_opt(&out, "receiving-mx-helo", d.receiving_mx_helo);
  add_opt(&out, "receiving-ip", d.receiving_ip);
  out["failed-session-count"] = d.count;
  // additional-information is a URI (RFC 8460 4.4). Counts stored by older versions kept their
  // words there: such text is reported as the failure-reason-code it is.
  if (is_uri(d.additional_information)) add_opt(&out, "additional-information", d.additional_information);
  bool legacy_words = d.failure_reason_code.empty() && !is_uri(d.additional_information);
  add_opt(&out, "failure-reason-code", legacy_words ? d.additional_information : d.failure_reason_code);
  return out;
}

Json policy_json(const std::string& domain, const TlsrptEntry& e) {
  Json policy = {{"policy-type", e.policy.type}};
  if (!e.policy.strings.empty()) policy["policy-string"] = e.policy.strings;
  policy["policy-domain"] = domain;
  if (!e.policy.mx_hosts.empty()) policy["mx-host"] = e.policy.mx_hosts;
  Json out = {{"policy", std::move(policy)},
              {"summary", {{"total-successful-session-count", e.success}, {"total-failure-session-count", e.failure}}}};
  if (!e.details.empty()) {
    Json details = Json::array();
    for (const auto& d : e.details) details.push_back(detail_json(d));
    out["failure-details"] = std::move(details);
  }
  return out;
}

std::string token(const std::string& seed) {
  std::string out;
  for (unsigned char c : seed) out += std::isalnum(c) ? static_cast<char>(c) : '-';
  if (!out.empty()) return out.substr(0, 40);
  std::random_device rd;
  char buf[17];
  snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

}  // namespace

std::string tlsrpt_report_id(const std::string& day, const std::string& domain, const std::string& submitter) {
  return day + "T000000Z." + domain + "@" + submitter;
}

nlohmann::ordered_json tlsrpt_report_doc(const ReportMeta& meta, const std::string& domain,
                                         const std::vector<TlsrptEntry>& entries) {
  Json policies = Json::array();
  for (const auto& e : entries) {
    if (e.domain == domain) policies.push_back(policy_json(domain, e));
  }
  return {{"organization-name", meta.organization},
          {"date-range", {{"start-datetime", base::rfc3339(meta.start)}, {"end-datetime", base::rfc3339(meta.end)}}},
          {"contact-info", meta.contact},
          {"report-id", meta.report_id},
          {"policies", std::move(policies)}};
}

std::string tlsrpt_report_json(const ReportMeta& meta, const std::string& domain,
                               const std::vector<TlsrptEntry>& entries) {
  return json_dump(tlsrpt_report_doc(meta, domain, entries)) + "\n";
}

std::optional<std::string> gzip_compress(const std::string& data, std::string* error) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    *error = "zlib deflateInit2 failed";
    return std::nullopt;
  }
  std::unique_ptr<z_stream, DeflateEnd> guard(&z);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
    *error = "zlib deflate failed";
    return std::nullopt;
  }
  out.resize(z.total_out);
  return out;
}

std::optional<std::string> gzip_decompress(const std::string& data, std::string* error, size_t max_size) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) {
    *error = "zlib inflateInit2 failed";
    return std::nullopt;
  }
  std::unique_ptr<z_stream, InflateEnd> guard(&z);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > max_size) {
      *error = "gzip data expands beyond " + std::to_string(max_size) + " bytes";
      return std::nullopt;
    }
    if (rc == Z_STREAM_END) return out;
    if (rc != Z_OK) {
      *error = std::string("corrupt gzip data: ") + (z.msg ? z.msg : "zlib error " + std::to_string(rc));
      return std::nullopt;
    }
    if (z.avail_in == 0 && z.avail_out != 0) {
      *error = "gzip data truncated";
      return std::nullopt;
    }
  }
}

std::vector<std::string> parse_tlsrpt_txt(const std::vector<std::string>& txt, std::string* error) {
  std::vector<std::string> records;
  for (const auto& t : txt) {
    auto f = split(t, ';');
    if (f[0] == "v=TLSRPTv1") records.push_back(t);
  }
  if (records.size() != 1) {
    *error = records.empty() ? "no v=TLSRPTv1 TXT record" : "more than one v=TLSRPTv1 TXT record";
    return {};
  }
  std::vector<std::string> rua;
  auto fields = split(records[0], ';');
  for (size_t i = 1; i < fields.size(); ++i) {
    if (fields[i].compare(0, 4, "rua=") != 0) continue;  // extensions are ignored
    if (!rua.empty()) {
      *error = "rua given twice";
      return {};
    }
    for (const auto& uri : split(fields[i].substr(4), ',')) {
      bool mailto = uri.compare(0, 7, "mailto:") == 0 && uri.find('@') != std::string::npos;
      bool https = uri.compare(0, 8, "https://") == 0 && uri.size() > 8;
      if (!mailto && !https) {
        *error = "rua '" + uri + "' is neither mailto: nor https:";
        return {};
      }
      rua.push_back(uri);
    }
  }
  if (rua.empty()) *error = "no rua in '" + records[0] + "'";
  return rua;
}

std::string tlsrpt_filename(const std::string& submitter, const std::string& domain, int64_t start, int64_t end) {
  return submitter + "!" + domain + "!" + std::to_string(start) + "!" + std::to_string(end) + ".json.gz";
}

std::string build_report_mail(const ReportMail& m) {
  const std::string t = token(m.seed);
  const std::string boundary = "=_smarthost_tlsrpt_" + t;  // base64 and the text never contain "=_"
  const std::string file = tlsrpt_filename(m.meta.submitter, m.domain, m.meta.start, m.meta.end);
  std::string out;
  out += fold_field("From", "<" + m.from + ">");
  out += fold_field("To", "<" + m.to + ">");
  out += fold_field("Subject", "Report Domain: " + m.domain + " Submitter: " + m.meta.submitter +
                                   " Report-ID: <" + m.meta.report_id + ">");
  out += fold_field("Date", rfc5322_date(m.now));
  out += fold_field("Message-ID", "<tlsrpt." + t + "." + std::to_string(m.now) + "@" + m.meta.submitter + ">");
  out += fold_field("TLS-Report-Domain", m.domain);
  out += fold_field("TLS-Report-Submitter", m.meta.submitter);
  // RFC 8689: the report goes out even when the rua domain's own TLS policy fails (RFC 8460 5.3.1).
  out += "TLS-Required: No\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += fold_field("Content-Type", "multipart/report; report-type=\"tlsrpt\"; boundary=\"" + boundary + "\"");
  out += "\r\nThis is a MIME-encapsulated message.\r\n";
  out += "\r\n--" + boundary + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  out += wrap_text("This is an aggregate TLS report (RFC 8460) from " + m.meta.submitter + " about mail to " +
                       m.domain + " between " + base::rfc3339(m.meta.start) + " and " + base::rfc3339(m.meta.end) +
                       ". The report is the attached gzip'ed JSON file.",
                   76, "");
  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Type: application/tlsrpt+gzip; name=\"" + file + "\"\r\n";
  out += "Content-Transfer-Encoding: base64\r\n";
  out += "Content-Disposition: attachment; filename=\"" + file + "\"\r\n\r\n";
  const std::string b64 = base64_encode(m.json_gz);
  for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

FailureDetail session_failure_detail(const std::string& result_type, const std::string& sending_ip,
                                     const std::string& mx, const std::string& ip, const std::string& words) {
  FailureDetail d;
  d.result_type = result_type;
  d.sending_mta_ip = sending_ip;
  d.receiving_mx_hostname = mx;
  d.receiving_ip = ip;
  d.failure_reason_code = words;
  return d;
}

FailureDetail mx_mismatch_detail(const std::vector<std::string>& excluded) {
  std::string names;
  for (const auto& x : excluded) names += (names.empty() ? "" : ", ") + x;
  return session_failure_detail(router::kTlsrptMxMismatch, "", excluded.empty() ? "" : excluded[0], "",
                                "MX host(s) " + names + " not named by the MTA-STS policy");
}

int64_t queue_lifetime(bool tls_report, int64_t max_lifetime) {
  return tls_report ? std::min<int64_t>(kTlsrptLifetime, max_lifetime) : max_lifetime;
}

TlsrptPolicy tlsrpt_policy(const router::PolicyResult& r) {
  TlsrptPolicy p;
  if (!r.policy) return p;  // "no-policy-found"
  p.type = "sts";
  p.id = r.id;
  std::string text = router::format_sts_policy(*r.policy);
  for (size_t pos = 0; pos < text.size();) {
    size_t lf = text.find('\n', pos);
    p.strings.push_back(text.substr(pos, lf - pos));
    pos = lf + 1;
  }
  p.mx_hosts = r.policy->mx;
  return p;
}

}  // namespace relay
