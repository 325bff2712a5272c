// dsn_builder.cc - builds the non-delivery report for recipients that failed
// permanently: RFC 6522 multipart/report with an RFC 3464 delivery-status.
//
// The human part is written for two readers: the sender, who needs to know
// the message did not arrive, and the mail admin, who needs the host, the
// failure in plain words and what to change (seed 000's TLS troubleshooting
// list, with what relaxing each check costs). Everything the relay writes is
// US-ASCII except the human part, which falls back to quoted-printable when a
// recipient's error text holds UTF-8, so the DSN needs no 8BITMIME unless the
// original message itself is 8-bit.
//
// Internationalised mail (RFC 6533): the report on a message that was sent
// with SMTPUTF8, or has a UTF-8 address or UTF-8 headers, is a
// multipart/report; report-type=global-delivery-status with a
// message/global-delivery-status part (UTF-8 allowed in its fields, "utf-8"
// address type for UTF-8 recipients) and message/global-headers (or
// message/global for RET=FULL) when the original holds UTF-8. Such a report
// needs SMTPUTF8 itself, as the message did. Nothing here fails but the
// nullopt cases documented in dsn_builder.h.
#include "relay/notify/dsn_builder.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <set>

#include "config/config.h"
#include "relay/notify/mime_text.h"
#include "relay/queue/envelope_params.h"
#include "router/base/utf8_text.h"

namespace relay {

namespace {

constexpr size_t kWidth = 76;
constexpr size_t kLabelWidth = 16;  // "  Server reply: " and the hanging indent under it

// RFC 3461 4.1: no NOTIFY means the MTA's default, which includes FAILURE.
bool wants_failure_report(uint32_t notify) {
  if (notify == 0) return true;
  if (notify & NotifyNever) return false;
  return (notify & NotifyFailure) != 0;
}

std::vector<size_t> select_reported(const DsnRequest& req) {
  std::vector<size_t> out;
  const auto& rcpts = req.env->recipients;
  std::vector<bool> seen(rcpts.size(), false);
  for (size_t i : req.failed) {
    if (i >= rcpts.size() || seen[i]) continue;
    seen[i] = true;
    if (wants_failure_report(rcpts[i].notify)) out.push_back(i);
  }
  return out;
}

// RFC 3463 status: class.subject.detail, 1-3 digits each. Anything else would
// make the delivery-status part unparsable, so it becomes the generic 5.0.0.
std::string status_of(const Recipient& r) {
  const std::string& s = r.dsn_status;
  size_t dots = 0, run = 0;
  bool ok = !s.empty() && (s[0] == '2' || s[0] == '4' || s[0] == '5');
  for (char c : s) {
    if (c == '.') {
      ok = ok && run > 0;
      ++dots;
      run = 0;
    } else {
      ok = ok && std::isdigit(static_cast<unsigned char>(c)) && ++run <= 3;
    }
  }
  return ok && dots == 2 && run > 0 ? s : "5.0.0";
}

bool is_tls_status(const std::string& status) { return status == "5.7.4" || status == "5.7.5"; }

// The delivery-status part must be US-ASCII (RFC 3464 2.1.1 without RFC 6533).
std::string ascii_only(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += c < 0x80 ? static_cast<char>(c) : '?';
  return out;
}

// RFC 6533 fields may hold UTF-8, and only valid UTF-8: anything else, and C1 controls, become "?"
// (C0 controls become spaces in fold_field()).
std::string utf8_only(const std::string& s) {
  std::string out;
  for (size_t at = 0; at < s.size();) {
    uint32_t cp = 0;
    base::Utf8Error e;
    size_t n = base::decode_utf8(s, at, &cp, &e);
    if (n == 0 || (cp >= 0x80 && cp <= 0x9f)) {
      out += '?';
      at += n ? n : 1;
      continue;
    }
    out.append(s, at, n);
    at += n;
  }
  return out;
}

bool contains(const std::string& hay, const char* needle) { return hay.find(needle) != std::string::npos; }

// ---- advice ---------------------------------------------------------------

enum class Failure { NoStartTls, HostName, HostNameInCn, UntrustedCa, CertExpired, OldVersion, NoCipher, NoTls13Suite, OtherTls, DaneMismatch, DaneMissing, DaneDns, NullMx, Lifetime, RemoteReject, NoSmtpUtf8, No8BitMime, NoRequireTls, Other };

// Which advice a TLS problem gets; problems without their own advice get
// seed 000's whole list.
Failure tls_failure_of(certs::TlsProblem p) {
  switch (p) {
    case certs::TlsProblem::NotOffered: return Failure::NoStartTls;
    case certs::TlsProblem::HostnameMismatch: return Failure::HostName;
    case certs::TlsProblem::UnknownCa: return Failure::UntrustedCa;
    case certs::TlsProblem::Expired:
    case certs::TlsProblem::NotYetValid: return Failure::CertExpired;
    case certs::TlsProblem::VersionTooOld: return Failure::OldVersion;
    case certs::TlsProblem::NoSharedCipher: return Failure::NoCipher;
    case certs::TlsProblem::BadCertificate:
    case certs::TlsProblem::NoCertificate:
    case certs::TlsProblem::PeerRejectedUs:
    case certs::TlsProblem::ConnectionLost:
    case certs::TlsProblem::HandshakeFailed: return Failure::OtherTls;
    case certs::TlsProblem::HostnameOnlyInCn: return Failure::HostNameInCn;
    case certs::TlsProblem::NoTls13Suite: return Failure::NoTls13Suite;
    case certs::TlsProblem::DaneMismatch: return Failure::DaneMismatch;
    case certs::TlsProblem::DaneRequired: return Failure::DaneMissing;
    case certs::TlsProblem::DnssecBogus:
    case certs::TlsProblem::TlsaLookupFailed: return Failure::DaneDns;
  }
  return Failure::OtherTls;
}

// A record written before failure kinds were stored: its status code says
// as much as can be known without reading its words.
Failure classify_by_status(const Recipient& r) {
  std::string st = status_of(r);
  if (st == "5.7.4") return Failure::NoStartTls;
  if (st == "5.7.5") return Failure::OtherTls;
  if (st == "5.1.10") return Failure::NullMx;
  if (st == "5.4.7") return Failure::Lifetime;
  if (!r.diagnostic.empty()) return Failure::RemoteReject;
  return Failure::Other;
}

// From the typed failure the delivery recorded (router::FailureKind).
Failure classify(const Recipient& r) {
  using K = router::FailureKind;
  switch (r.failure) {
    case K::None: return classify_by_status(r);
    case K::Tls: return tls_failure_of(r.tls_problem);
    case K::NullMx: return Failure::NullMx;
    case K::Expired: return Failure::Lifetime;
    case K::NoSmtpUtf8: return Failure::NoSmtpUtf8;
    case K::No8BitMime: return Failure::No8BitMime;
    case K::NoRequireTls: return Failure::NoRequireTls;
    case K::Connect:
    case K::Protocol:
    case K::RemoteReply:
    case K::DnsTemp:
    case K::NoSuchDomain:
    case K::StsNoHost:
    case K::RouteGone:
    case K::Local:
    case K::Admin: break;
  }
  return r.diagnostic.empty() ? Failure::Other : Failure::RemoteReject;
}

// The required-TLS wording ("not retried", the subject) belongs to TLS
// failures; records without a kind go by their status code.
bool is_tls_failure(const Recipient& r) {
  if (r.failure == router::FailureKind::None) return is_tls_status(status_of(r));
  return r.failure == router::FailureKind::Tls;
}

// The names the advice uses, with fallbacks so that no sentence has a hole.
struct Names {
  std::string host;    // "mx1.partner.example" or "the receiving server"
  std::string domain;  // "partner.example"
  std::string route;   // "route \"partners\"" or "the route of this recipient"
  std::string tester;  // the command that shows what the server offers
};

// A word as a shell reads it: quoted unless it is plainly safe.
std::string shell_word(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._-+=:@") ==
                        std::string::npos)
    return w;
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The tester's command line as an admin can paste it (issue 14 item 12): -c when the relay does
// not run on the default config, and --domain, which an "mx" route needs and a "host" route accepts.
std::string tester_command(const Recipient& r, const std::string& config_path) {
  std::string cmd = "smarthost test-route";
  if (!config_path.empty() && config_path != config::kDefaultConfigPath) cmd += " -c " + shell_word(config_path);
  cmd += " " + (r.route.empty() ? std::string("ROUTE") : shell_word(r.route));
  const std::string dom = address_domain(r.address);
  if (!dom.empty()) cmd += " --domain " + shell_word(dom);
  return cmd;
}

Names names_of(const Recipient& r, const std::string& config_path) {
  Names n;
  n.host = r.remote_mta.empty() ? "the receiving server" : r.remote_mta;
  n.domain = address_domain(r.address);
  if (n.domain.empty()) n.domain = "the recipient's domain";
  n.route = r.route.empty() ? "the route of this recipient" : "route \"" + r.route + "\"";
  n.tester = tester_command(r, config_path);
  return n;
}

// A TLS failure as seed 000 treats it: what the other side can fix, which
// route setting would let mail through anyway, and what that setting costs.
struct TlsAdvice {
  std::vector<std::string> fixes;
  std::string relax;  // "set verify_ca = false on route \"partners\""
  std::string cost;   // what relaxing gives up, in plain words
};

std::string cost_unverified(const Names& n) {
  return "the connection stays encrypted, but the server is no longer authenticated, so an attacker on the network "
         "path could pose as " + n.host + " and read the mail.";
}

TlsAdvice tls_no_starttls(const Names& n) {
  return {{"Check that the receiving server supports TLS: ask the mail administrator of " + n.domain +
           " to enable STARTTLS on " + n.host + " with a certificate from a trusted certificate authority."},
          "set tls = \"opportunistic\" on " + n.route + ", and only if mail to " + n.domain + " may travel unencrypted",
          "messages to " + n.domain + " can then be read and changed by anyone on the network path."};
}

TlsAdvice tls_host_name(const Names& n) {
  return {{"If the receiving server has several host names, make sure the route uses the host name that is in the "
           "server's certificate (the route's host setting, or the MX name " + n.host + ").",
           "Ask the mail administrator of " + n.domain + " to install a certificate from a trusted certificate "
           "authority that names " + n.host + "."},
          "set verify_hostname = false on " + n.route,
          "the connection stays encrypted, but any server holding a trusted certificate for some other name could "
          "pose as " + n.host + " and receive the mail."};
}

// RFC 9525: the name must be a DNS subjectAltName; the CN no longer counts.
TlsAdvice tls_host_name_in_cn(const Names& n) {
  TlsAdvice a = tls_host_name(n);
  a.fixes = {"The certificate of " + n.host + " names the host only in its subject CN, not in a subjectAltName, "
             "and RFC 9525 ignores the CN. Ask the mail administrator of " + n.domain + " to have it reissued with " +
             n.host + " as a DNS subjectAltName (every public certificate authority issues certificates that way)."};
  return a;
}

TlsAdvice tls_untrusted(const Names& n) {
  return {{"Ask the mail administrator of " + n.domain + " to install a new certificate from a trusted certificate "
           "authority on " + n.host + ", with the correct host name in it.",
           "If " + n.domain + " uses a private certificate authority that you trust, add it to tls.ca_file."},
          "set verify_ca = false on " + n.route, cost_unverified(n)};
}

TlsAdvice tls_expired(const Names& n) {
  return {{"The certificate of " + n.host + " is outside its validity period. Ask the mail administrator of " +
           n.domain + " to renew it with a trusted certificate authority (and check the relay's clock)."},
          "set verify_ca = false on " + n.route, cost_unverified(n)};
}

TlsAdvice tls_old_version(const Names& n) {
  return {{"Ask the mail administrator of " + n.domain + " to enable TLS 1.2 or TLS 1.3 on " + n.host + "."},
          "lower min_tls_version on " + n.route,
          "older TLS versions have known weaknesses; TLS 1.0 and 1.1 are deprecated (RFC 8996)."};
}

TlsAdvice tls_no_cipher(const Names& n) {
  return {{"Ask the mail administrator of " + n.domain + " to enable current ciphers on " + n.host +
           " (ECDHE key exchange with AES-GCM or ChaCha20-Poly1305)."},
          "add a cipher that the server supports to the ciphers list of " + n.route,
          "weaker ciphers protect the mail less."};
}

// Our side's mistake: the route's list caps the offer at TLS 1.2 and the
// server wants 1.3. The fix costs nothing, so it is also the "relax" item.
TlsAdvice tls_no_tls13_suite(const Names& n) {
  return {{"The ciphers list of " + n.route + " has no TLS 1.3 suite, so this relay can offer TLS 1.2 at most, and " +
           n.host + " accepts only TLS 1.3. Add TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and "
           "TLS_CHACHA20_POLY1305_SHA256 to that list, or remove the ciphers setting to use the defaults. Lowering "
           "min_tls_version does not help."},
          "add the TLS 1.3 suites to the ciphers list of " + n.route,
          "nothing: the TLS 1.3 suites are at least as strong as the TLS 1.2 suites on the list."};
}

// DANE (RFC 7672): the receiving domain's DNSSEC-signed TLSA records decide, not a certificate
// authority, so the fix is on their side and relaxing means leaving DANE (or its bounce) behind.
TlsAdvice tls_dane_mismatch(const Names& n) {
  return {{"The TLSA records of " + n.host + " do not match the certificate it presented. Its administrator (the mail "
           "administrator of " + n.domain + ") must update the TLSA records or the certificate: when the key "
           "changes, the new key's TLSA record has to be published before the certificate is replaced."},
          "set tls = \"dane\" with dane_fallback = \"opportunistic\" on " + n.route +
              " (a mismatch then waits in the queue for the records to be fixed instead of bouncing)",
          "nothing is sent to a server whose certificate the TLSA records do not vouch for, so the mail waits; "
          "leaving DANE altogether (tls = \"opportunistic\") would let an attacker on the network path pose as " +
              n.host + "."};
}

TlsAdvice tls_dane_missing(const Names& n) {
  return {{n.host + " has no DNSSEC-signed, usable TLSA records (or its MX or address records are not DNSSEC-signed), "
           "and " + n.route + " delivers only with DANE. Ask the mail administrator of " + n.domain +
           " to sign the zone and publish TLSA records (DANE-EE \"3 1 1\" is the usual choice)."},
          "set tls = \"dane\" on " + n.route + " so that hosts without TLSA records get dane_fallback",
          "such hosts are then authenticated by certificate authorities (dane_fallback = \"required\") or not at "
          "all (\"opportunistic\")."};
}

TlsAdvice tls_dane_dns(const Names& n) {
  return {{"A DNS answer for " + n.host + " (its MX, address or TLSA records) failed DNSSEC validation or could not be "
           "fetched, so DANE could not be checked and nothing was sent. Ask the mail administrator of " + n.domain +
           " to check the zone's DNSSEC signatures, and check the relay's dns.servers."},
          "none that keeps DANE: a broken signature could be an attack",
          "ignoring DNSSEC failures would let whoever forges DNS answers receive the mail."};
}

// Seed 000's whole troubleshooting list, for a TLS failure we cannot narrow.
TlsAdvice tls_other(const Names& n) {
  return {{"If the receiving server has several host names, make sure the route uses the host name that is in the "
           "server's certificate.",
           "Ask the mail administrator of " + n.domain + " to install a new certificate from a trusted certificate "
           "authority with the correct host name, and to support TLS 1.2 or later."},
          "relax " + n.route + " (verify_hostname = false, verify_ca = false, or tls = \"opportunistic\")",
          "each step removes a protection: without verification an attacker on the network path could pose as the "
          "server, and without required TLS the mail can travel unencrypted."};
}

std::optional<TlsAdvice> tls_advice(Failure f, const Names& n) {
  switch (f) {
    case Failure::NoStartTls: return tls_no_starttls(n);
    case Failure::HostName: return tls_host_name(n);
    case Failure::HostNameInCn: return tls_host_name_in_cn(n);
    case Failure::UntrustedCa: return tls_untrusted(n);
    case Failure::CertExpired: return tls_expired(n);
    case Failure::OldVersion: return tls_old_version(n);
    case Failure::NoCipher: return tls_no_cipher(n);
    case Failure::NoTls13Suite: return tls_no_tls13_suite(n);
    case Failure::OtherTls: return tls_other(n);
    case Failure::DaneMismatch: return tls_dane_mismatch(n);
    case Failure::DaneMissing: return tls_dane_missing(n);
    case Failure::DaneDns: return tls_dane_dns(n);
    case Failure::NullMx:
    case Failure::Lifetime:
    case Failure::RemoteReject:
    case Failure::NoSmtpUtf8:
    case Failure::No8BitMime:
    case Failure::NoRequireTls:
    case Failure::Other: return std::nullopt;
  }
  return std::nullopt;
}

std::vector<std::string> other_advice(Failure f, const Names& n) {
  switch (f) {
    case Failure::NullMx:
      return {"The domain " + n.domain + " says it accepts no mail (a null MX record, RFC 7505). Check the address for typing errors."};
    case Failure::Lifetime:
      return {"The servers for " + n.domain + " could not be reached or kept answering with temporary errors until the "
              "message's time in the queue ran out. Check the address; if it is right, ask the mail administrator of " +
              n.domain + " to look into it, then send the message again."};
    case Failure::RemoteReject:
      return {"The receiving server refused the message; its reply is shown above. Check the address for typing errors. "
              "If it is right, forward this report to the mail administrator of " + n.domain + "."};
    case Failure::NoSmtpUtf8:
      return {"The receiving server " + n.host + " cannot take internationalised mail: it does not offer SMTPUTF8 "
              "(RFC 6531), and such an address or header cannot be changed on the way without changing who the mail "
              "is for or from.",
              "Ask the recipient for an address written in ASCII characters only, and send the message again to that "
              "address (with a plain ASCII sender address and subject if the sender's own address is not ASCII).",
              "Or ask the mail administrator of " + n.domain + " to enable SMTPUTF8 on " + n.host + "."};
    case Failure::No8BitMime:
      return {"The message is 8-bit (for example UTF-8 text sent without a transfer encoding) and " + n.host +
              " does not accept 8-bit data (it does not offer 8BITMIME, RFC 6152). The relay does not convert "
              "messages: that would break their DKIM signatures.",
              "Send the message again from a mail program that encodes it as quoted-printable or base64, or ask the "
              "mail administrator of " + n.domain + " to enable 8BITMIME on " + n.host + "."};
    case Failure::NoRequireTls:
      return {"The message was sent with REQUIRETLS (RFC 8689): it may travel only over TLS connections with "
              "verified certificates, and only to servers that promise to keep that requirement. The receiving "
              "server " + n.host + " does not offer REQUIRETLS, so the message was not sent to it at all.",
              "If the message may travel without that guarantee, send it again without requiring TLS; or ask the "
              "mail administrator of " + n.domain + " to enable REQUIRETLS on " + n.host + "."};
    case Failure::NoStartTls:
    case Failure::HostName:
    case Failure::HostNameInCn:
    case Failure::UntrustedCa:
    case Failure::CertExpired:
    case Failure::OldVersion:
    case Failure::NoCipher:
    case Failure::NoTls13Suite:
    case Failure::OtherTls:
    case Failure::DaneMismatch:
    case Failure::DaneMissing:
    case Failure::DaneDns:
    case Failure::Other:
      return {"Check the address for typing errors. If the problem persists, forward this report to your mail administrator."};
  }
  return {};
}

// The items every TLS failure ends with: the provider, the tester, and the
// last resort with its cost (seed 000: keep the checks on where you can).
void add_tls_tail(const TlsAdvice& a, const Names& n, bool own_relax, std::vector<std::string>* out) {
  out->push_back("If mail for " + n.domain + " goes through a third-party mail relay service, contact that service "
                 "provider about this error.");
  out->push_back("Run \"" + n.tester + "\" on the relay to see what " + n.host + " offers and which check fails.");
  out->push_back(own_relax ? "Last resort: " + a.relax + ". The cost: " + a.cost
                           : "Relaxing the route costs security: " + a.cost);
  out->push_back("Keep the TLS checks on whenever you can: they are what makes the connection verifiably secure.");
}

std::vector<std::string> split_advice(const std::string& advice) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= advice.size()) {
    auto end = std::min(advice.find('\n', pos), advice.size());
    std::string item = advice.substr(pos, end - pos);
    if (!item.empty() && item.back() == '\r') item.pop_back();
    if (item.find_first_not_of(" \t") != std::string::npos) out.push_back(item);
    pos = end + 1;
  }
  return out;
}

}  // namespace

// Recipient::advice (from certs/ or the client) comes first and replaces our
// own fixes; for TLS failures the provider, tester and cost items are still
// added, so the admin always learns what relaxing a check gives up.
std::vector<std::string> dsn_advice(const Recipient& r, const std::string& config_path) {
  Failure f = classify(r);
  Names n = names_of(r, config_path);
  auto tls = tls_advice(f, n);
  // DANE failures: our fixes name the host whose TLSA records failed and the route's DANE
  // settings, which the host-less words from certs/ (for logs and test-route) cannot.
  bool own = r.advice.empty() || f == Failure::DaneMismatch || f == Failure::DaneMissing || f == Failure::DaneDns;
  std::vector<std::string> out = own ? (tls ? tls->fixes : other_advice(f, n)) : split_advice(r.advice);
  if (tls) add_tls_tail(*tls, n, own, &out);
  return out;
}

namespace {

// ---- part 1: plain words ------------------------------------------------------

// A DSN must name its reporter; "localhost" beats a header with a hole.
std::string mta_name(const DsnRequest& req) { return req.reporting_mta.empty() ? "localhost" : req.reporting_mta; }

// "  Label:        value", wrapped with a hanging indent under the value.
std::string labelled(const std::string& label, const std::string& value) {
  std::string text = wrap_text(value, kWidth, std::string(kLabelWidth, ' '));
  std::string head = "  " + label;
  head.resize(kLabelWidth, ' ');
  return head + text.substr(kLabelWidth);
}

std::string bullet(const std::string& item) {
  std::string text = wrap_text(item, kWidth, "      ");
  return "    - " + text.substr(6);
}

std::string what_failed(const Recipient& r) {
  if (!r.last_error.empty()) return r.last_error;
  if (!r.diagnostic.empty()) return "the receiving server refused the message";
  return "delivery failed permanently (status " + status_of(r) + ")";
}

std::string tls_facts(const TlsInfo& t) {
  std::string s = t.version;
  if (!t.cipher.empty()) s += ", cipher " + t.cipher;
  if (t.bits > 0) s += " (" + std::to_string(t.bits) + " bits)";
  if (!t.verdict.empty()) s += ", certificate " + t.verdict;
  return s;
}

// `requiretls`: the message was sent with REQUIRETLS (RFC 8689), so the TLS rule was the sender's,
// not only the route's.
std::string recipient_text(const Recipient& r, const std::string& config_path, bool requiretls) {
  std::string status = status_of(r);
  std::string out = "Recipient: " + r.address + "\r\n";
  if (!r.remote_mta.empty()) out += labelled("Host tried:", r.remote_mta);
  out += labelled("What failed:", what_failed(r));
  if (!r.diagnostic.empty()) out += labelled("Server reply:", r.diagnostic);
  if (!r.tls.version.empty()) out += labelled("TLS session:", tls_facts(r.tls));
  out += labelled("Status:", status + (r.route.empty() ? "" : " (route \"" + r.route + "\")"));
  if (is_tls_failure(r) && requiretls)
    out += labelled("Not retried:", "The message was sent with REQUIRETLS: it may travel only over TLS with a verified "
                                    "certificate, so it was tried once and not retried. It was never sent without "
                                    "encryption.");
  else if (is_tls_failure(r))
    out += labelled("Not retried:", "This route requires TLS, so the message was tried once and not retried. It was "
                                    "never sent without encryption.");
  out += "  What can be done:\r\n";
  if (is_tls_failure(r) && requiretls)
    out += bullet("The sender asked for REQUIRETLS, so relaxing the relay's route would not let this message through. "
                  "If it may travel without a verified TLS connection, send it again without REQUIRETLS.");
  for (const auto& item : dsn_advice(r, config_path)) out += bullet(item);
  return out;
}

bool any_tls(const Envelope& e, const std::vector<size_t>& rep) {
  for (size_t i : rep)
    if (is_tls_failure(e.recipients[i])) return true;
  return false;
}

// RFC 8689 5: a report on a REQUIRETLS message returns its header section only, whatever RET
// asked: the report may travel where the message could not.
bool returns_body(const Envelope& e) { return e.ret == static_cast<uint8_t>(Ret::Full) && !e.require_tls; }

std::string human_text(const DsnRequest& req, const std::vector<size_t>& rep) {
  const Envelope& e = *req.env;
  std::string count = rep.size() == 1 ? "1 recipient" : std::to_string(rep.size()) + " recipients";
  std::string out = wrap_text("This is the mail system at " + mta_name(req) + ".", kWidth, "") + "\r\n";
  out += wrap_text("Your message could not be delivered to " + count + ". This is a permanent failure: the message "
                   "will not be tried again for the addresses below.", kWidth, "") + "\r\n";
  if (any_tls(e, rep))
    out += wrap_text("Your organisation requires a secure (TLS) connection for mail to some of these recipients, and "
                     "their mail server could not provide one that passed the checks, so the message was not sent to "
                     "them at all. Nothing was sent without encryption.", kWidth, "") + "\r\n";
  for (size_t i : rep) out += recipient_text(e.recipients[i], req.config_path, e.require_tls) + "\r\n";
  bool full = returns_body(e);
  out += wrap_text(std::string("The technical report for the mail administrator follows, then the original message") +
                   (full ? "." : "'s header section."), kWidth, "");
  return out;
}

std::string human_part(const DsnRequest& req, const std::vector<size_t>& rep) {
  std::string text = human_text(req, rep);
  std::string head = "Content-Type: text/plain; charset=utf-8\r\nContent-Description: Notification\r\n";
  if (is_ascii(text)) return head + "Content-Transfer-Encoding: 7bit\r\n\r\n" + text;
  return head + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp_encode(text);
}

// ---- part 2: message/delivery-status (RFC 3464 2.2, 2.3) -------------------

std::string field(const std::string& name, const std::string& value) { return fold_field(name, ascii_only(value)); }

// RFC 6533: a field of a global report keeps its UTF-8.
std::string field(const std::string& name, const std::string& value, bool global) {
  return global ? fold_field(name, utf8_only(value)) : field(name, value);
}

std::string per_message(const DsnRequest& req) {
  const Envelope& e = *req.env;
  std::string out = field("Reporting-MTA", "dns; " + mta_name(req));
  if (!e.envid.empty()) out += field("Original-Envelope-Id", xtext_encode(e.envid));
  if (e.arrival_us > 0) out += field("Arrival-Date", rfc5322_date(e.arrival_us / 1000000));
  return out;
}

// RFC 6533 3: a UTF-8 address has the address type "utf-8" in a global report.
std::string per_recipient(const Recipient& r, int64_t now, bool global) {
  std::string out;
  if (!r.orcpt.empty()) out += field("Original-Recipient", r.orcpt, global);  // verbatim: RFC 3461 6.3 (c)
  bool utf8 = global && base::has_8bit(r.address);
  out += field("Final-Recipient", (utf8 ? "utf-8; " : "rfc822; ") + r.address, global);
  out += field("Action", "failed");
  out += field("Status", status_of(r));
  if (!r.remote_mta.empty()) out += field("Remote-MTA", "dns; " + r.remote_mta, global);
  if (!r.diagnostic.empty()) out += field("Diagnostic-Code", "smtp; " + r.diagnostic, global);
  out += field("Last-Attempt-Date", rfc5322_date(now));
  return out;
}

std::string status_part(const DsnRequest& req, const std::vector<size_t>& rep, bool global) {
  std::string fields = per_message(req);
  for (size_t i : rep) fields += "\r\n" + per_recipient(req.env->recipients[i], req.now, global);
  std::string out = global ? "Content-Type: message/global-delivery-status\r\n" : "Content-Type: message/delivery-status\r\n";
  out += "Content-Description: Delivery report\r\n";
  if (!is_ascii(fields)) out += "Content-Transfer-Encoding: 8bit\r\n";
  return out + "\r\n" + fields;
}

// ---- part 3: the original, byte-exact ----------------------------------------

// RFC 6533 6.3, 6.4: message/global and message/global-headers for an original with UTF-8.
std::string original_part(const DsnRequest& req, bool global) {
  bool full = returns_body(*req.env);
  std::string body = full ? *req.original : header_section(*req.original);
  bool utf8 = global && !is_ascii(body);
  std::string type = full ? (utf8 ? "message/global" : "message/rfc822")
                          : (utf8 ? "message/global-headers" : "text/rfc822-headers");
  std::string out = "Content-Type: " + type + "\r\nContent-Description: " +
                    (full ? "Undelivered Message" : "Undelivered Message Headers") + "\r\n";
  if (!is_ascii(body)) out += "Content-Transfer-Encoding: 8bit\r\n";
  return out + "\r\n" + body;
}

// ---- the envelope of the report ------------------------------------------------

// Tests pass a seed; otherwise 64 random bits. Only characters that are safe
// in both a boundary and a Message-ID are kept.
std::string unique_token(const std::string& seed) {
  std::string out;
  for (unsigned char c : seed) out += std::isalnum(c) || c == '.' || c == '-' ? static_cast<char>(c) : '-';
  if (!out.empty()) return out.substr(0, 40);
  std::random_device rd;
  char buf[17];
  snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// A boundary that occurs in no part (RFC 2046 5.1.1).
std::string pick_boundary(const std::string& token, const std::vector<std::string>& parts) {
  for (unsigned n = 0;; ++n) {
    std::string b = "=_smarthost_" + token + (n ? "_" + std::to_string(n) : "");
    bool clash = std::any_of(parts.begin(), parts.end(), [&](const std::string& p) { return contains(p, ("--" + b).c_str()); });
    if (!clash) return b;
  }
}

// RFC 6533: the report is a global one when the message was internationalised: sent with
// SMTPUTF8, or with a UTF-8 address or UTF-8 in its header section (which needs SMTPUTF8 too).
bool is_global(const DsnRequest& req, const std::vector<size_t>& rep) {
  const Envelope& e = *req.env;
  if (e.smtputf8 || base::has_8bit(e.sender)) return true;
  for (size_t i : rep)
    if (base::has_8bit(e.recipients[i].address)) return true;
  return req.original && base::has_8bit(header_section(*req.original));
}

std::string subject(const Envelope& e, const std::vector<size_t>& rep) {
  std::set<std::string> domains;
  for (size_t i : rep) {
    if (!is_tls_failure(e.recipients[i])) return "Undelivered Mail Returned to Sender";
    domains.insert(address_domain(e.recipients[i].address));
  }
  std::string where = domains.size() == 1 ? *domains.begin() : std::to_string(domains.size()) + " recipient domains";
  return "Undelivered Mail: secure (TLS) connection to " + where + " was not possible";
}

std::string top_headers(const DsnRequest& req, const std::vector<size_t>& rep, const std::string& token,
                        const std::string& boundary, bool global) {
  std::string host = mta_name(req);
  char stamp[32];
  snprintf(stamp, sizeof stamp, "%llx", static_cast<unsigned long long>(req.now));
  std::string out = field("From", "Mail Delivery System <MAILER-DAEMON@" + host + ">");
  out += field("To", "<" + req.env->sender + ">", global);  // RFC 6532: UTF-8 in a global message
  out += field("Subject", subject(*req.env, rep), global);
  out += field("Date", rfc5322_date(req.now));
  out += field("Message-ID", "<" + std::string(stamp) + "." + token + "@" + host + ">");
  out += field("Auto-Submitted", "auto-replied");  // RFC 3834: no auto-replies to this
  out += field("MIME-Version", "1.0");
  out += field("Content-Type", std::string("multipart/report; report-type=") +
                                   (global ? "global-delivery-status" : "delivery-status") + "; boundary=\"" +
                                   boundary + "\"");
  return out;
}

}  // namespace

std::optional<std::string> build_dsn(const DsnRequest& req, std::vector<size_t>* reported) {
  if (reported) reported->clear();
  if (!req.env || req.env->sender.empty()) return std::nullopt;  // a bounce is never bounced
  std::vector<size_t> rep = select_reported(req);
  if (rep.empty()) return std::nullopt;

  bool global = is_global(req, rep);
  std::vector<std::string> parts = {human_part(req, rep), status_part(req, rep, global)};
  if (req.original) parts.push_back(original_part(req, global));
  std::string token = unique_token(req.boundary_seed);
  std::string boundary = pick_boundary(token, parts);

  std::string out = top_headers(req, rep, token, boundary, global) + "\r\nThis is a MIME-encapsulated message.\r\n";
  for (const auto& p : parts) out += "\r\n--" + boundary + "\r\n" + p;
  out += "\r\n--" + boundary + "--\r\n";
  if (reported) *reported = rep;
  return out;
}

}  // namespace relay
