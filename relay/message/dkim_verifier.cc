// dkim_verifier.cc - DKIM verification with wolfCrypt (see dkim_verifier.h).
#include "relay/message/dkim_verifier.h"

// options.h first: the build's feature macros decide the structure layouts.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/signature.h>

#include <algorithm>
#include <cctype>

#include "relay/message/base64.h"
#include "relay/message/message_header.h"

namespace relay {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string strip_wsp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') out += c;
  }
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

std::optional<uint64_t> number(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

std::optional<DkimCanon> canon_name(const std::string& s) {
  if (s == "simple") return DkimCanon::Simple;
  if (s == "relaxed") return DkimCanon::Relaxed;
  return std::nullopt;
}

// Fills sig from its tag list; returns the reason it is unusable, or "".
std::string parse_tags(const std::string& field, DkimSignature& sig) {
  auto colon = field.find(':');
  auto tags = dkim_tag_list(field.substr(colon + 1));
  if (!tags) return "malformed tag list";
  auto& t = *tags;
  for (const char* k : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (!t.count(k)) return std::string("missing ") + k + "= tag";
  }
  if (t["v"] != "1") return "unknown version v=" + t["v"];
  sig.algorithm = lower(t["a"]);
  if (sig.algorithm == "rsa-sha1") return "rsa-sha1 is not accepted (RFC 8301)";
  if (sig.algorithm != "rsa-sha256" && sig.algorithm != "ed25519-sha256") return "unknown algorithm " + sig.algorithm;
  sig.domain = lower(strip_wsp(t["d"]));
  while (!sig.domain.empty() && sig.domain.back() == '.') sig.domain.pop_back();
  sig.selector = lower(strip_wsp(t["s"]));
  if (sig.domain.empty() || sig.selector.empty()) return "empty d= or s=";
  for (const auto& h : split(strip_wsp(t["h"]), ':')) sig.headers.push_back(lower(h));
  if (std::find(sig.headers.begin(), sig.headers.end(), "from") == sig.headers.end()) return "h= does not sign From";
  auto bh = base64_decode(t["bh"]);
  auto b = base64_decode(t["b"]);
  if (!bh || !b || b->empty()) return "bad base64 in bh= or b=";
  sig.body_hash = *bh;
  sig.signature = *b;
  sig.b_prefix = strip_wsp(t["b"]).substr(0, 8);
  if (t.count("c")) {
    auto parts = split(lower(strip_wsp(t["c"])), '/');
    auto hc = canon_name(parts[0]);
    auto bc = parts.size() > 1 ? canon_name(parts[1]) : std::optional<DkimCanon>(DkimCanon::Simple);
    if (!hc || !bc || parts.size() > 2) return "unknown canonicalisation c=" + t["c"];
    sig.header_canon = *hc;
    sig.body_canon = *bc;
  }
  if (t.count("q") && lower(strip_wsp(t["q"])).find("dns/txt") == std::string::npos) return "unknown q=" + t["q"];
  if (t.count("l") && !(sig.length = number(strip_wsp(t["l"])))) return "bad l=";
  if (t.count("t")) {
    auto v = number(strip_wsp(t["t"]));
    if (!v) return "bad t=";
    sig.timestamp = static_cast<int64_t>(*v);
  }
  if (t.count("x")) {
    auto v = number(strip_wsp(t["x"]));
    if (!v) return "bad x=";
    sig.expires = static_cast<int64_t>(*v);
    if (sig.timestamp && *sig.expires < *sig.timestamp) return "x= is before t=";
  }
  sig.auid = t.count("i") ? strip_wsp(t["i"]) : "@" + sig.domain;
  std::string idom = lower(sig.auid.substr(sig.auid.rfind('@') + 1));
  bool sub = idom.size() > sig.domain.size() && idom.compare(idom.size() - sig.domain.size() - 1, std::string::npos,
                                                             "." + sig.domain) == 0;
  if (sig.auid.find('@') == std::string::npos || (idom != sig.domain && !sub)) return "i= is not within d=";
  return "";
}

struct RsaPub {
  RsaKey key{};
  bool init = false;
  ~RsaPub() {
    if (init) wc_FreeRsaKey(&key);
  }
};

struct EdPub {
  ed25519_key key{};
  bool init = false;
  ~EdPub() {
    if (init) wc_ed25519_free(&key);
  }
};

DkimCheck fail(DkimResult r, std::string why) { return {r, std::move(why)}; }

DkimCheck verify_rsa(const std::string& der, const std::string& data, const std::string& signature) {
  RsaPub pub;
  if (wc_InitRsaKey(&pub.key, nullptr) != 0) return fail(DkimResult::TempError, "wolfCrypt RSA init failed");
  pub.init = true;
  word32 idx = 0;
  if (wc_RsaPublicKeyDecode(reinterpret_cast<const byte*>(der.data()), &idx, &pub.key,
                            static_cast<word32>(der.size())) != 0) {
    return fail(DkimResult::PermError, "the key record's p= is not an RSA public key");
  }
  if (wc_RsaEncryptSize(&pub.key) < 128) return fail(DkimResult::PermError, "RSA key shorter than 1024 bits (RFC 8301)");
  int rc = wc_SignatureVerify(WC_HASH_TYPE_SHA256, WC_SIGNATURE_TYPE_RSA_W_ENC,
                              reinterpret_cast<const byte*>(data.data()), static_cast<word32>(data.size()),
                              reinterpret_cast<const byte*>(signature.data()), static_cast<word32>(signature.size()),
                              &pub.key, sizeof pub.key);
  if (rc != 0) return fail(DkimResult::Fail, "signature did not verify");
  return {DkimResult::Pass, ""};
}

DkimCheck verify_ed25519(const std::string& raw, const std::string& data, const std::string& signature) {
  EdPub pub;
  if (wc_ed25519_init(&pub.key) != 0) return fail(DkimResult::TempError, "wolfCrypt Ed25519 init failed");
  pub.init = true;
  if (raw.size() != ED25519_PUB_KEY_SIZE ||
      wc_ed25519_import_public(reinterpret_cast<const byte*>(raw.data()), static_cast<word32>(raw.size()), &pub.key) != 0) {
    return fail(DkimResult::PermError, "the key record's p= is not an Ed25519 public key");
  }
  if (signature.size() != ED25519_SIG_SIZE) return fail(DkimResult::Fail, "signature did not verify");
  const std::string digest = sha256_bytes(data);  // RFC 8463 3: Ed25519 signs the SHA-256 hash
  int ok = 0;
  int rc = wc_ed25519_verify_msg(reinterpret_cast<const byte*>(signature.data()), static_cast<word32>(signature.size()),
                                 reinterpret_cast<const byte*>(digest.data()), static_cast<word32>(digest.size()), &ok,
                                 &pub.key);
  if (rc != 0 || ok != 1) return fail(DkimResult::Fail, "signature did not verify");
  return {DkimResult::Pass, ""};
}

}  // namespace

const char* dkim_result_name(DkimResult r) {
  switch (r) {
    case DkimResult::Pass: return "pass";
    case DkimResult::Fail: return "fail";
    case DkimResult::TempError: return "temperror";
    case DkimResult::PermError: return "permerror";
  }
  return "?";
}

std::vector<DkimSignature> dkim_signatures(const std::string& message, size_t limit) {
  size_t body_start = 0;
  std::vector<std::string> fields = header_fields(message, &body_start);
  std::vector<DkimSignature> out;
  for (size_t i = 0; i < fields.size() && out.size() < limit; ++i) {
    if (field_name(fields[i]) != "dkim-signature") continue;
    DkimSignature sig;
    sig.field_index = i;
    sig.field = fields[i];
    sig.error = parse_tags(fields[i], sig);
    out.push_back(std::move(sig));
  }
  return out;
}

DkimCheck dkim_verify(const std::string& message, const DkimSignature& sig, const std::string& key_record,
                      int64_t now) {
  if (!sig.error.empty()) return fail(DkimResult::PermError, sig.error);
  if (sig.expires && now > *sig.expires) {
    return fail(DkimResult::PermError, "signature expired (x=" + std::to_string(*sig.expires) + ")");
  }
  auto key = dkim_tag_list(key_record);
  if (!key) return fail(DkimResult::PermError, "malformed key record");
  auto& k = *key;
  if (k.count("v") && k["v"] != "DKIM1") return fail(DkimResult::PermError, "key record is not v=DKIM1");
  std::string kt = k.count("k") ? lower(k["k"]) : "rsa";
  bool ed = sig.algorithm == "ed25519-sha256";
  if (kt != (ed ? "ed25519" : "rsa")) return fail(DkimResult::PermError, "key type k=" + kt + " does not fit a=" + sig.algorithm);
  if (k.count("h") && lower(k["h"]).find("sha256") == std::string::npos) {
    return fail(DkimResult::PermError, "key does not allow sha256 (h=" + k["h"] + ")");
  }
  if (k.count("s")) {
    std::string s = lower(strip_wsp(k["s"]));
    if (s.find("email") == std::string::npos && s.find('*') == std::string::npos) {
      return fail(DkimResult::PermError, "key is not for email (s=" + k["s"] + ")");
    }
  }
  if (k.count("t")) {
    for (const auto& flag : split(strip_wsp(k["t"]), ':')) {
      if (flag == "s" && lower(sig.auid.substr(sig.auid.rfind('@') + 1)) != sig.domain) {
        return fail(DkimResult::PermError, "key has t=s but i= is a subdomain of d=");
      }
    }
  }
  if (!k.count("p")) return fail(DkimResult::PermError, "key record has no p=");
  if (strip_wsp(k["p"]).empty()) return fail(DkimResult::PermError, "key revoked (empty p=)");
  auto pub = base64_decode(k["p"]);
  if (!pub) return fail(DkimResult::PermError, "bad base64 in the key record's p=");

  size_t body_start = 0;
  std::vector<std::string> fields = header_fields(message, &body_start);
  std::string body = dkim_canon_body(message.substr(body_start), sig.body_canon);
  if (sig.length) {
    if (*sig.length > body.size()) return fail(DkimResult::PermError, "l= is longer than the body");
    body.resize(*sig.length);
  }
  if (sha256_bytes(body) != sig.body_hash) return fail(DkimResult::Fail, "body hash mismatch");

  std::string data;
  for (long i : dkim_select_fields(fields, sig.headers)) {
    if (i >= 0) data += dkim_canon_header(fields[static_cast<size_t>(i)], sig.header_canon);
  }
  data += dkim_signature_hash_input(sig.field, sig.header_canon);
  return ed ? verify_ed25519(*pub, data, sig.signature) : verify_rsa(*pub, data, sig.signature);
}

}  // namespace relay
