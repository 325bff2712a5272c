#!/bin/sh
# test.sh - boot the appliance image under qemu and relay a message through it.
#
# SUMMARY: image/test.sh [IMAGE]     (make image-test builds the image first)
#
# The work is done by image/boot_test.py (see its header): check-config in the
# guest, a 220 greeting on a forwarded loopback port, swaks gets "250 ... queued
# as", and with IMAGE_TEST_EXPECT_DELIVERY=1 the message must reach the sink.
# Exit 0 on success; 1 with the guest's console log printed; 2 when a tool is missing.
exec /usr/bin/python3 "$(dirname "$0")/boot_test.py" "$@"
