#!/usr/bin/env bash
# A local RabbitMQ with web-stomp for the tests that need a real broker.
#
#   .ci/rabbitmq.sh [start]   install if missing (Debian/Ubuntu, as root), start in the background, wait until ready
#   .ci/rabbitmq.sh stop      stop the broker this script started
#   .ci/rabbitmq.sh status    exit 0 if it answers, 1 if not
#
# Every listener is on 127.0.0.1 only: AMQP 5672, web-stomp 15674 (ws://127.0.0.1:15674/ws),
# plain STOMP 61613 (web-stomp's dependency), Erlang distribution 25672 (epmd on 4369). guest/guest works on loopback only, which is all we use.
# State (Mnesia, logs, Erlang cookie, config) lives under $GATEWAY_RABBITMQ_DIR
# (default /tmp/gateway-rabbitmq); delete that directory for a clean broker.
# Starting twice is fine: a broker that already answers is left alone (exit 0).
set -euo pipefail

dir=${GATEWAY_RABBITMQ_DIR:-/tmp/gateway-rabbitmq}
timeout=${GATEWAY_RABBITMQ_TIMEOUT:-120}
node=${GATEWAY_RABBITMQ_NODE:-gateway@localhost}
stomp_port=15674
amqp_port=5672

say() { echo "rabbitmq: $*" >&2; }
die() { say "$*"; exit 1; }

# Erlang shells started with RABBITMQ_ALLOW_INPUT set (any value) die without a terminal.
unset RABBITMQ_ALLOW_INPUT

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

sbin_dir() {
  local d
  for d in /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin; do
    [ -x "$d/rabbitmq-server" ] && { echo "$d"; return 0; }
  done
  return 1
}

install_package() {
  sbin_dir >/dev/null && return 0
  command -v apt-get >/dev/null || die "rabbitmq-server is not installed and apt-get is not available; install RabbitMQ (3.10+) yourself"
  [ "$(id -u)" -eq 0 ] || die "rabbitmq-server is not installed; run this script as root once to install it (apt-get)"
  say "installing rabbitmq-server (apt-get, --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Recommends pull in ~200 packages (and fail on a minimal image); the server needs none of them.
  # policy-rc.d stops the package's own init script from starting a system broker on the same ports.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1; fi
  local rc=0
  apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null || rc=$?
  if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi
  [ "$rc" -eq 0 ] || die "apt-get install rabbitmq-server failed (exit $rc)"
  sbin_dir >/dev/null || die "rabbitmq-server installed but no /usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin found"
}

# The environment every rabbitmq-* script of ours runs with.
broker_env() {
  export HOME="$dir/home"                       # the Erlang cookie goes here, not in /root or /var/lib/rabbitmq
  export RABBITMQ_NODENAME="$node"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$amqp_port
  export RABBITMQ_DIST_PORT=25672
  export ERL_EPMD_ADDRESS=127.0.0.1
  # Erlang distribution (the node's 25672 and each CLI tool's own listener) on loopback too.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"    # ours (empty), not /etc/rabbitmq's
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
}

# Our node's OS process: from its pid file, else (a failed second start removes that file on its way
# out) the Erlang VM whose command line names our state directory.
node_pid() {
  local pid=""
  [ -s "$dir/rabbitmq.pid" ] && pid=$(cat "$dir/rabbitmq.pid")
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then pid=$(pgrep -o -f -- "beam.*$dir/home" || true); fi
  echo "$pid"
}

running() {
  # Cheap check first (no Erlang VM): both ports answer and our node's OS process is alive.
  port_open $stomp_port && port_open $amqp_port || return 1
  [ -n "$(node_pid)" ]
}

log_tail() {
  local f shown=0
  for f in "$dir"/log/*.log "$dir/stdout.log"; do
    [ -s "$f" ] || continue
    say "---- tail of $f"
    tail -n 40 "$f" >&2
    shown=1
  done
  [ "$shown" -eq 1 ] || say "(the broker wrote no log yet in $dir/log or $dir/stdout.log)"
}

start() {
  if running; then say "already running (state in $dir)"; exit 0; fi
  if port_open $stomp_port || port_open $amqp_port; then
    die "port $amqp_port or $stomp_port on 127.0.0.1 is taken by something this script did not start (state in $dir); stop it first"
  fi
  install_package
  local sbin; sbin=$(sbin_dir)
  mkdir -p "$dir/home" "$dir/mnesia" "$dir/log"
  rm -f "$dir"/log/*.log   # RabbitMQ appends; a failure's log tail should be this start's
  chmod 700 "$dir/home"
  cat >"$dir/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$amqp_port
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $stomp_port
stomp.listeners.tcp.1 = 127.0.0.1:61613
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = 15692
collect_statistics_interval = 250
loopback_users.guest = true
EOF
  : >"$dir/rabbitmq-env.conf"
  [ -e "$dir/advanced.config" ] || echo '[].' >"$dir/advanced.config"
  broker_env
  "$sbin/rabbitmq-plugins" --offline enable rabbitmq_web_stomp rabbitmq_prometheus >"$dir/plugins.log" 2>&1 ||
    { cat "$dir/plugins.log" >&2; die "rabbitmq-plugins --offline enable rabbitmq_web_stomp failed"; }

  say "starting node $node (state in $dir)"
  local t0=$SECONDS
  # setsid + nohup: the broker outlives this script and the CI step that ran it; stdin from /dev/null.
  setsid nohup "$sbin/rabbitmq-server" </dev/null >"$dir/stdout.log" 2>&1 &
  local pid=$!

  # On failure: the log, then the half-started node goes (setsid made $pid its session and group).
  fail() { log_tail; kill -TERM -- "-$pid" 2>/dev/null || true; die "$*"; }
  until port_open $stomp_port; do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail "rabbitmq-server exited before web-stomp listened on 127.0.0.1:$stomp_port"
    fi
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      fail "web-stomp did not listen on 127.0.0.1:$stomp_port within ${timeout}s"
    fi
    sleep 0.5
  done
  # One rabbitmqctl call (each costs ~1.5 s of CPU): the node has finished booting.
  local left=$((timeout - (SECONDS - t0))); [ "$left" -gt 5 ] || left=5
  if ! "$sbin/rabbitmqctl" -n "$node" await_startup --timeout "$left" >"$dir/await.log" 2>&1; then
    cat "$dir/await.log" >&2; fail "rabbitmqctl await_startup failed"
  fi
  port_open $amqp_port || fail "AMQP is not listening on 127.0.0.1:$amqp_port"
  port_open 15692 || fail "the Prometheus plugin (queue depths for the tests) is not listening on 127.0.0.1:15692"
  say "ready in $((SECONDS - t0))s: ws://127.0.0.1:$stomp_port/ws and amqp://127.0.0.1:$amqp_port (guest/guest)"
}

stop() {
  local sbin pid
  pid=$(node_pid)
  if [ -z "$pid" ]; then say "not running (no live node with its state in $dir)"; exit 0; fi
  if sbin=$(sbin_dir); then
    broker_env
    "$sbin/rabbitmqctl" -n "$node" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  else
    kill "$pid" 2>/dev/null || true
  fi
  local i
  for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "node $pid did not stop in 30s; killing it"; kill -9 "$pid" 2>/dev/null || true; fi
  # epmd was started by the node and keeps running; stop it only if no other node is registered.
  if command -v epmd >/dev/null && ! epmd -names 2>/dev/null | grep -q '^name '; then epmd -kill >/dev/null 2>&1 || true; fi
  say "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) if running; then say "running (state in $dir)"; else say "not running"; exit 1; fi ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
