#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages smarthost needs to build and test.
#
# Installs only what is missing, so it is cheap to call before every build.
# Usage: ./deps.sh [build|test|fuzz|image]...   (default: build test)
# Fails (exit 1) when apt-get cannot install a package.
set -euo pipefail

build_pkgs=(g++ make pkg-config openssl libwolfssl-dev libevent-dev libconfig++-dev liblmdb-dev
            libunbound-dev libcpputest-dev libidn2-dev zlib1g-dev nlohmann-json3-dev libcrypt-dev)
# swaks only recommends its TLS and IPv6 modules: without them --tls fails and -tlso sends in clear.
test_pkgs=(openssl unbound swaks libnet-ssleay-perl libio-socket-ssl-perl libio-socket-inet6-perl
           python3 python3-aiosmtpd postfix lmdb-utils python3-dkim python3-nacl logrotate rsyslog man-db systemd
           ldnsutils python3-prometheus-client chromium)  # chromium, prometheus: the admin console's tests
fuzz_pkgs=(clang libclang-rt-14-dev)   # libFuzzer (make fuzz, make check); Debian 12's clang is 14
image_pkgs=(mmdebstrap qemu-system-x86 ovmf systemd-boot-efi dosfstools mtools fdisk e2fsprogs openssh-client openssl tar zstd)

want=()
for set in "${@:-build test}"; do
  for s in $set; do
    case "$s" in
      build) want+=("${build_pkgs[@]}") ;;
      test) want+=("${test_pkgs[@]}") ;;
      fuzz) want+=("${fuzz_pkgs[@]}") ;;
      image) want+=("${image_pkgs[@]}") ;;
      *) echo "deps.sh: unknown set '$s' (build, test, fuzz, image)" >&2; exit 2 ;;
    esac
  done
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# postfix asks questions and starts itself; we only want its binaries for tests.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
