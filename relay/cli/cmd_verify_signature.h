// cmd_verify_signature.h - `smarthost verify-signature --key PUBKEY --signature SIG FILE`.
//
// The appliance's update tool (image/rootfs/usr/sbin/smarthost-update) has the relay's own
// wolfSSL check the Ed25519 signature of an update bundle's manifest (certs/ed25519_verify.h).
// Exit 0 and "signature good" when SIG is PUBKEY's signature of FILE; 1 with "bad signature" or
// why the key or a file cannot be read; 2 on a usage error. Needs no configuration file.
#pragma once

#include <iosfwd>

#include "relay/cli/cli_args.h"

namespace relay {

int cmd_verify_signature(const CliArgs& args, std::ostream& out, std::ostream& err);

}  // namespace relay
