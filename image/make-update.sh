#!/bin/sh
# make-update.sh - write a signed appliance update bundle.
#
# SUMMARY: image/make-update.sh ROOT_IMG VMLINUZ INITRD VERSION OUT
#          (image/build.sh runs it for image/out/smarthost-VERSION.update)
#
# DESCRIPTION
#   The bundle is a POSIX tar (ustar) of, in this order:
#     manifest      text, one key=value a line: format=1, version, created,
#                   and NAME.size / NAME.sha256 for each of the three files
#     manifest.sig  the Ed25519 signature of manifest (64 raw octets),
#                   made with the key image/update-key.sh names
#     vmlinuz, initrd.img   the kernel and initramfs that boot the root
#     root.img.zst  the root file system (ext4), compressed with zstd; the
#                   appliance decompresses it into a slot as it writes
#   The manifest (format=2) holds the size and SHA-256 of each member as
#   stored, and root.img.size / root.img.sha256 of the file system itself,
#   which smarthost-update compares with the slot read back after writing.
#   smarthost-update on the appliance checks the signature with the public
#   key built into its image, then every size and SHA-256, before it writes
#   anything. Only the manifest is signed; it pins the rest by hash.
#   Compression: zstd -3 makes a root about a fifth of its size (525 -> 125 MB), and
#   on the appliance hashing the smaller member is what the check costs.
#   SOURCE_DATE_EPOCH (default now) is the time in the manifest and the tar.
#
# DIAGNOSTICS
#   "make-update.sh: ..." on stderr and exit 1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "make-update.sh: $*" >&2; exit 1; }
[ $# -eq 5 ] || die "usage: image/make-update.sh ROOT_IMG VMLINUZ INITRD VERSION OUT"
root=$1 kernel=$2 initrd=$3 version=$4 out=$5
for f in "$root" "$kernel" "$initrd"; do [ -r "$f" ] || die "$f: cannot read"; done
case $version in *[!A-Za-z0-9.+~-]*|"") die "version '$version': only letters, digits and . + ~ -" ;; esac
key=$("$here/update-key.sh")
epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}

stage=$(mktemp -d "${TMPDIR:-/tmp}/make-update.XXXXXX")
trap 'rm -rf "$stage"' EXIT
ln -s "$(readlink -f "$kernel")" "$stage/vmlinuz"
ln -s "$(readlink -f "$initrd")" "$stage/initrd.img"
zstd -q -T0 -3 -c "$root" > "$stage/root.img.zst" || die "zstd could not compress $root"
{
  echo "format=2"
  echo "version=$version"
  echo "created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
  echo "root.img.size=$(stat -L -c %s "$root")"
  echo "root.img.sha256=$(sha256sum < "$root" | cut -d' ' -f1)"
  for f in vmlinuz initrd.img root.img.zst; do
    echo "$f.size=$(stat -L -c %s "$stage/$f")"
    echo "$f.sha256=$(sha256sum < "$stage/$f" | cut -d' ' -f1)"
  done
} > "$stage/manifest"
openssl pkeyutl -sign -inkey "$key" -rawin -in "$stage/manifest" -out "$stage/manifest.sig" \
  || die "openssl could not sign the manifest with $key"
[ "$(stat -c %s "$stage/manifest.sig")" -eq 64 ] || die "the signature is not 64 octets"
tar --format=ustar --dereference --owner=0 --group=0 --numeric-owner --mode=0644 \
  --mtime="@$epoch" -C "$stage" -cf "$out.tmp" manifest manifest.sig vmlinuz initrd.img root.img.zst \
  || die "cannot write $out.tmp"
mv -f "$out.tmp" "$out"
