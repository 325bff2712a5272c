// tlsrpt_sender.cc - the daily TLS-RPT reports, built and sent (see tlsrpt_sender.h).
#include "relay/notify/tlsrpt_sender.h"
#include "router/base/event_handles.h"

#include <sys/time.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <ostream>

#include "relay/message/dkim_signer.h"
#include "relay/notify/tlsrpt_report.h"
#include "router/https/https_client.h"

namespace relay {
namespace {

}  // namespace

ReportMeta report_meta(const config::Config& cfg, const std::string& day, const std::string& domain, int64_t now) {
  ReportMeta m;
  m.organization = cfg.tlsrpt.organization;
  m.contact = cfg.tlsrpt.contact;
  m.submitter = cfg.tlsrpt.submitter.empty() ? cfg.hostname : cfg.tlsrpt.submitter;
  m.report_id = tlsrpt_report_id(day, domain, m.submitter);
  m.start = day_start(day).value_or(0);
  m.end = std::min<int64_t>(m.start + 86399, std::max<int64_t>(now, m.start));
  return m;
}

std::vector<std::string> report_domains(const std::vector<TlsrptEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (std::find(out.begin(), out.end(), e.domain) == out.end()) out.push_back(e.domain);
  }
  return out;
}

namespace {

std::string mailto_address(const std::string& uri) {
  std::string a = uri.substr(7);
  return a.substr(0, a.find('?'));
}

}  // namespace

std::string tlsrpt_from_address(const config::Tlsrpt& t) {
  if (t.contact.compare(0, 7, "mailto:") == 0 && t.contact.find('@') != std::string::npos) {
    return mailto_address(t.contact);
  }
  return "tlsrpt@" + t.submitter;
}

std::string make_report_message(const config::Config& cfg, const std::string& day, const std::string& domain,
                                const std::vector<TlsrptEntry>& entries, const std::string& to, int64_t now,
                                std::string* error) {
  ReportMail m;
  m.meta = report_meta(cfg, day, domain, now);
  m.from = tlsrpt_from_address(cfg.tlsrpt);
  m.to = to;
  m.domain = domain;
  m.now = now;
  auto gz = gzip_compress(tlsrpt_report_json(m.meta, domain, entries), error);
  if (!gz) return "";
  m.json_gz = std::move(*gz);
  std::string msg = build_report_mail(m);
  const config::Dkim& d = cfg.tlsrpt.dkim;
  if (d.key.empty()) return msg;
  auto key = DkimKey::load(d.key, error);
  if (!key) return "";
  DkimOptions o;
  o.domain = d.domain.empty() ? cfg.tlsrpt.submitter : d.domain;
  o.selector = d.selector;
  o.timestamp = now;
  auto sig = dkim_signature(msg, *key, o, error);
  return sig ? *sig + msg : "";
}

class TlsrptSender::Impl {
 public:
  Impl(event_base* base, router::DnsService& dns, WOLFSSL_CTX* ctx, const config::Config& cfg,
       TlsrptStore& store, ReportEnqueue enqueue, std::string day, int64_t now,
       Done done)
      : base_(base), dns_(dns), ctx_(ctx), cfg_(cfg), store_(store),
        enqueue_(std::move(enqueue)), day_(std::move(day)), now_(now), done_(std::move(done)) {}

  void start() {
    entries_ = store_.entries(day_);
    for (const auto& d : report_domains(entries_)) {
      if (store_.is_sent(day_, d)) {
        sum_.lines.push_back(d + ": report for " + day_ + " already sent");
      } else {
        domains_.push_back(d);
      }
    }
    // Always answer from the loop, never inside start().
    kick_.reset(evtimer_new(base_, &Impl::on_kick, this));
    timeval tv{0, 0};
    evtimer_add(kick_.get(), &tv);
  }

 private:
  static void on_kick(evutil_socket_t, short, void* self) { static_cast<Impl*>(self)->next_domain(); }

  void next_domain() {
    if (next_ >= domains_.size()) return finish();
    domain_ = domains_[next_++];
    any_ok_ = false;
    txt_ = dns_.lookup("_smtp._tls." + domain_, router::DnsType::TXT, [this](router::DnsAnswer a) { on_txt(a); });
  }

  void on_txt(const router::DnsAnswer& a) {
    std::string why;
    rua_ = a.status == router::DnsStatus::Ok ? parse_tlsrpt_txt(a.txt, &why) : std::vector<std::string>{};
    if (rua_.empty()) {
      if (a.status != router::DnsStatus::Ok) why = router::dns_status_name(a.status);
      sum_.lines.push_back(domain_ + ": no report sent: _smtp._tls." + domain_ + " TXT " + why);
      if (a.status == router::DnsStatus::TempFail) ++sum_.failed;
      return next_domain();
    }
    rua_next_ = 0;
    next_rua();
  }

  void next_rua() {
    if (rua_next_ >= rua_.size()) {
      if (any_ok_) store_.mark_sent(day_, domain_);
      return next_domain();
    }
    const std::string uri = rua_[rua_next_++];
    if (uri.compare(0, 7, "mailto:") == 0) return mail(mailto_address(uri));
    post(uri);
  }

  void result(bool ok, const std::string& line) {
    sum_.lines.push_back(line);
    ok ? ++sum_.sent : ++sum_.failed;
    any_ok_ = any_ok_ || ok;
  }

  void mail(const std::string& to) {
    std::string error;
    std::string msg = make_report_message(cfg_, day_, domain_, entries_, to, now_, &error);
    if (msg.empty()) {
      result(false, domain_ + ": report to <" + to + "> not queued: " + error);
      return next_rua();
    }
    LocalMail mail{Origin::TlsReport, tlsrpt_from_address(cfg_.tlsrpt), {to}, std::move(msg)};
    enqueue_(std::move(mail), [this, to](const Injected& in) {
      std::string why = in.no_route.empty() ? store_status_name(in.status) : "no route";
      result(in.ok(), domain_ + ": report to <" + to + "> " + (in.ok() ? "queued as " + in.id : "not queued: " + why));
      // The queue may answer at once: continue from the loop either way.
      timeval tv{0, 0};
      kick_.reset(evtimer_new(base_, &Impl::on_next_rua, this));
      evtimer_add(kick_.get(), &tv);
    });
  }

  static void on_next_rua(evutil_socket_t, short, void* self) { static_cast<Impl*>(self)->next_rua(); }

  void post(const std::string& uri) {
    std::string error;
    auto gz = gzip_compress(tlsrpt_report_json(report_meta(cfg_, day_, domain_, now_), domain_, entries_), &error);
    std::string rest = uri.substr(8);
    size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    router::HttpsRequest req;
    req.method = "POST";
    req.path = slash == std::string::npos ? "/" : rest.substr(slash);
    req.content_type = "application/tlsrpt+gzip";
    req.body = gz.value_or("");
    req.timeout = cfg_.mta_sts.fetch_timeout;
    size_t colon = hostport.rfind(':');
    req.host = hostport.substr(0, colon);
    if (colon != std::string::npos) req.port = std::atoi(hostport.substr(colon + 1).c_str());
    if (!gz || !ctx_ || req.host.empty() || req.port <= 0 || req.port > 65535) {
      result(false, domain_ + ": report to " + uri + " not posted: " + (gz ? "bad URI or no TLS context" : error));
      return next_rua();
    }
    fetch_ = router::HttpsFetch::start(base_, dns_, ctx_, req, [this, uri](router::HttpsResponse r) {
      bool ok = r.error == router::HttpsError::None;
      result(ok, domain_ + ": report to " + uri + (ok ? " posted (HTTP " + std::to_string(r.status) + ")"
                                                      : " not posted: " + r.reason));
      timeval tv{0, 0};
      kick_.reset(evtimer_new(base_, &Impl::on_next_rua, this));
      evtimer_add(kick_.get(), &tv);
    });
  }

  void finish() {
    Done done = std::move(done_);
    done_ = nullptr;
    if (done) done(std::move(sum_));
  }

  event_base* base_;
  router::DnsService& dns_;
  WOLFSSL_CTX* ctx_;
  const config::Config& cfg_;
  TlsrptStore& store_;
  ReportEnqueue enqueue_;
  std::string day_;
  int64_t now_;
  Done done_;
  TlsrptSendSummary sum_;
  std::vector<TlsrptEntry> entries_;
  std::vector<std::string> domains_;
  size_t next_ = 0;
  std::string domain_;
  bool any_ok_ = false;
  std::vector<std::string> rua_;
  size_t rua_next_ = 0;
  router::DnsLookup txt_;
  std::unique_ptr<router::HttpsFetch> fetch_;
  base::EventPtr kick_;
};

TlsrptSender::TlsrptSender(Key, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsrptSender::~TlsrptSender() = default;

std::unique_ptr<TlsrptSender> TlsrptSender::start(event_base* base, router::DnsService& dns, WOLFSSL_CTX* https_ctx,
                                                  const config::Config& cfg, TlsrptStore& store, ReportEnqueue enqueue, const std::string& day,
                                                  int64_t now, Done done) {
  auto impl = std::make_unique<Impl>(base, dns, https_ctx, cfg, store, std::move(enqueue), day, now,
                                     std::move(done));
  Impl* raw = impl.get();
  auto s = std::make_unique<TlsrptSender>(Key(), std::move(impl));
  raw->start();
  return s;
}

}  // namespace relay
