// queue_record.cc - tagged binary encoding of Envelope (see queue_record.h).
//
// Layout: a version byte, then fields as (tag u8, length u32 LE, bytes).
// Recipients are nested the same way under their own tag. Unknown tags are
// skipped, which is what lets newer binaries add fields.
#include "relay/queue/queue_record.h"

#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace relay {

namespace {

constexpr uint8_t kVersion = 1;

enum Tag : uint8_t {
  kId = 1, kSender, kArrival, kSize, kEightBit, kRet, kEnvid, kClientIp, kHelo,
  kTlsVersion, kTlsCipher, kTlsBits, kTlsVerdict, kRcpt,
  kOrigin,  // always written: its absence marks a record of an older version
  kHeld,    // written only when held: an older binary skips it (and would deliver the message)
  // Written only when set: older records read as "no SMTPUTF8", which they were. A number well
  // apart from the run above, so that fields appended to that run never collide with it.
  kSmtpUtf8 = 30,
  kRequireTls,  // RFC 8689, written only when set (an older binary would deliver it without)
  // recipient fields
  kAddress = 40, kNotify, kOrcpt, kRoute, kState, kAttempts, kNext, kLastError, kDsn,
  kRemote, kDiag, kRTlsVersion, kRTlsCipher, kRTlsBits, kRTlsVerdict, kAdvice,
  kFailure, kTlsProblem, kRelay,
  // Recipient fields 70-74 belong to DANE (SPEC R-DANE); written only when set.
  kRDane = 70,  // the last attempt's DANE verdict word (TlsSummary::dane)
};

constexpr uint64_t kLastFailureKind = static_cast<uint64_t>(router::FailureKind::NoRequireTls);
constexpr uint64_t kLastTlsProblem = static_cast<uint64_t>(certs::TlsProblem::TlsaLookupFailed);

class Writer {
 public:
  void str(uint8_t tag, const std::string& v) {
    if (v.empty()) return;
    head(tag, v.size());
    out_.append(v);
  }
  void u64(uint8_t tag, uint64_t v) {
    if (v == 0) return;
    head(tag, 8);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void raw(uint8_t tag, const std::string& v) {
    head(tag, v.size());
    out_.append(v);
  }
  std::string& out() { return out_; }

 private:
  void head(uint8_t tag, size_t len) {
    out_.push_back(static_cast<char>(tag));
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  }
  std::string out_;
};

struct Field {
  uint8_t tag;
  std::string_view data;
};

// Calls f(field) for each field; false when the encoding is cut short.
template <typename F>
bool each_field(std::string_view in, F f) {
  size_t p = 0;
  while (p < in.size()) {
    if (in.size() - p < 5) return false;
    uint8_t tag = static_cast<uint8_t>(in[p]);
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= static_cast<uint32_t>(static_cast<uint8_t>(in[p + 1 + i])) << (8 * i);
    p += 5;
    if (in.size() - p < len) return false;
    if (!f(Field{tag, in.substr(p, len)})) return false;
    p += len;
  }
  return true;
}

uint64_t as_u64(std::string_view d) {
  uint64_t v = 0;
  for (size_t i = 0; i < d.size() && i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(d[i])) << (8 * i);
  return v;
}

void tls_fields(Writer& w, const TlsInfo& t, uint8_t base) {
  w.str(base, t.version);
  w.str(base + 1, t.cipher);
  w.u64(base + 2, static_cast<uint64_t>(t.bits));
  w.str(base + 3, t.verdict);
}

bool tls_field(TlsInfo& t, uint8_t base, const Field& f) {
  if (f.tag == base) t.version = std::string(f.data);
  else if (f.tag == base + 1) t.cipher = std::string(f.data);
  else if (f.tag == base + 2) t.bits = static_cast<int>(as_u64(f.data));
  else if (f.tag == base + 3) t.verdict = std::string(f.data);
  else return false;
  return true;
}

std::string encode_recipient(const Recipient& r) {
  Writer w;
  w.str(kAddress, r.address);
  w.u64(kNotify, r.notify);
  w.str(kOrcpt, r.orcpt);
  w.str(kRoute, r.route);
  w.u64(kState, static_cast<uint64_t>(r.state));
  w.u64(kAttempts, r.attempts);
  w.u64(kNext, static_cast<uint64_t>(r.next_attempt));
  w.str(kLastError, r.last_error);
  w.str(kDsn, r.dsn_status);
  w.str(kRemote, r.remote_mta);
  w.str(kDiag, r.diagnostic);
  w.str(kAdvice, r.advice);
  tls_fields(w, r.tls, kRTlsVersion);
  w.u64(kFailure, static_cast<uint64_t>(r.failure));
  // Stored plus one: u64() leaves zero out, and NotOffered is zero.
  if (r.failure == router::FailureKind::Tls) w.u64(kTlsProblem, static_cast<uint64_t>(r.tls_problem) + 1);
  w.str(kRelay, r.relay);
  w.str(kRDane, r.tls.dane);
  return std::move(w.out());
}

bool decode_recipient(std::string_view in, Recipient* r) {
  return each_field(in, [&](const Field& f) {
    std::string s(f.data);
    switch (f.tag) {
      case kAddress: r->address = s; break;
      case kNotify: r->notify = static_cast<uint32_t>(as_u64(f.data)); break;
      case kOrcpt: r->orcpt = s; break;
      case kRoute: r->route = s; break;
      case kState: {
        uint64_t st = as_u64(f.data);
        if (st > 3) return false;
        r->state = static_cast<RcptState>(st);
        break;
      }
      case kAttempts: r->attempts = static_cast<uint32_t>(as_u64(f.data)); break;
      case kNext: r->next_attempt = static_cast<int64_t>(as_u64(f.data)); break;
      case kLastError: r->last_error = s; break;
      case kDsn: r->dsn_status = s; break;
      case kRemote: r->remote_mta = s; break;
      case kDiag: r->diagnostic = s; break;
      case kAdvice: r->advice = s; break;
      case kFailure: {
        uint64_t k = as_u64(f.data);
        r->failure = k <= kLastFailureKind ? static_cast<router::FailureKind>(k) : router::FailureKind::None;
        break;
      }
      case kTlsProblem: {
        uint64_t p = as_u64(f.data);
        if (p >= 1 && p - 1 <= kLastTlsProblem) r->tls_problem = static_cast<certs::TlsProblem>(p - 1);
        break;
      }
      case kRelay: r->relay = s; break;
      case kRDane: r->tls.dane = s; break;
      default: tls_field(r->tls, kRTlsVersion, f); break;
    }
    return true;
  });
}

}  // namespace

const char* rcpt_state_name(RcptState s) {
  switch (s) {
    case RcptState::Pending: return "pending";
    case RcptState::Sent: return "sent";
    case RcptState::Deferred: return "deferred";
    case RcptState::Bounced: return "bounced";
  }
  return "?";
}

router::Outcome outcome_of(const Recipient& r) {
  router::Outcome o;
  switch (r.state) {
    case RcptState::Pending: o.disposition = router::Disposition::Pending; break;
    case RcptState::Sent: o.disposition = router::Disposition::Sent; break;
    case RcptState::Deferred: o.disposition = router::Disposition::Defer; break;
    case RcptState::Bounced: o.disposition = router::Disposition::Bounce; break;
  }
  o.status = r.dsn_status;
  o.kind = r.failure;
  o.tls_problem = r.tls_problem;
  o.reason = r.last_error;
  o.advice = r.advice;
  o.remote_host = r.remote_mta;
  o.relay = r.relay;
  o.remote_reply = r.diagnostic;
  o.tls = r.tls;
  return o;
}

void record_outcome(Recipient* r, const router::Outcome& o) {
  r->dsn_status = o.status;
  r->failure = o.kind;
  r->tls_problem = o.tls_problem;
  r->last_error = o.reason;
  r->advice = o.advice;
  r->remote_mta = o.remote_host;
  r->relay = o.relay;
  r->diagnostic = o.remote_reply;
  r->tls = o.tls;
}

std::string encode_envelope(const Envelope& e) {
  Writer w;
  w.out().push_back(static_cast<char>(kVersion));
  w.str(kId, e.id);
  w.str(kSender, e.sender);
  w.u64(kArrival, static_cast<uint64_t>(e.arrival_us));
  w.u64(kSize, e.size);
  w.u64(kEightBit, e.eight_bit ? 1 : 0);
  w.u64(kSmtpUtf8, e.smtputf8 ? 1 : 0);
  w.u64(kRequireTls, e.require_tls ? 1 : 0);
  w.u64(kRet, e.ret);
  w.str(kEnvid, e.envid);
  w.str(kClientIp, e.client_ip);
  w.str(kHelo, e.helo);
  tls_fields(w, e.tls_in, kTlsVersion);
  for (const auto& r : e.recipients) w.raw(kRcpt, encode_recipient(r));
  w.u64(kHeld, e.held ? 1 : 0);
  w.raw(kOrigin, std::string(1, static_cast<char>(e.origin)));  // last (a unit test relies on it)
  return std::move(w.out());
}

bool decode_envelope(const std::string& data, Envelope* e) {
  if (data.empty() || static_cast<uint8_t>(data[0]) != kVersion) return false;
  *e = Envelope{};
  bool has_origin = false;
  bool ok = each_field(std::string_view(data).substr(1), [&](const Field& f) {
    std::string s(f.data);
    switch (f.tag) {
      case kId: e->id = s; break;
      case kSender: e->sender = s; break;
      case kArrival: e->arrival_us = static_cast<int64_t>(as_u64(f.data)); break;
      case kSize: e->size = as_u64(f.data); break;
      case kEightBit: e->eight_bit = as_u64(f.data) != 0; break;
      case kSmtpUtf8: e->smtputf8 = as_u64(f.data) != 0; break;
      case kRequireTls: e->require_tls = as_u64(f.data) != 0; break;
      case kRet: e->ret = static_cast<uint8_t>(as_u64(f.data)); break;
      case kEnvid: e->envid = s; break;
      case kClientIp: e->client_ip = s; break;
      case kHelo: e->helo = s; break;
      case kHeld: e->held = as_u64(f.data) != 0; break;
      case kRcpt: {
        Recipient r;
        if (!decode_recipient(f.data, &r)) return false;
        e->recipients.push_back(std::move(r));
        break;
      }
      case kOrigin: {
        // A value from a newer version is ordinary mail here: full lifetime, counted.
        uint64_t o = as_u64(f.data);
        e->origin = o <= static_cast<uint64_t>(Origin::TlsReport) ? static_cast<Origin>(o) : Origin::Smtp;
        has_origin = true;
        break;
      }
      default: tls_field(e->tls_in, kTlsVersion, f); break;
    }
    return true;
  });
  // Versions before the origin field marked TLS reports with this HELO; a report queued by one
  // keeps its day's lifetime and stays uncounted after an upgrade. Only such old records: a
  // client saying this HELO today gets Origin::Smtp written, and is ordinary mail.
  if (!has_origin && e->helo == "smarthost-tlsrpt") e->origin = Origin::TlsReport;
  return ok && !e->id.empty();
}

std::string new_queue_id() {
  // 40 bits of milliseconds, 12 bits of per-process counter, 12 random bits:
  // sortable by arrival, unique across restarts within a millisecond.
  static std::atomic<uint32_t> counter{0};
  static uint32_t salt = [] {
    uint32_t s = 0;
    if (getrandom(&s, sizeof s, 0) != sizeof s) s = static_cast<uint32_t>(getpid());
    return s;
  }();
  timeval tv;
  gettimeofday(&tv, nullptr);
  uint64_t ms = static_cast<uint64_t>(tv.tv_sec) * 1000 + static_cast<uint64_t>(tv.tv_usec) / 1000;
  uint32_t c = counter.fetch_add(1);
  uint64_t v = (ms & 0xffffffffffULL) << 24 | static_cast<uint64_t>(c & 0xfff) << 12 |
               ((salt + (c >> 12)) & 0xfff);
  char buf[17];
  snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace relay
