// ed25519_verify.h - checks an Ed25519 signature (RFC 8032, "pure" Ed25519) with wolfSSL.
//
// The appliance's update bundles are signed this way (image/make-update.sh signs the manifest
// with `openssl pkeyutl -sign -rawin`); smarthost-update has `smarthost verify-signature` check
// them with the public key built into the image. The key is a PEM "PUBLIC KEY" (SubjectPublicKey-
// Info, as `openssl pkey -pubout` writes it); the signature is the 64 raw octets.
//
// How it fails: a value. KeyError (with *error) when the key is not an Ed25519 public key in PEM;
// Bad when the signature does not verify (a wrong length included).
#pragma once

#include <string>

namespace certs {

enum class SignatureVerdict { Good, Bad, KeyError };

SignatureVerdict ed25519_verify(const std::string& public_key_pem, const std::string& message,
                                const std::string& signature, std::string* error);

}  // namespace certs
