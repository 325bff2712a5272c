// cmd_mta_sts.h - `smarthost mta-sts record DOMAIN` and `smarthost mta-sts check -c FILE DOMAIN`:
// MTA-STS and TLS-RPT helpers for the organisation's own domain (seed 002).
//
// record: prints the two TXT records to publish (_smtp._tls first, then _mta-sts, as seed 002
//         recommends) with an id made of the current UTC time (20261123T170000), and the policy
//         file for https://mta-sts.DOMAIN/.well-known/mta-sts.txt in mode testing, with the
//         domain's MX hosts when DNS can tell them (the config's dns section when -c names a
//         readable config, else /etc/resolv.conf; a placeholder otherwise). Exit 0.
// check:  looks up _mta-sts.DOMAIN, fetches the policy exactly as delivery does (CA and host name
//         verified against tls.ca_file, no redirects, 64 KiB, mta_sts.fetch_timeout), validates
//         it, looks up _smtp._tls.DOMAIN and the MX hosts and says which hosts the policy allows.
//         A good fetch refreshes the relay's policy cache; when the fetch fails the cached policy
//         (if any) is shown as the one delivery would use. Exit 0 when a valid policy was fetched
//         now, 1 otherwise (no record, fetch or parse failure: the reason on stdout and one
//         line on stderr), 2 on usage errors.
#pragma once

#include <iosfwd>
#include <string>

#include "config/config.h"
#include "relay/cli/cli_args.h"

namespace relay {

// args.positional: {"record", DOMAIN} or {"check", DOMAIN}. Loads the config itself (record
// works without one).
int cmd_mta_sts(const CliArgs& args, std::ostream& out, std::ostream& err);

// The "record" text for `domain` at unix time `now` with the given MX host names (may be empty).
std::string mta_sts_record_text(const std::string& domain, int64_t now, const std::vector<std::string>& mx);

}  // namespace relay
