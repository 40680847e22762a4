#!/usr/bin/env bash
# docker-up.sh STATE_DIR — start a private dockerd whose whole state lives under STATE_DIR.
# Idempotent: if the dockerd recorded in STATE_DIR/docker.pid is alive and answers, do nothing.
# Prints the DOCKER_HOST to export on stdout (everything else goes to stderr).
set -euo pipefail

STATE_DIR=${1:?usage: docker-up.sh STATE_DIR}
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)          # absolute: dockerd and the socket URL need it
SOCK="$STATE_DIR/docker.sock"
PIDFILE="$STATE_DIR/docker.pid"
DOCKER_HOST_URL="unix://$SOCK"
log() { echo "docker-up: $*" >&2; }

# Install Debian's docker.io only when dockerd is missing. /usr/local/bin/docker (a bare CLI)
# may already exist on the host; what we need is the daemon (+ containerd, runc).
if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # --no-install-recommends: skips apparmor/cgroupfs-mount/git etc. that a daemon-only setup doesn't need
  apt-get install -y -qq --no-install-recommends docker.io >&2
  # The package's postinst may try to start a system dockerd via init scripts; we never use that
  # (no systemd on the host). Nothing to undo if it didn't start.
fi

# Use the docker CLI that matches the installed daemon if possible (Debian puts it in /usr/bin).
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=$(command -v docker)

# Already running? (pidfile points at a live dockerd AND it answers on our socket) -> no-op.
if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
   && "$DOCKER" -H "$DOCKER_HOST_URL" info >/dev/null 2>&1; then
  log "already running (pid $(cat "$PIDFILE"))"
  echo "DOCKER_HOST=$DOCKER_HOST_URL"
  exit 0
fi
# Stale pidfile from a killed daemon would make dockerd refuse to start.
rm -f "$PIDFILE"

mkdir -p "$STATE_DIR/data" "$STATE_DIR/exec"
# Networking: the sandbox runs with --network host, so dockerd needs no bridge. By default
# dockerd would create docker0 (172.17.0.0/16), add NAT/FORWARD iptables rules, set the host's
# FORWARD policy to DROP and turn on ip_forward — host-wide side effects that outlive the
# daemon and can break other network namespaces on this machine. Override with
# DOCKERD_NET_ARGS="" if bridge networking is really wanted.
# shellcheck disable=SC2206
NET_ARGS=(${DOCKERD_NET_ARGS---bridge=none --iptables=false --ip6tables=false --ip-forward=false})
log "starting dockerd (log: $STATE_DIR/dockerd.log)"
# setsid + nohup: detach from our session so the daemon survives this script/shell ending.
# --exec-root keeps containerd/runc state out of /var/run/docker; --data-root keeps images out of
# /var/lib/docker, so several instances (and cleanup via rm -rf STATE_DIR) don't collide.
setsid nohup dockerd \
  --data-root "$STATE_DIR/data" \
  --exec-root "$STATE_DIR/exec" \
  -H "$DOCKER_HOST_URL" \
  --pidfile "$PIDFILE" \
  "${NET_ARGS[@]}" \
  >>"$STATE_DIR/dockerd.log" 2>&1 < /dev/null &
DPID=$!

# Wait (max ~60 s) until the API answers; bail out with the log tail if dockerd died.
for _ in $(seq 1 120); do
  kill -0 "$DPID" 2>/dev/null || break
  if "$DOCKER" -H "$DOCKER_HOST_URL" info >/dev/null 2>&1; then
    log "ready (pid $(cat "$PIDFILE"))"
    echo "DOCKER_HOST=$DOCKER_HOST_URL"
    exit 0
  fi
  sleep 0.5
done
log "dockerd did not become ready; last log lines:"; tail -n 30 "$STATE_DIR/dockerd.log" >&2
exit 1
