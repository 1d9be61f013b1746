#!/usr/bin/env bash
# Debian's chromium for the status page's browser tests (Playwright drives it at /usr/bin/chromium;
# Playwright's own browser download is not used).
#
#   .ci/chromium.sh     install chromium if /usr/bin/chromium is missing (Debian/Ubuntu, as root), print its version
#
# Installing twice is fine: an installed chromium is left alone (exit 0).
set -euo pipefail

bin=/usr/bin/chromium

say() { echo "chromium: $*" >&2; }
die() { say "$*"; exit 1; }

if [ ! -x "$bin" ]; then
  command -v apt-get >/dev/null || die "$bin is missing and apt-get is not available; install chromium yourself"
  [ "$(id -u)" -eq 0 ] || die "$bin is missing; run this script as root once to install it (apt-get)"
  say "installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null || die "apt-get install chromium failed"
  [ -x "$bin" ] || die "chromium installed but $bin is missing"
fi
say "$("$bin" --version 2>/dev/null | head -n 1)"
