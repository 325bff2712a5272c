// cmd_mta_sts.cc - the MTA-STS admin helpers (see cmd_mta_sts.h).
#include "relay/cli/cmd_mta_sts.h"
#include "router/base/utc_time.h"
#include "router/base/event_handles.h"

#include <event2/event.h>

#include <ctime>
#include <optional>
#include <ostream>

#include "config/config_loader.h"
#include "relay/notify/tlsrpt_report.h"
#include "router/mta_sts/mta_sts_cache.h"
#include "router/https/https_client.h"
#include "router/mta_sts/mta_sts_lookup.h"

namespace relay {
namespace {

std::string sts_id(int64_t now) { return base::utc_format(now, "%Y%m%dT%H%M%S"); }

// One DNS answer, running the loop until it arrives.
router::DnsAnswer resolve(event_base* base, router::DnsService& dns, const std::string& name, router::DnsType t) {
  std::optional<router::DnsAnswer> got;
  auto l = dns.lookup(name, t, [&](router::DnsAnswer a) {
    got = std::move(a);
    event_base_loopbreak(base);
  });
  event_base_dispatch(base);
  if (got) return *got;
  router::DnsAnswer a;
  a.reason = "the event loop ended before DNS answered";
  return a;
}

std::vector<std::string> mx_names(const router::DnsAnswer& a) {
  std::vector<std::string> out;
  std::vector<router::MxRecord> mx = a.mx;
  std::stable_sort(mx.begin(), mx.end(), [](const auto& x, const auto& y) { return x.preference < y.preference; });
  for (const auto& m : mx) {
    if (!m.exchange.empty()) out.push_back(m.exchange);
  }
  return out;
}

int record(const CliArgs& args, std::ostream& out) {
  const std::string domain = router::normalise_domain(args.positional[1]);
  config::Dns dns_cfg;
  dns_cfg.timeout = 5;
  auto loaded = config::load_config(args.config);
  if (loaded.config) dns_cfg = loaded.config->dns;
  std::vector<std::string> mx;
  base::EventBasePtr base(event_base_new());
  std::string why;
  if (auto dns = base ? router::DnsResolver::create(base.get(), dns_cfg, &why) : nullptr) {
    mx = mx_names(resolve(base.get(), *dns, domain, router::DnsType::MX));
  }
  out << mta_sts_record_text(domain, static_cast<int64_t>(time(nullptr)), mx);
  return 0;
}

void print_policy_result(const router::PolicyResult& r, std::ostream& out) {
  if (!r.policy_text.empty()) {
    out << "policy file as served:\n";
    std::string t = r.policy_text;
    if (t.size() > 4096) t = t.substr(0, 4096) + "\n[... " + std::to_string(r.policy_text.size()) + " bytes]";
    size_t pos = 0;
    while (pos < t.size()) {
      size_t lf = t.find('\n', pos);
      std::string line = t.substr(pos, lf == std::string::npos ? std::string::npos : lf - pos);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out << "  | " << line << "\n";
      if (lf == std::string::npos) break;
      pos = lf + 1;
    }
  }
  if (!r.error.empty()) {
    out << "problem: " << r.error;
    if (!r.failure_type.empty()) out << " [TLS-RPT result-type " << r.failure_type << "]";
    out << "\n";
  }
  for (const auto& n : r.notes) out << "note: " << n << "\n";
  if (!r.policy) {
    out << "policy in force: none (delivery to this domain is not changed by MTA-STS)\n";
    return;
  }
  out << "policy in force: mode " << router::sts_mode_name(r.policy->mode) << ", "
      << router::policy_source_name(r.source) << ", id " << r.id << ", max_age " << r.policy->max_age
      << ", cached until " << base::rfc3339(r.expires) << "\n";
  for (const auto& m : r.policy->mx) out << "  mx: " << m << "\n";
}

int check(const CliArgs& args, std::ostream& out, std::ostream& err) {
  auto loaded = config::load_config(args.config);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) err << e << "\n";
    return 1;
  }
  const config::Config& cfg = *loaded.config;
  const std::string domain = router::normalise_domain(args.positional[1]);
  base::EventBasePtr base(event_base_new());
  std::string why;
  auto ctx = router::make_https_context(cfg.tls.ca_file, &why);
  if (!base || !ctx) {
    err << "smarthost mta-sts check: " << (why.empty() ? "cannot create an event loop" : why) << "\n";
    return 1;
  }
  auto dns = router::DnsResolver::create(base.get(), cfg.dns, &why);
  if (!dns) {
    err << "smarthost mta-sts check: " << why << "\n";
    return 1;
  }
  auto cache = router::StsCache::open(router::sts_cache_dir(cfg.queue.path), &why);
  if (!cache) out << "note: no policy cache (" << why << ")\n";
  out << "domain: " << domain << "\n";
  router::StsOptions opts;
  opts.https_port = cfg.mta_sts.https_port;
  opts.timeout = cfg.mta_sts.fetch_timeout;
  opts.always_fetch = true;
  std::optional<router::PolicyResult> got;
  auto lookup = router::PolicyLookup::start(base.get(), *dns, ctx.get(), cache.get(), opts, domain,
                                            [&](router::PolicyResult r) {
                                              got = std::move(r);
                                              event_base_loopbreak(base.get());
                                            });
  event_base_dispatch(base.get());
  if (!got) {
    err << "smarthost mta-sts check: the event loop ended before the lookup finished\n";
    return 1;
  }
  out << "_mta-sts." << domain << " TXT: " << (got->txt.empty() ? "(none)" : "\"" + got->txt + "\"") << "\n";
  out << "policy url: https://mta-sts." << domain
      << (opts.https_port == 443 ? "" : ":" + std::to_string(opts.https_port)) << "/.well-known/mta-sts.txt\n";
  print_policy_result(*got, out);

  router::DnsAnswer tls = resolve(base.get(), *dns, "_smtp._tls." + domain, router::DnsType::TXT);
  std::string rua_err;
  auto rua = parse_tlsrpt_txt(tls.txt, &rua_err);
  out << "_smtp._tls." << domain << " TXT: ";
  if (rua.empty()) {
    out << "not usable (" << (tls.status == router::DnsStatus::Ok ? rua_err : router::dns_status_name(tls.status))
        << ")\n";
  } else {
    for (size_t i = 0; i < rua.size(); ++i) out << (i ? ", " : "rua ") << rua[i];
    out << "\n";
  }
  router::DnsAnswer mx = resolve(base.get(), *dns, domain, router::DnsType::MX);
  for (const auto& h : mx_names(mx)) {
    out << "MX " << h << ": "
        << (!got->policy ? "no policy" : router::mx_matches_policy(h, *got->policy) ? "named by the policy"
                                                                                    : "NOT named by the policy")
        << "\n";
  }
  bool ok = got->source == router::PolicySource::Fetched;
  out << "result: " << (ok ? "valid policy published" : "no valid policy could be fetched") << "\n";
  if (!ok) {
    err << "smarthost mta-sts check: " << domain << ": "
        << (got->error.empty() ? "no MTA-STS policy published" : got->error) << "\n";
  }
  return ok ? 0 : 1;
}

}  // namespace

std::string mta_sts_record_text(const std::string& domain, int64_t now, const std::vector<std::string>& mx) {
  std::string out;
  out += "; MTA-STS and TLS reporting for " + domain + " (RFC 8461, RFC 8460).\n";
  out += "; 1. Create a mailbox for the reports, then publish TLS reporting first:\n";
  out += "_smtp._tls." + domain + ". IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@" + domain + "\"\n";
  out += "; 2. Serve the policy below at https://mta-sts." + domain + "/.well-known/mta-sts.txt\n";
  out += ";    (text/plain, a certificate for mta-sts." + domain + " from a public CA, no redirects),\n";
  out += ";    then publish the record; change the id whenever the policy changes:\n";
  out += "_mta-sts." + domain + ". IN TXT \"v=STSv1; id=" + sts_id(now) + "\"\n";
  out += "; 3. Policy file. Start with mode testing and read the reports; switch to enforce\n";
  out += ";    (and a longer max_age, e.g. 1209600) once every MX host passes.\n";
  out += "version: STSv1\nmode: testing\n";
  if (mx.empty()) {
    out += "mx: mail." + domain + "\n";
  } else {
    for (const auto& m : mx) out += "mx: " + m + "\n";
  }
  out += "max_age: 86400\n";
  if (mx.empty()) out += "; (no MX records found: replace the mx line with your MX host names)\n";
  return out;
}

int cmd_mta_sts(const CliArgs& args, std::ostream& out, std::ostream& err) {
  if (args.positional.size() != 2 || (args.positional[0] != "record" && args.positional[0] != "check")) {
    err << "usage: smarthost mta-sts record DOMAIN | mta-sts check -c FILE DOMAIN\n";
    return 2;
  }
  if (args.positional[0] == "record") return record(args, out);
  return check(args, out, err);
}

}  // namespace relay
