// dkim_signer.cc - relaxed/relaxed DKIM signing with wolfCrypt (see the header).
#include "relay/message/dkim_signer.h"

// options.h first: the build's feature macros decide the structure layouts.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <sstream>

#include "relay/message/message_header.h"  // header_fields, field_name
#include "relay/message/base64.h"

namespace relay {
namespace {


std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Owners of the wolfCrypt key structures (they live inside Impl, freed in its destructor).
struct Rng {
  WC_RNG rng{};
  bool ok = false;
  Rng() { ok = wc_InitRng(&rng) == 0; }
  ~Rng() {
    if (ok) wc_FreeRng(&rng);
  }
};

}  // namespace

const char* dkim_algorithm_name(DkimAlgorithm a) {
  switch (a) {
    case DkimAlgorithm::RsaSha256: return "rsa-sha256";
    case DkimAlgorithm::Ed25519Sha256: return "ed25519-sha256";
  }
  return "?";
}

class DkimKey::Impl {
 public:
  DkimAlgorithm alg = DkimAlgorithm::RsaSha256;
  RsaKey rsa{};
  ed25519_key ed{};
  bool rsa_init = false, ed_init = false;
  ~Impl() {
    if (rsa_init) wc_FreeRsaKey(&rsa);
    if (ed_init) wc_ed25519_free(&ed);
  }
};

DkimKey::DkimKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DkimKey::~DkimKey() = default;
DkimAlgorithm DkimKey::algorithm() const { return impl_->alg; }

std::unique_ptr<DkimKey> DkimKey::load(const std::string& pem_file, std::string* error) {
  std::ifstream in(pem_file, std::ios::binary);
  if (!in) {
    *error = pem_file + ": cannot read the DKIM key";
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto key = from_pem(ss.str(), error);
  if (!key) *error = pem_file + ": " + *error;
  return key;
}

std::unique_ptr<DkimKey> DkimKey::from_pem(const std::string& pem, std::string* error) {
  std::vector<byte> der(pem.size() + 16);
  int n = wc_KeyPemToDer(reinterpret_cast<const byte*>(pem.data()), static_cast<int>(pem.size()), der.data(),
                         static_cast<int>(der.size()), nullptr);
  if (n <= 0) {
    *error = "not a PEM private key";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  word32 idx = 0;
  if (wc_InitRsaKey(&impl->rsa, nullptr) == 0) {
    impl->rsa_init = true;
    if (wc_RsaPrivateKeyDecode(der.data(), &idx, &impl->rsa, static_cast<word32>(n)) == 0) {
      if (wc_RsaEncryptSize(&impl->rsa) < 128) {
        *error = "RSA key shorter than 1024 bits (RFC 8301 forbids it)";
        return nullptr;
      }
      impl->alg = DkimAlgorithm::RsaSha256;
      return std::unique_ptr<DkimKey>(new DkimKey(std::move(impl)));
    }
  }
  idx = 0;
  if (wc_ed25519_init(&impl->ed) == 0) {
    impl->ed_init = true;
    if (wc_Ed25519PrivateKeyDecode(der.data(), &idx, &impl->ed, static_cast<word32>(n)) == 0) {
      if (!impl->ed.pubKeySet) {
        unsigned char pub[ED25519_PUB_KEY_SIZE];
        unsigned char priv[ED25519_KEY_SIZE];
        word32 priv_len = sizeof priv;
        if (wc_ed25519_make_public(&impl->ed, pub, sizeof pub) != 0 ||
            wc_ed25519_export_private_only(&impl->ed, priv, &priv_len) != 0 ||
            wc_ed25519_import_private_key(priv, priv_len, pub, sizeof pub, &impl->ed) != 0) {
          *error = "cannot derive the Ed25519 public key";
          return nullptr;
        }
      }
      impl->alg = DkimAlgorithm::Ed25519Sha256;
      return std::unique_ptr<DkimKey>(new DkimKey(std::move(impl)));
    }
  }
  *error = "not an RSA or Ed25519 private key";
  return nullptr;
}

std::string DkimKey::dns_record() const {
  if (impl_->alg == DkimAlgorithm::Ed25519Sha256) {
    unsigned char pub[ED25519_PUB_KEY_SIZE];
    word32 len = sizeof pub;
    if (wc_ed25519_export_public(&impl_->ed, pub, &len) != 0) return "";
    return "v=DKIM1; k=ed25519; p=" + base64_encode(std::string(reinterpret_cast<char*>(pub), len));
  }
  std::vector<byte> der(4096);
  int n = wc_RsaKeyToPublicDer(&impl_->rsa, der.data(), static_cast<word32>(der.size()));
  if (n <= 0) return "";
  return "v=DKIM1; k=rsa; p=" + base64_encode(std::string(reinterpret_cast<char*>(der.data()), n));
}

std::optional<std::string> DkimKey::sign(const std::string& data, std::string* error) const {
  if (impl_->alg == DkimAlgorithm::Ed25519Sha256) {
    std::string digest = sha256_bytes(data);
    unsigned char sig[ED25519_SIG_SIZE];
    word32 len = sizeof sig;
    if (wc_ed25519_sign_msg(reinterpret_cast<const byte*>(digest.data()), static_cast<word32>(digest.size()), sig,
                            &len, &impl_->ed) != 0) {
      *error = "Ed25519 signing failed";
      return std::nullopt;
    }
    return std::string(reinterpret_cast<char*>(sig), len);
  }
  Rng rng;
  if (!rng.ok) {
    *error = "wolfCrypt random generator failed";
    return std::nullopt;
  }
  std::vector<byte> sig(static_cast<size_t>(wc_RsaEncryptSize(&impl_->rsa)));
  word32 len = static_cast<word32>(sig.size());
  int rc = wc_SignatureGenerate(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_RSA_W_ENC,
                                reinterpret_cast<const byte*>(data.data()), static_cast<word32>(data.size()),
                                sig.data(), &len, &impl_->rsa, sizeof impl_->rsa, &rng.rng);
  if (rc != 0) {
    *error = "RSA signing failed (wolfCrypt error " + std::to_string(rc) + ")";
    return std::nullopt;
  }
  return std::string(reinterpret_cast<char*>(sig.data()), len);
}

std::optional<std::string> dkim_signature(const std::string& message, const DkimKey& key, const DkimOptions& o,
                                          std::string* error) {
  size_t body_start = 0;
  std::vector<std::string> fields = header_fields(message, &body_start);
  const std::string bh = base64_encode(sha256_bytes(dkim_relaxed_body(message.substr(body_start))));
  // Section 5.4.2: each name takes the last unused instance, bottom up; names the message does
  // not have are left out of h=.
  std::vector<std::string> wanted;
  for (const auto& h : o.headers) wanted.push_back(lower(h));
  std::vector<long> picked = dkim_select_fields(fields, wanted);
  std::string signed_headers, names;
  for (size_t k = 0; k < picked.size(); ++k) {
    if (picked[k] < 0) continue;
    signed_headers += dkim_relaxed_header(fields[static_cast<size_t>(picked[k])]);
    names += (names.empty() ? "" : ":") + wanted[k];
  }
  int64_t t = o.timestamp ? o.timestamp : static_cast<int64_t>(time(nullptr));
  std::string sig_field = std::string("DKIM-Signature: v=1; a=") + dkim_algorithm_name(key.algorithm()) +
                          "; c=relaxed/relaxed;\r\n\td=" + o.domain + "; s=" + o.selector +
                          "; t=" + std::to_string(t) + ";\r\n\th=" + names + ";\r\n\tbh=" + bh + ";\r\n\tb=";
  // The hash input ends with the signature field itself, b= empty, no trailing CRLF (3.7).
  auto sig = key.sign(signed_headers + dkim_signature_hash_input(sig_field + "\r\n", DkimCanon::Relaxed), error);
  if (!sig) return std::nullopt;
  const std::string b = base64_encode(*sig);
  for (size_t i = 0; i < b.size(); i += 70) sig_field += (i ? "\r\n\t " : "") + b.substr(i, 70);
  return sig_field + "\r\n";
}

}  // namespace relay
