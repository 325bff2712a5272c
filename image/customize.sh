#!/bin/sh
# customize.sh - mmdebstrap customize hook: turn the fresh Debian root into the appliance.
#
# SUMMARY: customize.sh ROOTDIR   (run by image/build.sh through mmdebstrap;
#          reads SMARTHOST_BINARY, SMARTHOST_FSTAB, SMARTHOST_IMAGE_VERSION and
#          SMARTHOST_UPDATE_PUBKEY from the environment)
#
# DESCRIPTION
#   Copies image/rootfs/ over the root, installs the smarthost binary and the
#   README, creates the smarthost user (fixed uid 990) with systemd-sysusers,
#   enables the appliance's units and masks the ones that want a writable root
#   or would wait for input on the console. The split into root and data
#   partitions is build.sh's job.
#
# DIAGNOSTICS
#   set -e: the first failing step stops mmdebstrap, which then reports the hook.
set -eu
root=$1
here=$(cd "$(dirname "$0")" && pwd)

cp -rT --no-preserve=ownership "$here/rootfs" "$root"
install -m 0755 "$SMARTHOST_BINARY" "$root/usr/sbin/smarthost"
install -D -m 0644 "$here/README.md" "$root/usr/share/doc/smarthost/README.md"
# What smarthost-update compares versions with, and the key it checks bundles with.
echo "$SMARTHOST_IMAGE_VERSION" > "$root/usr/lib/smarthost/image-version"
install -m 0644 "$SMARTHOST_UPDATE_PUBKEY" "$root/usr/lib/smarthost/update-signing.pub"
printf '%s\n' "$SMARTHOST_FSTAB" > "$root/etc/fstab"
echo smarthost > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tsmarthost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
  > "$root/etc/hosts"
# libunbound reads resolv.conf: give it the real upstream servers, not resolved's stub.
ln -sfn ../run/systemd/resolve/resolv.conf "$root/etc/resolv.conf"

chroot "$root" systemd-sysusers
chroot "$root" systemctl enable smarthost.service smarthost-firstboot.service \
  smarthost-check-config.service smarthost-health.service smarthost-grow-data.service \
  smarthost-console-password.service \
  systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
# Wants a writable /etc, prompts on the console, or maintains a package database; the last two
# would write to the ESP (systemd-boot is installed by build.sh, not by bootctl).
chroot "$root" systemctl mask systemd-firstboot.service apt-daily.timer \
  apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service \
  systemd-boot-update.service systemd-boot-system-token.service

install -d -m 0750 -o root -g 990 "$root/etc/smarthost" "$root/etc/smarthost/certs"
install -d -m 0750 -o 990 -g 990 "$root/var/lib/smarthost"
install -d -m 0755 "$root/data" "$root/etc/systemd/timesyncd.conf.d" "$root/boot/efi"
chroot "$root" passwd -l root >/dev/null
# Host keys made at build time would be shared by every appliance: see make-ssh-host-keys.
rm -f "$root"/etc/ssh/ssh_host_*

# The one initramfs, made reproducibly. build.sh runs mmdebstrap with INITRD=No, so the kernel's
# postinst made none (and the initramfs-tools trigger then finds none to update): under load each
# mkinitramfs run costs minutes, and the image needs only this one.
kver=$(cd "$root/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
chroot "$root" env -u INITRD SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" update-initramfs -c -k "$kver" >/dev/null

# Not needed on a read-only appliance; kept small and free of build-host facts.
rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/log/"* \
  "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old "$root/var/lib/dbus/machine-id" \
  "$root/var/cache/ldconfig/aux-cache"
: > "$root/etc/machine-id"
