#!/usr/bin/env bash
# node and the node `ws` peer's packages for the integration tests against a real, misbehaving node
# server (tests/peers/ws, ws pinned in its package-lock.json; README, "Tests that need node").
#
#   .ci/node.sh     install nodejs and npm if node is missing (Debian/Ubuntu, as root), then `npm ci` the peer
#
# Running it twice is fine: an installed node is left alone, and `npm ci` reinstalls exactly the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "node: $*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null || die "node is missing and apt-get is not available; install node 18+ and npm yourself"
  [ "$(id -u)" -eq 0 ] || die "node is missing; run this script as root once to install it (apt-get)"
  say "installing nodejs and npm (apt-get, --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || die "apt-get install nodejs npm failed"
fi
say "$(node --version), npm $(npm --version)"
npm ci --prefix tests/peers/ws --no-audit --no-fund --loglevel=error >/dev/null || die "npm ci --prefix tests/peers/ws failed"
say "tests/peers/ws: ws $(node -p "require('./tests/peers/ws/node_modules/ws/package.json').version")"
