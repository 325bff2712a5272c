// ed25519_verify.cc - Ed25519 signature check with wolfCrypt (see ed25519_verify.h).
#include "certs/ed25519_verify.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>

#include <vector>

namespace certs {

namespace {

// An initialised ed25519_key, freed with it.
class Ed25519Key {
 public:
  Ed25519Key() : ok_(wc_ed25519_init(&key_) == 0) {}
  ~Ed25519Key() {
    if (ok_) wc_ed25519_free(&key_);
  }
  Ed25519Key(const Ed25519Key&) = delete;
  Ed25519Key& operator=(const Ed25519Key&) = delete;
  bool ok() const { return ok_; }
  ed25519_key* get() { return &key_; }

 private:
  ed25519_key key_{};
  bool ok_;
};

}  // namespace

SignatureVerdict ed25519_verify(const std::string& public_key_pem, const std::string& message,
                                const std::string& signature, std::string* error) {
  std::vector<byte> der(public_key_pem.size() + 1);
  int n = wc_PubKeyPemToDer(reinterpret_cast<const byte*>(public_key_pem.data()),
                            static_cast<int>(public_key_pem.size()), der.data(), static_cast<int>(der.size()));
  if (n <= 0) {
    *error = "not a PEM public key";
    return SignatureVerdict::KeyError;
  }
  Ed25519Key key;
  word32 idx = 0;
  if (!key.ok() || wc_Ed25519PublicKeyDecode(der.data(), &idx, key.get(), static_cast<word32>(n)) != 0) {
    *error = "not an Ed25519 public key";
    return SignatureVerdict::KeyError;
  }
  if (signature.size() != ED25519_SIG_SIZE) return SignatureVerdict::Bad;
  int good = 0;
  int rc = wc_ed25519_verify_msg(reinterpret_cast<const byte*>(signature.data()), ED25519_SIG_SIZE,
                                 reinterpret_cast<const byte*>(message.data()), static_cast<word32>(message.size()),
                                 &good, key.get());
  return rc == 0 && good == 1 ? SignatureVerdict::Good : SignatureVerdict::Bad;
}

}  // namespace certs
