#!/usr/bin/env bash
# make-run-cert.sh - a self-signed STARTTLS certificate for `make run`.
#
# usage: make-run-cert.sh [DIR [CONFIG]]   (defaults: var/tls config/smarthost.cfg)
#
# Writes DIR/relay.pem (0644) and DIR/relay.key (0600) unless they exist. Run as
# root, the relay drops to CONFIG's `user` after binding, and a SIGHUP reload
# reads the key again as that user: so the key is handed to that user (still
# 0600) and DIR is made reachable (0755). This is redone on every run, so a key
# left by an older version (root 0600: every reload failed) is fixed too.
# Fails (exit 1, a line on stderr) when openssl fails or the user does not exist.
set -euo pipefail
dir=${1:-var/tls}
config=${2:-config/smarthost.cfg}
if ! [ -s "$dir/relay.pem" ] || ! [ -s "$dir/relay.key" ]; then
  mkdir -p "$dir"
  (umask 077
   openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=relay.example.com" \
     -addext "subjectAltName=DNS:relay.example.com,DNS:localhost,IP:127.0.0.1" \
     -keyout "$dir/relay.key" -out "$dir/relay.pem" 2>/dev/null)
  echo "made $dir/relay.pem (self-signed)" >&2
fi
chmod 0755 "$dir"
chmod 0644 "$dir/relay.pem"
chmod 0600 "$dir/relay.key"
# The relay changes user only when started as root (relay/privileges.cc).
[ "$(id -u)" = 0 ] || exit 0
user=$(sed -n 's/^[[:space:]]*user[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$config" | tail -n 1)
[ -n "$user" ] || user=smarthost   # the loader's default
if ! id "$user" >/dev/null 2>&1; then
  echo "make-run-cert.sh: user \"$user\" (from $config) does not exist" >&2
  exit 1
fi
chown "$user:" "$dir/relay.key"
