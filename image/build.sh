#!/usr/bin/env bash
# build.sh - build the smarthost appliance disk image.
#
# SUMMARY: image/build.sh BINARY          (make image runs it with build/smarthost)
#
# DESCRIPTION
#   Writes image/out/smarthost-VERSION.img: a raw GPT disk that boots under
#   UEFI with systemd-boot. Partitions:
#     1 ESP    (FAT32, 128 MiB) systemd-boot; per root slot its kernel and
#                               initramfs (/smarthost/a, /smarthost/b) and a
#                               boot entry (loader/entries/smarthost-gN-SLOT.conf)
#     2 root A (ext4, read-only) minimal Debian 12 made by mmdebstrap from the
#                               mirror the build machine's apt uses, the binary
#                               and its runtime libraries, the systemd units
#     3 root B (same size, empty) the slot smarthost-update writes the next
#                               version into (A/B updates, R-UPDATE)
#     4 data   (ext4, 1 GiB, rw) /etc/smarthost (config seeded from
#                               config/smarthost.cfg, certificates, network and
#                               NTP settings), /var/lib/smarthost (the queue),
#                               /var/lib/systemd (random seed, clock); grown
#                               to the end of the disk at first boot
#   and image/out/smarthost-VERSION.update: the signed update bundle of the
#   same root (image/make-update.sh; the key: image/update-key.sh).
#   No loop devices and no mounts: mke2fs -d fills the ext4 file systems from
#   directories, mtools fills the FAT, sfdisk partitions a plain file and dd
#   puts the partitions in place. mmdebstrap needs root (root mode) so that
#   the tree it writes has the right owners for mke2fs -d.
#
#   Reproducible: SOURCE_DATE_EPOCH (default: the last commit's time) is the
#   time of every file newer than it and of the file systems; partition, disk
#   and file system ids are fixed. README.md says what still differs.
#
# ENVIRONMENT
#   SMARTHOST_IMAGE_CONFIG  config to seed instead of config/smarthost.cfg
#   SMARTHOST_IMAGE_AUTHORIZED_KEYS  public keys for root's SSH login, seeded into
#                           /etc/smarthost/ssh/authorized_keys (default: none, no sshd)
#   SOURCE_DATE_EPOCH       as above
#   SMARTHOST_UPDATE_KEY    the Ed25519 private key (PEM) that signs updates
#                           (default image/keys/update-signing.key, made once)
#   SMARTHOST_IMAGE_VERSION the appliance version (default: VERSION)
#   SMARTHOST_IMAGE_SLOT_MIB the size of each root slot (default: 1.5 x the root)
#
# DIAGNOSTICS
#   "build.sh: ..." on stderr and exit 1 at the first failing step.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
die() { echo "build.sh: $*" >&2; exit 1; }
trap 'echo "build.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

[ $# -eq 1 ] || die "usage: image/build.sh BINARY"
binary=$(readlink -f "$1")
[ -x "$binary" ] || die "$1: no such executable (run make first)"
[ "$(id -u)" -eq 0 ] || die "needs root: mmdebstrap must write a root-owned tree (no loop devices or mounts are used)"
config=${SMARTHOST_IMAGE_CONFIG:-$top/config/smarthost.cfg}
[ -r "$config" ] || die "$config: cannot read the config to seed"
version=${SMARTHOST_IMAGE_VERSION:-$(cat "$top/VERSION")}
update_key=$("$here/update-key.sh")
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$top" log -1 --format=%ct 2>/dev/null || true)
  [ -n "$SOURCE_DATE_EPOCH" ] || SOURCE_DATE_EPOCH=$(stat -c %Y "$top/VERSION")
fi
export SOURCE_DATE_EPOCH

# Fixed ids: the same image every build (and PARTUUIDs for the kernel and fstab).
disk_guid=bd599cd9-d510-4a77-9ff8-899251e2eee2
esp_partuuid=558b045c-1643-455a-ad65-4f822e938b6d
root_partuuid=076541d9-1070-497d-9fd9-16a2075072ee      # slot A
root_b_partuuid=5f0c2a8e-8a55-4f57-a3c9-2b1f4e0d6a1b    # slot B
data_partuuid=077bf126-52ec-4a83-9e53-fb71f5d9f3b9
root_fsuuid=c9493841-a3b4-4b7e-a2ed-74b8183e67e5
data_fsuuid=dd0e5f8e-082c-4e86-a7e4-584b8509e031
root_hash_seed=ddf56d26-3044-441f-a06c-1cb91ac65e2c
data_hash_seed=4c6d5910-6019-40b9-8f11-b8f0558f89fa
esp_volid=9ff82e2e
esp_mib=128
data_mib=1024
# The queue's LMDB map must fit the data partition as built (it grows at first boot; then raise
# it: check-config warns while it cannot fit), beside the journal (at most 128 MiB, journald.conf.d).
map_mib=512

work=$here/work/build
out=$here/out
cache=$here/work/apt-cache
img=$out/smarthost-$version.img
rootdir=$work/rootfs
datadir=$work/data
espdir=$work/esp
rm -rf "$work"
mkdir -p "$work" "$out" "$cache" "$espdir"
t0=$(date +%s)
step() { echo "build.sh: [$(( $(date +%s) - t0 ))s] $*" >&2; }

# --- runtime packages: the Debian package of every library the binary links ---
runtime_pkgs=()
for lib in $(objdump -p "$binary" | awk '$1 == "NEEDED" { print $2 }'); do
  # (no early exit in the readers: with pipefail a writer's SIGPIPE would end the build)
  path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found { print $NF; found = 1 }')
  [ -n "$path" ] || die "$lib: needed by $binary but not found by ldconfig"
  pkg=""
  for p in "$path" "$(readlink -f "$path")" "/usr$path" "${path#/usr}"; do
    pkg=$(dpkg-query -S "$p" 2>/dev/null | sed -n '1s/:.*//p') || true
    [ -n "$pkg" ] && break
  done
  [ -n "$pkg" ] || die "$lib ($path): no Debian package owns it"
  runtime_pkgs+=("$pkg")
done
runtime=$(printf '%s\n' "${runtime_pkgs[@]}" | sort -u | paste -sd, -)
step "runtime packages: $runtime"

base=systemd,systemd-sysv,systemd-resolved,systemd-timesyncd,udev,dbus,kmod,iproute2,netbase
base=$base,linux-image-amd64,initramfs-tools,zstd,e2fsprogs,openssl,ca-certificates,dns-root-data
base=$base,lmdb-utils,less,nano,openssh-server,systemd-boot

# Documentation, translations and kernel modules no server appliance needs.
dpkgopts=()
# Patterns end in a file name: dpkg's * also matches "/", and excluding a
# directory breaks packages that put files below it.
set -f  # the patterns are for dpkg, not for this shell
m=/lib/modules/*/kernel  # linux-image-* ships /lib/modules (not merged into /usr)
for p in /usr/share/doc/* /usr/share/man/*.gz /usr/share/info/*.gz /usr/share/locale/*.mo \
         /usr/share/lintian/* $m/sound/*.ko $m/drivers/gpu/*.ko $m/drivers/media/*.ko \
         $m/drivers/infiniband/*.ko $m/drivers/iio/*.ko $m/drivers/staging/*.ko \
         $m/drivers/comedi/*.ko $m/drivers/isdn/*.ko $m/drivers/bluetooth/*.ko \
         $m/drivers/net/wireless/*.ko $m/net/bluetooth/*.ko $m/net/wireless/*.ko \
         $m/net/mac80211/*.ko $m/drivers/mtd/*.ko $m/drivers/net/can/*.ko; do
  dpkgopts+=("--dpkgopt=path-exclude=$p")
done
dpkgopts+=("--dpkgopt=path-include=/usr/share/doc/*/copyright")
set +f

# No line for /: the root is slot A or B (root=PARTUUID= of the boot entry), mounted read-only.
# The ESP holds the boot entries smarthost-update writes and systemd-bless-boot renames.
fstab="# smarthost appliance: read-only root (slot A or B), one writable data partition.
PARTUUID=$esp_partuuid  /boot/efi  vfat  rw,noatime,nodev,nosuid,noexec,umask=0077  0 0
PARTUUID=$data_partuuid  /data  ext4  rw,noatime,nodev,nosuid,noexec,x-systemd.growfs  0 2
/data/etc  /etc/smarthost  none  bind,x-systemd.requires-mounts-for=/data  0 0
/data/lib  /var/lib/smarthost  none  bind,x-systemd.requires-mounts-for=/data  0 0
/data/systemd  /var/lib/systemd  none  bind,x-systemd.requires-mounts-for=/data  0 0
/etc/smarthost/network  /etc/systemd/network  none  bind,x-systemd.requires-mounts-for=/etc/smarthost  0 0
/etc/smarthost/timesyncd.conf.d  /etc/systemd/timesyncd.conf.d  none  bind,x-systemd.requires-mounts-for=/etc/smarthost  0 0
tmpfs  /tmp  tmpfs  mode=1777,nosuid,nodev,size=25%  0 0
tmpfs  /var/tmp  tmpfs  mode=1777,nosuid,nodev,size=10%  0 0
tmpfs  /var/log  tmpfs  mode=0755,nosuid,nodev,noexec,size=10%  0 0
/data/journal  /var/log/journal  none  bind,x-systemd.requires-mounts-for=/data  0 0"

# --- the Debian root ---
# INITRD=No: the kernel's postinst makes no initramfs (and the initramfs-tools trigger then finds
# none to update); customize.sh makes the one the image needs. Each mkinitramfs run costs minutes
# on a busy machine, and mmdebstrap would otherwise run it twice before customize.sh's third.
step "mmdebstrap (bookworm) from the mirror in /etc/apt"
"$here/aptsources.py" bookworm > "$work/sources" || die "no bookworm mirror in /etc/apt"
openssl pkey -in "$update_key" -pubout -out "$work/update-signing.pub"
SMARTHOST_BINARY=$binary SMARTHOST_FSTAB=$fstab SMARTHOST_IMAGE_VERSION=$version \
SMARTHOST_UPDATE_PUBKEY=$work/update-signing.pub \
INITRD=No \
mmdebstrap --mode=root --variant=minbase --include="$base,$runtime" "${dpkgopts[@]}" \
  --skip=download/empty \
  --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
  --setup-hook="find '$cache' -maxdepth 1 -name '*.deb' -exec cp -t \"\$1/var/cache/apt/archives/\" {} +" \
  --customize-hook="find \"\$1/var/cache/apt/archives\" -maxdepth 1 -name '*.deb' -exec cp -u -t '$cache' {} +" \
  --customize-hook="'$here/customize.sh' \"\$1\"" \
  bookworm "$rootdir" - < "$work/sources" > "$work/mmdebstrap.log" 2>&1 \
  || { tail -n 30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $work/mmdebstrap.log)"; }
dpkg-query --admindir="$rootdir/var/lib/dpkg" -W > "$out/smarthost-$version.packages"

# --- ESP: systemd-boot, kernel, initramfs ---
step "ESP"
kver=$(cd "$rootdir/boot" && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
[ -n "$kver" ] || die "no kernel in the image root"
mkdir -p "$espdir/EFI/BOOT" "$espdir/EFI/systemd" "$espdir/loader/entries" "$espdir/smarthost/a"
sdboot=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[ -r "$sdboot" ] || die "$sdboot missing (Debian package systemd-boot-efi)"
cp "$sdboot" "$espdir/EFI/BOOT/BOOTX64.EFI"
cp "$sdboot" "$espdir/EFI/systemd/systemd-bootx64.efi"
cp "$rootdir/boot/vmlinuz-$kver" "$espdir/smarthost/a/vmlinuz"
cp "$rootdir/boot/initrd.img-$kver" "$espdir/smarthost/a/initrd.img"
cp "$rootdir/boot/vmlinuz-$kver" "$work/vmlinuz"        # for the update bundle
cp "$rootdir/boot/initrd.img-$kver" "$work/initrd.img"
rm -f "$rootdir/boot/vmlinuz-"* "$rootdir/boot/initrd.img-"* "$rootdir"/vmlinuz* "$rootdir"/initrd.img*
# The default is the last entry in systemd-boot's order that matches: the highest generation gN
# (smarthost-update gives a new root the next one), except that an entry whose boot counter ran
# out (+0-N: it failed its tries) sorts first and is skipped while a good one is left.
printf 'timeout 0\ndefault smarthost-*\neditor no\nconsole-mode keep\n' > "$espdir/loader/loader.conf"
# The same lines smarthost-update writes for a slot (image/rootfs/usr/sbin/smarthost-update).
cat > "$espdir/loader/entries/smarthost-g1-a.conf" <<EOF
title   smarthost $version (slot a)
version $version
linux   /smarthost/a/vmlinuz
initrd  /smarthost/a/initrd.img
options root=PARTUUID=$root_partuuid ro rootfstype=ext4 smarthost.slot=a console=tty0 console=ttyS0,115200n8 systemd.gpt_auto=0 panic=30
EOF

# --- data partition tree: /etc/smarthost, /var/lib/smarthost, /var/lib/systemd ---
step "data partition tree, config from $config"
mkdir -p "$datadir/lib" "$datadir/systemd"
install -d -m 2755 "$datadir/journal"  # journald's, bounded by journald.conf.d/smarthost.conf
cp -rT --no-preserve=ownership "$here/data" "$datadir"
cp -a "$rootdir/etc/smarthost/." "$datadir/etc/"
cp -a "$rootdir/var/lib/smarthost/." "$datadir/lib/"
cp -a "$rootdir/var/lib/systemd/." "$datadir/systemd/"
find "$rootdir/etc/smarthost" "$rootdir/var/lib/smarthost" "$rootdir/var/lib/systemd" \
  -mindepth 1 -delete
"$here/cfgedit.py" "$config" "$datadir/etc/smarthost.cfg" \
  'listen=( { address = "0.0.0.0"; port = 25; }, { address = "::"; port = 25; } )' \
  'tls.cert="/etc/smarthost/certs/relay.pem"' \
  'tls.key="/etc/smarthost/certs/relay.key"' \
  'tls.ca_file="/etc/ssl/certs/ca-certificates.crt"' \
  'queue.path="/var/lib/smarthost/queue"' \
  "queue.map_size_mb=$map_mib" \
  'dns.servers=[ ]' \
  'dns.trust_anchor="/usr/share/dns/root.key"' \
  'log.file=""' \
  || die "cannot seed the config"
chown root:990 "$datadir/etc" "$datadir/etc/certs" "$datadir/etc/smarthost.cfg"
chmod 0750 "$datadir/etc" "$datadir/etc/certs"
chmod 0640 "$datadir/etc/smarthost.cfg"
chmod 0700 "$datadir/etc/ssh"
if [ -n "${SMARTHOST_IMAGE_AUTHORIZED_KEYS:-}" ]; then
  install -m 0600 "$SMARTHOST_IMAGE_AUTHORIZED_KEYS" "$datadir/etc/ssh/authorized_keys"
fi
chown 990:990 "$datadir/lib"
chmod 0750 "$datadir/lib"
install -m 0644 "$datadir/etc/smarthost.cfg" "$rootdir/usr/share/doc/smarthost/smarthost.cfg.appliance"

# Every file newer than SOURCE_DATE_EPOCH gets that time (mke2fs -d copies mtimes).
for d in "$rootdir" "$datadir" "$espdir"; do
  find "$d" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"
done

# --- file systems ---
mib_of() { du -s --block-size=1M "$1" | cut -f1; }
root_mib=$(( ( $(mib_of "$rootdir") * 5 / 4 + 64 + 3 ) / 4 * 4 ))
root_inodes=$(( $(find "$rootdir" | wc -l) * 3 / 2 + 4096 ))
step "root ext4 ${root_mib} MiB"
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
mke2fs -q -F -t ext4 -b 4096 -m 0 -N "$root_inodes" -L smarthost-root -U "$root_fsuuid" \
  -E "hash_seed=$root_hash_seed,lazy_itable_init=0,lazy_journal_init=0,nodiscard" \
  -d "$rootdir" "$work/root.ext4" "${root_mib}M" >/dev/null
# The root is read-only: shrink its file system to what it holds (the slot partition stays
# larger), so the update bundle carries, and an update writes and hashes, no empty space.
e2fsck -fy "$work/root.ext4" >/dev/null 2>&1 || [ $? -le 1 ] || die "e2fsck of the root image failed"
resize2fs -M "$work/root.ext4" >/dev/null 2>&1 || die "resize2fs -M of the root image failed"
step "root ext4 shrunk to $(( $(stat -c %s "$work/root.ext4") >> 20 )) MiB"
step "data ext4 ${data_mib} MiB"
mke2fs -q -F -t ext4 -b 4096 -m 1 -L smarthost-data -U "$data_fsuuid" \
  -E "hash_seed=$data_hash_seed,lazy_itable_init=0,lazy_journal_init=0,nodiscard" \
  -d "$datadir" "$work/data.ext4" "${data_mib}M" >/dev/null
step "ESP FAT32 ${esp_mib} MiB"
mkfs.vfat -F 32 -n SMARTHOST --invariant -i "$esp_volid" -C "$work/esp.vfat" $(( esp_mib * 1024 )) >/dev/null
MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$work/esp.vfat" "$espdir"/* ::/

# --- the disk: GPT on a plain file, partitions copied in with dd ---
step "GPT disk"
# A root slot has room for roots half again as large as this one.
slot_mib=${SMARTHOST_IMAGE_SLOT_MIB:-$(( ( root_mib * 3 / 2 + 63 ) / 64 * 64 ))}
[ "$slot_mib" -ge "$root_mib" ] || die "SMARTHOST_IMAGE_SLOT_MIB=$slot_mib is smaller than the root ($root_mib MiB)"
esp_start=1
root_start=$(( esp_start + esp_mib ))
root_b_start=$(( root_start + slot_mib ))
data_start=$(( root_b_start + slot_mib ))
total=$(( data_start + data_mib + 1 ))
rm -f "$img.tmp"
truncate -s "${total}M" "$img.tmp"
sfdisk -q --no-reread --no-tell-kernel "$img.tmp" <<EOF
label: gpt
label-id: $disk_guid
unit: sectors
first-lba: 2048
start=$(( esp_start * 2048 )), size=$(( esp_mib * 2048 )), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$esp_partuuid, name="ESP"
start=$(( root_start * 2048 )), size=$(( slot_mib * 2048 )), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$root_partuuid, name="smarthost-root-a", attrs="GUID:60"
start=$(( root_b_start * 2048 )), size=$(( slot_mib * 2048 )), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$root_b_partuuid, name="smarthost-root-b", attrs="GUID:60"
start=$(( data_start * 2048 )), size=$(( data_mib * 2048 )), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$data_partuuid, name="smarthost-data"
EOF
dd if="$work/esp.vfat" of="$img.tmp" bs=1M seek="$esp_start" conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$img.tmp" bs=1M seek="$root_start" conv=notrunc,sparse status=none
dd if="$work/data.ext4" of="$img.tmp" bs=1M seek="$data_start" conv=notrunc,sparse status=none
mv -f "$img.tmp" "$img"
(cd "$out" && sha256sum "$(basename "$img")" > "$(basename "$img").sha256")
step "update bundle"
"$here/make-update.sh" "$work/root.ext4" "$work/vmlinuz" "$work/initrd.img" "$version" \
  "$out/smarthost-$version.update"
rm -f "$work/root.ext4" "$work/data.ext4" "$work/esp.vfat" "$work/vmlinuz" "$work/initrd.img"
step "wrote $img ($total MiB, $(du -sm "$img" | cut -f1) MiB allocated)"
step "wrote $out/smarthost-$version.update ($(du -m "$out/smarthost-$version.update" | cut -f1) MiB)"
