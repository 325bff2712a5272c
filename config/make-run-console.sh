#!/usr/bin/env bash
# make-run-console.sh - `make run CONSOLE=1`: the sample config with the admin console on.
#
# usage: make-run-console.sh BIN CONFIG OUT [PORT]   (PORT default 8443)
#
# Writes OUT: CONFIG with an `admin` section appended (HTTPS on 127.0.0.1:PORT with CONFIG's
# tls.cert, one user "admin", /metrics open to 127.0.0.1). The password is made once, kept in
# var/console-password (0600, beside var/tls) and hashed by `BIN admin-passwd`; the URL, user and
# password are printed on stderr, so the person who typed `make run CONSOLE=1` can log in.
# Fails (exit 1, a line on stderr) when the hash cannot be made.
set -euo pipefail
bin=$1
config=$2
out=$3
port=${4:-8443}
pwfile=var/console-password
mkdir -p var "$(dirname "$out")"
if ! [ -s "$pwfile" ]; then
  (umask 077; openssl rand -base64 15 | tr -d '/+=\n' >"$pwfile")
fi
password=$(cat "$pwfile")
if ! hash=$(printf '%s\n' "$password" | "$bin" admin-passwd); then
  echo "make-run-console.sh: $bin admin-passwd failed" >&2
  exit 1
fi
{
  cat "$config"
  printf '\n# Added by config/make-run-console.sh (make run CONSOLE=1).\n'
  printf 'admin = { listen = ( { address = "127.0.0.1"; port = %s; } );\n' "$port"
  printf '          users = ( { name = "admin"; password_hash = "%s"; } );\n' "$hash"
  printf '          metrics_allow = [ "127.0.0.1/32" ]; };\n'
} >"$out"
echo "admin console: https://127.0.0.1:$port/ user admin password $password (in $pwfile)" >&2
