#!/usr/bin/env bash
# A local Redis for the tests that need a real server (the redis-stream sink).
#
#   .ci/redis.sh [start]   install if missing (Debian/Ubuntu, as root), start daemonized, wait until it answers PING
#   .ci/redis.sh stop      stop the server this script started (SHUTDOWN: the append-only file is flushed)
#   .ci/redis.sh status    exit 0 if it answers, 1 if not
#
# Listens on 127.0.0.1:6379 only, protected mode on, no RDB snapshots; the append-only file
# (fsync every second) keeps streams across a restart. State (AOF, log, pid file) lives under
# $GATEWAY_REDIS_DIR (default /tmp/gateway-redis); delete that directory for an empty server.
# Starting twice is fine: a server that already answers is left alone (exit 0).
set -euo pipefail

dir=${GATEWAY_REDIS_DIR:-/tmp/gateway-redis}
timeout=${GATEWAY_REDIS_TIMEOUT:-30}
port=6379

say() { echo "redis: $*" >&2; }
die() { say "$*"; exit 1; }

ping() { redis-cli -h 127.0.0.1 -p $port ping 2>/dev/null | grep -q PONG; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
server_pid() { [ -s "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null && cat "$dir/redis.pid"; }

install_package() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  command -v apt-get >/dev/null || die "redis-server is not installed and apt-get is not available; install Redis (7.0+) yourself"
  [ "$(id -u)" -eq 0 ] || die "redis-server is not installed; run this script as root once to install it (apt-get)"
  say "installing redis-server (apt-get, --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d stops the package's own init script from starting a system server on the same port.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  local rc=0
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null || rc=$?
  if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
  [ "$rc" -eq 0 ] || die "apt-get install redis-server failed (exit $rc)"
  command -v redis-server >/dev/null || die "redis-server installed but not on PATH"
}

start() {
  if command -v redis-cli >/dev/null && ping; then say "already running (state in $dir)"; exit 0; fi
  port_open && die "port $port on 127.0.0.1 is taken by something that does not answer PING; stop it first"
  install_package
  mkdir -p "$dir"
  : >"$dir/redis.log"   # a failure's log tail should be this start's
  say "starting redis-server $(redis-server --version | grep -o 'v=[0-9.]*') (state in $dir)"
  local t0=$SECONDS
  redis-server --daemonize yes --bind 127.0.0.1 --port $port --protected-mode yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --save "" --appendonly yes --appendfsync everysec </dev/null ||
    { tail -n 40 "$dir/redis.log" >&2; die "redis-server failed to start"; }
  until ping; do
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      tail -n 40 "$dir/redis.log" >&2
      if pid=$(server_pid); then kill "$pid" 2>/dev/null || true; fi
      die "redis-server did not answer PING on 127.0.0.1:$port within ${timeout}s"
    fi
    sleep 0.2
  done
  say "ready in $((SECONDS - t0))s: 127.0.0.1:$port"
}

stop() {
  local pid
  pid=$(server_pid) || { say "not running (no live server with its pid file in $dir)"; exit 0; }
  redis-cli -h 127.0.0.1 -p $port shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then say "server $pid did not stop in 10s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if command -v redis-cli >/dev/null && ping; then say "running (state in $dir)"; else say "not running"; exit 1; fi ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
