#!/usr/bin/env bash
# check-tools.sh - every outside tool and module `make check` uses is there.
#
# Run by `make check` before any test (after ./deps.sh), so a fresh machine
# fails at once with what to install instead of with a test that dies
# half-way (swaks without its TLS modules sends in clear, say). The list was
# built by grepping tests/ and image/ for every command they run.
#
# Prints one line per missing piece, `missing: WHAT (install PACKAGE)`, and
# exits 1 when anything is missing; silent and 0 when all is there.
# Commands are looked up in $PATH plus CHECK_TOOLS_SBIN (default
# /usr/sbin:/sbin, where the tests also look); perl is the one in that path,
# python3 is CHECK_TOOLS_PYTHON (default /usr/bin/python3, the one the tests
# run under: Debian's modules are installed for it, not for a venv's).
set -u
PATH="$PATH${CHECK_TOOLS_SBIN-:/usr/sbin:/sbin}"
missing=0

say_missing() {  # say_missing WHAT PACKAGE
  echo "missing: $1 (install $2)"
  missing=1
}

need_cmd() {  # need_cmd PACKAGE COMMAND...
  local pkg=$1 c
  shift
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || say_missing "$c" "$pkg"
  done
}

need_perl() {  # need_perl PACKAGE MODULE
  command -v perl >/dev/null 2>&1 && perl -M"$2" -e 1 >/dev/null 2>&1 || say_missing "perl module $2" "$1"
}

PY=${CHECK_TOOLS_PYTHON:-/usr/bin/python3}
need_python() {  # need_python PACKAGE MODULE
  [ -x "$PY" ] && "$PY" -c "import $2" >/dev/null 2>&1 || say_missing "python3 module $2" "$1"
}

need_file() {  # need_file PACKAGE PATH
  [ -e "$2" ] || say_missing "$2" "$1"
}

# Integration tests: clients, peers, DNS, queue tools, certificates.
need_cmd swaks swaks
need_cmd perl-base perl
need_perl libnet-ssleay-perl Net::SSLeay          # swaks --tls
need_perl libio-socket-ssl-perl IO::Socket::SSL   # swaks --tls
need_perl libio-socket-inet6-perl IO::Socket::INET6  # swaks to ::1
[ -x "$PY" ] || say_missing "$PY" python3
need_python python3-aiosmtpd aiosmtpd             # smtp_peer_server.py
need_python python3-dkim dkim                     # DKIM signature checks
need_python python3-nacl nacl                     # Ed25519 DKIM keys in test_tenant.py
need_python python3-prometheus-client prometheus_client  # test_console: /metrics parses
need_cmd chromium chromium                        # test_console_browser: headless browser
need_cmd openssl openssl                          # test PKI, s_client -tls1_1
need_cmd unbound unbound                          # dns_server.py
need_cmd ldnsutils ldns-keygen ldns-signzone       # dnssec_zone.py: signed zones for DANE
need_cmd postfix smtp-sink smtp-source postfix postconf  # SinkPeer, PostfixPeer, bench
need_cmd lmdb-utils mdb_load mdb_stat
need_cmd mount mount umount                       # test_crash_consistency (tmpfs)
need_cmd logrotate logrotate                      # test_log: rotation by mv + SIGHUP
need_cmd rsyslog rsyslogd                         # syslog_server.py: log.file = "syslog"
need_cmd util-linux unshare                       # syslog_server.py: a private /dev/log
need_cmd man-db man                               # test_docs, test_install: man -l renders the pages
need_cmd systemd systemd-analyze                  # test_install: systemd-analyze verify on the unit

# Fuzz targets (libFuzzer from Debian 12's clang 14).
need_cmd clang clang++
compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null ||
  say_missing "libFuzzer runtime" libclang-rt-14-dev

# The appliance image test (image/build.sh, image/boot_test.py).
need_cmd mmdebstrap mmdebstrap
need_cmd qemu-system-x86 qemu-system-x86_64
need_file ovmf /usr/share/OVMF/OVMF_CODE_4M.fd
need_file systemd-boot-efi /usr/lib/systemd/boot/efi/systemd-bootx64.efi
need_cmd dosfstools mkfs.vfat
need_cmd mtools mcopy
need_cmd fdisk sfdisk
need_cmd e2fsprogs mke2fs
need_cmd e2fsprogs debugfs                        # boot_test.py, update_test.py: edit partitions, no mount
need_cmd openssh-client ssh                       # update_test.py: admin steps in the guest
need_cmd openssh-client ssh-keygen
need_cmd tar tar                                  # make-update.sh: the bundle
need_cmd zstd zstd                                # make-update.sh, update_test.py: the bundle's root image
need_cmd e2fsprogs resize2fs                      # build.sh: the root shrunk to what it holds

exit "$missing"
