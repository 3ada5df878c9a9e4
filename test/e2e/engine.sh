#!/usr/bin/env bash
# A real Docker engine and single-node Swarm for the end-to-end suite, on loopback only.
#
#   engine.sh start    install docker.io + busybox-static if missing, start dockerd, init the
#                      swarm, build local/busybox:latest; the last line of stdout is
#                      `ENGINE started <pid>` or `ENGINE already-running <pid>`
#   engine.sh stop     SIGTERM to the dockerd this script started (by its PID), then wait
#   engine.sh status   what runs, and the paths of the log and pid files
#
# No registry is ever contacted: dockerd gets a dead proxy and prefers offline images, stacks are
# deployed with --resolve-image never, and the only image is imported from a local rootfs.
# State (pid file, dockerd log) lives in $WARM_E2E_STATE, default $TMPDIR/warm-reconcile-e2e.
set -euo pipefail

STATE_DIR="${WARM_E2E_STATE:-${TMPDIR:-/tmp}/warm-reconcile-e2e}"
PID_FILE="$STATE_DIR/dockerd.pid"
LOG_FILE="$STATE_DIR/dockerd.log"
IMAGE="local/busybox:latest"
# The default socket: the suite runs with DOCKER_HOST unset, as the reconciler does on a server.
SOCKET=/var/run/docker.sock

log() { printf 'engine.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# The PID of the dockerd this script started, if it still runs.
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "dockerd" ]] || return 1
  echo "$pid"
}

engine_answers() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || [[ -x /usr/sbin/dockerd ]] || missing+=(docker.io)
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
  ((${#missing[@]} == 0)) && return 0
  [[ "$(id -u)" == 0 ]] || die "need root to install ${missing[*]}"
  log "installing ${missing[*]}"
  # policy-rc.d (if any) keeps the package from starting a dockerd of its own.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

wait_for_engine() {
  local pid="$1"
  for _ in $(seq 1 300); do
    engine_answers && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$LOG_FILE" >&2; die "dockerd exited during start (log: $LOG_FILE)"; }
    sleep 0.1
  done
  tail -n 30 "$LOG_FILE" >&2
  die "dockerd did not answer within 30 s (log: $LOG_FILE)"
}

# Extra dockerd flags: empty by default (overlay2, iptables); WARM_E2E_FALLBACK=1 uses the
# documented fallback for machines where the defaults cannot run containers.
dockerd_flags() {
  if [[ "${WARM_E2E_FALLBACK:-0}" == 1 ]]; then
    echo "--storage-driver vfs --iptables=false --bridge=none --data-root $STATE_DIR/data-root"
  fi
}

start_dockerd() {
  mkdir -p "$STATE_DIR"
  printf '\n==== engine.sh start %s ====\n' "$(date -u +%FT%TZ)" >>"$LOG_FILE"
  # setsid: dockerd outlives this script and the test runner that called it.
  # shellcheck disable=SC2046
  env DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 \
    HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
    http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy= \
    setsid /usr/sbin/dockerd --host "unix://$SOCKET" $(dockerd_flags) \
    </dev/null >>"$LOG_FILE" 2>&1 &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  wait_for_engine "$pid"
  echo "$pid"
}

init_swarm() {
  local state
  state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
  if [[ "$state" != "active" ]]; then
    log "swarm init on 127.0.0.1 (was: $state)"
    docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
  fi
}

build_image() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  log "building $IMAGE from /bin/busybox"
  local rootfs
  rootfs="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs'; trap - RETURN" RETURN
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  local applet
  while read -r applet; do
    [[ -n "$applet" && ! -e "$rootfs/$applet" ]] || continue
    mkdir -p "$rootfs/$(dirname "$applet")"
    ln -s /bin/busybox "$rootfs/$applet"
  done < <(/bin/busybox --list-full)
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
}

cmd_start() {
  install_packages
  local pid how
  if pid="$(our_pid)"; then
    how=already-running
    wait_for_engine "$pid"
  else
    if engine_answers; then
      die "a dockerd this script did not start answers on $SOCKET: its proxy settings cannot be checked; stop it first"
    fi
    rm -f "$PID_FILE"
    how=started
    pid="$(start_dockerd)"
  fi
  init_swarm
  build_image
  echo "ENGINE $how $pid"
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped dockerd $pid"; return 0; }
    sleep 0.1
  done
  die "dockerd $pid did not stop within 60 s after SIGTERM"
}

cmd_status() {
  local pid
  if pid="$(our_pid)"; then
    echo "dockerd: running, pid $pid"
    echo "swarm: $(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown)"
    echo "image $IMAGE: $(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || echo missing)"
  else
    echo "dockerd: not running"
  fi
  echo "log: $LOG_FILE"
  echo "pid file: $PID_FILE"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: engine.sh start|stop|status" ;;
esac
