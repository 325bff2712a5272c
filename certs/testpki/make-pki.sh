#!/usr/bin/env bash
# make-pki.sh OUTDIR - a throwaway PKI for smarthost's tests, made with openssl.
#
# Writes into OUTDIR (created when missing):
#   ca.pem / ca.key         test root CA ("smarthost test root CA"); the only trust anchor
#   ca-bundle.pem           the trust store tests hand to tls.ca_file (the root CA only)
#   issuing-ca.pem / .key   intermediate CA under the root; signs the good leaves
#   rogue-ca.pem / .key     a second root that nothing trusts
#   NAME.pem / NAME.key     leaf + intermediate chain (PEM), unencrypted key, mode 0600:
#     valid       localhost, mx1/mx2/mail.test.example, *.wild.test.example, 127.0.0.1, ::1
#     valid-ec    the same names, ECDSA P-256 key
#     expired     the same names, validity ended a year ago
#     expiring    the same names, validity ends in 10 days (always more than 4 days left:
#                 inside the console's 14-day expiry warning, never expired)
#     notyet      the same names, validity starts in a year
#     wronghost   other.example only
#     untrusted   the valid names, signed by rogue-ca (chain: leaf + rogue-ca)
#     client      clientAuth certificate for relay.test.example
#     sloppy      only malformed wildcards: *, f*.partial.test.example,
#                 x.*.mid.test.example, *.example (must match no host at all)
#     cn-only     no subjectAltName; CN=mx1.test.example
#
# Idempotent: when OUTDIR/ca.pem exists, is newer than this script, valid.pem
# stays valid for another week and expiring.pem for another 4 days, nothing is done. Otherwise everything is made
# again. Concurrent callers are serialised with flock on OUTDIR/.lock.
# Prints nothing on success; on failure prints openssl's complaint and exits 1.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
self="${BASH_SOURCE[0]}"

exec 9>"$out/.lock"
flock 9

leaves=(valid valid-ec expired expiring notyet wronghost untrusted client sloppy cn-only)

fresh() {
  [ -s "$out/ca.pem" ] && [ "$out/ca.pem" -nt "$self" ] || return 1
  local n
  for n in "${leaves[@]}"; do
    [ -s "$out/$n.pem" ] && [ -s "$out/$n.key" ] || return 1
  done
  openssl x509 -noout -checkend 604800 -in "$out/valid.pem" >/dev/null 2>&1 &&
    openssl x509 -noout -checkend 345600 -in "$out/expiring.pem" >/dev/null 2>&1
}
fresh && exit 0

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/openssl.log"

# Runs openssl quietly; its output only matters when it fails.
ossl() {
  if ! openssl "$@" >>"$log" 2>&1; then
    echo "make-pki.sh: openssl $1 failed:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}

rsa_key() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# `openssl ca` is the only way in OpenSSL 3.0 to set explicit start and end
# dates (needed for the expired and not-yet-valid certificates), so every
# certificate goes through it with a minimal per-CA database.
ca_db() {
  local dir="$work/db-$1"
  mkdir -p "$dir/new"
  : >"$dir/index.txt"
  echo 1000 >"$dir/serial"
  cat >"$dir/ca.cnf" <<EOF
[ ca ]
default_ca = this
[ this ]
database = $dir/index.txt
new_certs_dir = $dir/new
serial = $dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
preserve = yes
[ any ]
organizationName = optional
commonName = supplied
EOF
}

# sign CA_NAME CSR OUT EXTFILE START END
sign() {
  local dir="$work/db-$1"
  ossl ca -batch -notext -config "$dir/ca.cnf" -cert "$work/$1.pem" -keyfile "$work/$1.key" \
    -in "$2" -out "$3" -extfile "$4" -startdate "$5" -enddate "$6"
}

ext() {  # ext FILE LINES... writes an extension file
  local f=$1; shift
  printf '%s\n' "$@" >"$f"
}

stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
now_minus_1h=$(stamp '-1 hour')
in_3y=$(stamp '+3 years')

root_ca() {  # root_ca NAME CN
  rsa_key "$work/$1.key"
  ossl req -new -x509 -key "$work/$1.key" -out "$work/$1.pem" -days 3650 -sha256 \
    -subj "/O=smarthost tests/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash"
  ca_db "$1"
}

root_ca ca "smarthost test root CA"
root_ca rogue-ca "smarthost rogue CA"

rsa_key "$work/issuing-ca.key"
ossl req -new -key "$work/issuing-ca.key" -out "$work/issuing-ca.csr" \
  -subj "/O=smarthost tests/CN=smarthost test issuing CA"
ext "$work/issuing.ext" "basicConstraints=critical,CA:TRUE,pathlen:0" \
  "keyUsage=critical,keyCertSign,cRLSign" "subjectKeyIdentifier=hash" \
  "authorityKeyIdentifier=keyid"
sign ca "$work/issuing-ca.csr" "$work/issuing-ca.pem" "$work/issuing.ext" "$now_minus_1h" "$in_3y"
ca_db issuing-ca

mx_names="DNS:localhost,DNS:mx1.test.example,DNS:mx2.test.example,DNS:mail.test.example"
mx_names="$mx_names,DNS:*.wild.test.example,IP:127.0.0.1,IP:::1"

server_ext() {  # server_ext FILE SAN
  ext "$1" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=$2" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid"
}

# leaf NAME KEYTYPE CA CN SAN-EXTFILE START END
leaf() {
  local name=$1 keytype=$2 ca=$3 cn=$4 extf=$5 start=$6 end=$7
  "${keytype}_key" "$work/$name.key"
  ossl req -new -key "$work/$name.key" -out "$work/$name.csr" -subj "/O=smarthost tests/CN=$cn"
  sign "$ca" "$work/$name.csr" "$work/$name.crt" "$extf" "$start" "$end"
  cat "$work/$name.crt" "$work/$ca.pem" >"$work/$name.pem"
}

server_ext "$work/mx.ext" "$mx_names"
server_ext "$work/other.ext" "DNS:other.example"
server_ext "$work/sloppy.ext" \
  "DNS:*,DNS:f*.partial.test.example,DNS:x.*.mid.test.example,DNS:*.example"
ext "$work/cn-only.ext" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
  "authorityKeyIdentifier=keyid"
ext "$work/client.ext" "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth" \
  "subjectAltName=DNS:relay.test.example" "authorityKeyIdentifier=keyid"

past_start=$(stamp '-2 years')
past_end=$(stamp '-1 year')
in_10d=$(stamp '+10 days')
future_start=$(stamp '+1 year')
future_end=$(stamp '+2 years')
mx=mx1.test.example
leaf valid rsa issuing-ca $mx "$work/mx.ext" "$now_minus_1h" "$in_3y"
leaf valid-ec ec issuing-ca $mx "$work/mx.ext" "$now_minus_1h" "$in_3y"
leaf expired rsa issuing-ca $mx "$work/mx.ext" "$past_start" "$past_end"
leaf expiring rsa issuing-ca $mx "$work/mx.ext" "$now_minus_1h" "$in_10d"
leaf notyet rsa issuing-ca $mx "$work/mx.ext" "$future_start" "$future_end"
leaf wronghost rsa issuing-ca other.example "$work/other.ext" "$now_minus_1h" "$in_3y"
leaf untrusted rsa rogue-ca $mx "$work/mx.ext" "$now_minus_1h" "$in_3y"
leaf sloppy rsa issuing-ca sloppy.test.example "$work/sloppy.ext" "$now_minus_1h" "$in_3y"
leaf cn-only rsa issuing-ca $mx "$work/cn-only.ext" "$now_minus_1h" "$in_3y"
leaf client rsa issuing-ca relay.test.example "$work/client.ext" "$now_minus_1h" "$in_3y"

cp "$work/ca.pem" "$work/ca-bundle.pem"
chmod 0600 "$work"/*.key
chmod 0644 "$work"/*.pem
# ca.pem goes last: its presence and age are what marks the set complete.
for f in "$work"/*.key "$work"/*.pem; do
  base=$(basename "$f")
  [ "$base" = ca.pem ] || mv -f "$f" "$out/$base"
done
mv -f "$work/ca.pem" "$out/ca.pem"
