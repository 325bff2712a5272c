#!/usr/bin/env bash
# install.sh - `make install`: what a normal (non-appliance) host needs.
#
# usage: install/install.sh BINARY DESTDIR PREFIX SYSCONFDIR UNITDIR
#
# Installs PREFIX/sbin/smarthost; the man pages smarthost(8) and smarthost-COMMAND(8), written by the
# binary itself from its compiled-in help (so the manual is `smarthost help COMMAND`); the systemd
# unit, made from the appliance's hardened unit by host-unit.sed; the sample config with absolute
# paths (host-config.sed) as PREFIX/share/smarthost/smarthost.cfg.sample, and as
# SYSCONFDIR/smarthost/smarthost.cfg only when there is none (an admin's file is never replaced);
# the sysusers.d entry for the "smarthost" user; the appliance's self-signed certificate maker; and
# docs/config.md. Fails (set -e) on the first step that fails; DESTDIR may be empty.
set -euo pipefail
bin=$1 destdir=$2 prefix=$3 sysconfdir=$4 unitdir=$5
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
d() { printf '%s%s' "$destdir" "$1"; }

install -D -m 0755 "$bin" "$(d "$prefix/sbin/smarthost")"

man8=$(d "$prefix/share/man/man8")
install -d "$man8"
"$bin" help --roff > "$man8/smarthost.8"
for cmd in $("$bin" help | sed -n '/^commands:$/,/^$/s/^  \([a-z-]*\) .*/\1/p'); do
  "$bin" help --roff "$cmd" > "$man8/smarthost-$cmd.8"
done

install -d "$(d "$unitdir")"
sed -f "$here/host-unit.sed" "$top/image/rootfs/etc/systemd/system/smarthost.service" |
  sed -e "s|@SBINDIR@|$prefix/sbin|g" > "$(d "$unitdir/smarthost.service")"
chmod 0644 "$(d "$unitdir/smarthost.service")"

sample=$(d "$prefix/share/smarthost/smarthost.cfg.sample")
install -d "$(dirname "$sample")"
sed -f "$here/host-config.sed" "$top/config/smarthost.cfg" > "$sample"
chmod 0644 "$sample"
cfg=$(d "$sysconfdir/smarthost/smarthost.cfg")
install -d -m 0755 "$(dirname "$cfg")"
[ -e "$cfg" ] || install -m 0644 "$sample" "$cfg"

install -D -m 0644 "$top/image/rootfs/usr/lib/sysusers.d/smarthost.conf" \
  "$(d "$prefix/lib/sysusers.d/smarthost.conf")"
install -D -m 0755 "$top/image/rootfs/usr/lib/smarthost/make-cert" "$(d "$prefix/lib/smarthost/make-cert")"
install -D -m 0644 "$top/docs/config.md" "$(d "$prefix/share/doc/smarthost/config.md")"
install -D -m 0644 "$top/README.md" "$(d "$prefix/share/doc/smarthost/README.md")"
