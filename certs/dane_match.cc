// dane_match.cc - TLSA records against the peer chain (see the header).
#include "certs/dane_match.h"

#include <wolfssl/wolfcrypt/hash.h>

#include <memory>

#include "certs/tls_context.h"

namespace certs {

namespace {

std::string hex(const std::vector<uint8_t>& d) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : d) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

// The selected data digested as the record's matching type says; empty when the digest fails.
std::vector<uint8_t> digest(uint8_t matching_type, const std::vector<uint8_t>& in) {
  if (matching_type == 0) return in;
  std::vector<uint8_t> out(matching_type == 1 ? static_cast<size_t>(WC_SHA256_DIGEST_SIZE)
                                               : static_cast<size_t>(WC_SHA512_DIGEST_SIZE));
  const int rc = matching_type == 1 ? wc_Sha256Hash(in.data(), static_cast<word32>(in.size()), out.data())
                                    : wc_Sha512Hash(in.data(), static_cast<word32>(in.size()), out.data());
  if (rc != 0) out.clear();
  return out;
}

const char* usage_name(uint8_t u) {
  switch (u) {
    case 0: return "PKIX-TA(0)";
    case 1: return "PKIX-EE(1)";
    case 2: return "DANE-TA(2)";
    case 3: return "DANE-EE(3)";
    default: return "unknown usage";
  }
}

std::string unusable_why(const DaneRecord& r) {
  if (r.usage != 2 && r.usage != 3)
    return std::string(usage_name(r.usage)) + " is not used for SMTP (RFC 7672 3.1.3)";
  if (r.selector > 1) return "unknown selector " + std::to_string(r.selector);
  return "unknown matching type " + std::to_string(r.matching_type);
}

struct StoreFree {
  void operator()(WOLFSSL_X509_STORE* s) const { wolfSSL_X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(WOLFSSL_X509_STORE_CTX* c) const { wolfSSL_X509_STORE_CTX_free(c); }
};
struct StackFree {
  void operator()(WOLF_STACK_OF(WOLFSSL_X509) * s) const { wolfSSL_sk_X509_free(s); }
};

X509Ptr from_der(const std::vector<uint8_t>& der) {
  const unsigned char* p = der.data();
  return X509Ptr(wolfSSL_d2i_X509(nullptr, &p, static_cast<int>(der.size())));
}

// The chain leaf..chain[k-1] verifies with chain[k] as the one trust anchor (signatures, dates).
}  // namespace

bool dane_chain_verifies_to(const std::vector<ChainCert>& chain, size_t k) {
  if (k == 0) return true;  // the leaf itself is the anchor: nothing to verify
  std::unique_ptr<WOLFSSL_X509_STORE, StoreFree> store(wolfSSL_X509_STORE_new());
  std::unique_ptr<WOLFSSL_X509_STORE_CTX, StoreCtxFree> ctx(wolfSSL_X509_STORE_CTX_new());
  std::unique_ptr<WOLF_STACK_OF(WOLFSSL_X509), StackFree> untrusted(wolfSSL_sk_X509_new_null());
  X509Ptr anchor = from_der(chain[k].der);
  X509Ptr leaf = from_der(chain[0].der);
  if (!store || !ctx || !untrusted || !anchor || !leaf) return false;
  if (wolfSSL_X509_STORE_add_cert(store.get(), anchor.get()) != WOLFSSL_SUCCESS) return false;
  std::vector<X509Ptr> middle;  // owned here; the stack only borrows them
  for (size_t i = 1; i < k; ++i) {
    middle.push_back(from_der(chain[i].der));
    if (!middle.back() || wolfSSL_sk_X509_push(untrusted.get(), middle.back().get()) <= 0) return false;
  }
  if (wolfSSL_X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != WOLFSSL_SUCCESS)
    return false;
  const bool ok = wolfSSL_X509_verify_cert(ctx.get()) == WOLFSSL_SUCCESS;
  // The stack's entries belong to `middle`: empty it before it is freed.
  while (wolfSSL_sk_X509_num(untrusted.get()) > 0) wolfSSL_sk_X509_pop(untrusted.get());
  return ok;
}

std::string dane_record_text(const DaneRecord& r) {
  return std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
         std::to_string(r.matching_type) + " " + hex(r.data);
}

bool dane_usable(const DaneRecord& r) {
  return (r.usage == 2 || r.usage == 3) && r.selector <= 1 && r.matching_type <= 2;
}

bool dane_data_matches(const DaneRecord& r, const ChainCert& c) {
  const std::vector<uint8_t>& selected = r.selector == 0 ? c.der : c.spki;
  if (selected.empty() || r.data.empty()) return false;
  return digest(r.matching_type, selected) == r.data;
}

DaneMatchResult dane_match_chain(const std::vector<DaneRecord>& records,
                                 const std::vector<ChainCert>& chain, bool hostname_ok,
                                 const std::function<bool(size_t)>& ta_chain_ok) {
  DaneMatchResult m;
  if (chain.empty()) {
    m.why = "the server sent no certificate";
    return m;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const DaneRecord& r = records[i];
    const std::string text = dane_record_text(r);
    if (!dane_usable(r)) {
      m.notes.push_back(text + ": unusable, " + unusable_why(r));
      continue;
    }
    if (r.usage == 3) {
      if (dane_data_matches(r, chain[0])) {
        m.matched = true;
        m.record = static_cast<int>(i);
        return m;
      }
      m.notes.push_back(text + ": does not match the server's certificate");
      continue;
    }
    // DANE-TA: any certificate the peer sent may be the anchor (RFC 7672 3.2.2 wants it sent).
    std::string note = text + ": matches no certificate of the chain the server sent";
    for (size_t k = 0; k < chain.size(); ++k) {
      if (!dane_data_matches(r, chain[k])) continue;
      if (!ta_chain_ok(k)) {
        note = text + ": matches chain certificate " + std::to_string(k) +
               ", but the chain below it does not verify (signature or dates)";
        continue;
      }
      if (!hostname_ok) {
        note = text + ": the trust anchor matches, but the certificate does not name the host";
        break;
      }
      m.matched = true;
      m.record = static_cast<int>(i);
      return m;
    }
    m.notes.push_back(note);
  }
  m.why = "no TLSA record matches the server's certificate";
  for (const auto& n : m.notes) m.why += "; " + n;
  return m;
}

std::vector<ChainCert> peer_chain(WOLFSSL* ssl) {
  std::vector<ChainCert> out;
  WOLFSSL_X509_CHAIN* chain = ssl ? wolfSSL_get_peer_chain(ssl) : nullptr;
  const int count = chain ? wolfSSL_get_chain_count(chain) : 0;
  for (int i = 0; i < count; ++i) {
    X509Ptr x(wolfSSL_get_chain_X509(chain, i));
    if (!x) break;  // a gap would misplace every certificate above it
    out.push_back(chain_cert_of(x.get()));
  }
  return out;
}

ChainCert chain_cert_of(WOLFSSL_X509* x) {
  ChainCert c;
  int size = 0;
  const unsigned char* der = wolfSSL_X509_get_der(x, &size);
  if (der && size > 0) c.der.assign(der, der + size);
  if (wolfSSL_X509_get_pubkey_buffer(x, nullptr, &size) == WOLFSSL_SUCCESS && size > 0) {
    c.spki.resize(static_cast<size_t>(size));
    if (wolfSSL_X509_get_pubkey_buffer(x, c.spki.data(), &size) != WOLFSSL_SUCCESS) c.spki.clear();
  }
  return c;
}

DaneMatchResult dane_match(WOLFSSL* ssl, const std::vector<DaneRecord>& records, bool hostname_ok) {
  const std::vector<ChainCert> chain = peer_chain(ssl);
  return dane_match_chain(records, chain, hostname_ok,
                          [&chain](size_t k) { return dane_chain_verifies_to(chain, k); });
}

}  // namespace certs
