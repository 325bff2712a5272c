// cmd_verify_signature.cc - Ed25519 signature check for update bundles (see cmd_verify_signature.h).
#include "relay/cli/cmd_verify_signature.h"

#include <fstream>
#include <ostream>
#include <sstream>

#include "certs/ed25519_verify.h"

namespace relay {

namespace {

// The whole file, or false. Manifests and keys are small; this is not for the root image.
bool read_file(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  *out = s.str();
  return !f.bad();
}

}  // namespace

int cmd_verify_signature(const CliArgs& args, std::ostream& out, std::ostream& err) {
  const std::string key_file = args.value("--key"), sig_file = args.value("--signature");
  if (key_file.empty() || sig_file.empty() || args.positional.size() != 1) {
    err << "smarthost verify-signature: needs --key PUBKEY --signature SIG and one FILE\n";
    return 2;
  }
  const std::string& file = args.positional[0];
  std::string key, sig, message, error;
  for (auto [path, into] : {std::pair{key_file, &key}, {sig_file, &sig}, {file, &message}}) {
    if (!read_file(path, into)) {
      err << "smarthost verify-signature: cannot read " << path << "\n";
      return 1;
    }
  }
  switch (certs::ed25519_verify(key, message, sig, &error)) {
    case certs::SignatureVerdict::Good:
      out << "signature good: " << file << " is signed by " << key_file << "\n";
      return 0;
    case certs::SignatureVerdict::Bad:
      err << "smarthost verify-signature: bad signature: " << sig_file << " is not " << key_file
          << "'s Ed25519 signature of " << file << "\n";
      return 1;
    case certs::SignatureVerdict::KeyError:
      err << "smarthost verify-signature: " << key_file << ": " << error << "\n";
      return 1;
  }
  return 1;
}

}  // namespace relay
