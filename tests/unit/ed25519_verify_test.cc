// ed25519_verify_test.cc - certs/ed25519_verify: RFC 8032 test vector 2, and what must not verify.
#include <string>

#include "certs/ed25519_verify.h"

// Last: CppUTest's leak-detector macros redefine `new`.
#include <CppUTest/TestHarness.h>

using certs::SignatureVerdict;

namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// RFC 8032 section 7.1, TEST 2: its public key as `openssl pkey -pubout` writes it, message 0x72.
const std::string kKey =
    "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAPUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=\n-----END PUBLIC KEY-----\n";
const std::string kMessage = unhex("72");
const std::string kSignature = unhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");

const char* name(SignatureVerdict v) {
  switch (v) {
    case SignatureVerdict::Good: return "Good";
    case SignatureVerdict::Bad: return "Bad";
    case SignatureVerdict::KeyError: return "KeyError";
  }
  return "?";
}

}  // namespace

TEST_GROUP(Ed25519Verify){};

TEST(Ed25519Verify, Table) {
  std::string flipped_sig = kSignature;
  flipped_sig[10] ^= 0x01;
  struct Case {
    const char* what;
    std::string key, message, signature;
    SignatureVerdict want;
  } cases[] = {
      {"RFC 8032 test 2", kKey, kMessage, kSignature, SignatureVerdict::Good},
      {"one bit of the signature flipped", kKey, kMessage, flipped_sig, SignatureVerdict::Bad},
      {"another message", kKey, unhex("73"), kSignature, SignatureVerdict::Bad},
      {"signature cut short", kKey, kMessage, kSignature.substr(0, 63), SignatureVerdict::Bad},
      {"no signature", kKey, kMessage, "", SignatureVerdict::Bad},
      {"key that is not PEM", "not a key", kMessage, kSignature, SignatureVerdict::KeyError},
  };
  for (const auto& c : cases) {
    std::string error;
    SignatureVerdict got = certs::ed25519_verify(c.key, c.message, c.signature, &error);
    if (got != c.want) {
      FAIL((std::string(c.what) + ": got " + name(got) + ", want " + name(c.want) + " (" + error + ")").c_str());
    }
  }
}
