#!/usr/bin/env bash
# make-run-cert.sh - a self-signed STARTTLS certificate for `make run`.
#
# Writes var/tls/relay.pem and relay.key (mode 0600) unless they exist.
set -euo pipefail
dir=${1:-var/tls}
[ -s "$dir/relay.pem" ] && [ -s "$dir/relay.key" ] && exit 0
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=relay.example.com" \
  -addext "subjectAltName=DNS:relay.example.com,DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/relay.key" -out "$dir/relay.pem" 2>/dev/null
echo "made $dir/relay.pem (self-signed)" >&2
