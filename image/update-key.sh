#!/bin/sh
# update-key.sh - the Ed25519 key that signs appliance updates.
#
# SUMMARY: image/update-key.sh        prints the path of the private key (PEM)
#
# DESCRIPTION
#   SMARTHOST_UPDATE_KEY names the builder's own private key; otherwise the
#   key is image/keys/update-signing.key, generated (openssl genpkey) on the
#   first build. image/keys/ is in .gitignore: the private key is never
#   committed. The public key, which build.sh builds into the image as
#   /usr/lib/smarthost/update-signing.pub, is derived from it. Every image
#   built with one key accepts the updates signed with it, and only those:
#   keep the key (and a copy of it) for as long as appliances run.
#
# DIAGNOSTICS
#   "update-key.sh: ..." on stderr and exit 1 when the key cannot be made or read.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "update-key.sh: $*" >&2; exit 1; }

key=${SMARTHOST_UPDATE_KEY:-$here/keys/update-signing.key}
if [ -z "${SMARTHOST_UPDATE_KEY:-}" ] && [ ! -e "$key" ]; then
  mkdir -p "$(dirname "$key")"
  chmod 0700 "$(dirname "$key")"
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$key.tmp") || die "cannot generate $key"
  mv "$key.tmp" "$key"
  echo "update-key.sh: generated a new update signing key $key (keep it: updates for the images built now must be signed with it)" >&2
fi
[ -r "$key" ] || die "$key: cannot read the update signing key"
openssl pkey -in "$key" -noout 2>/dev/null || die "$key: not a private key openssl can read"
openssl pkey -in "$key" -text -noout 2>/dev/null | grep -q "ED25519 Private-Key" || die "$key: not an Ed25519 key"
echo "$key"
