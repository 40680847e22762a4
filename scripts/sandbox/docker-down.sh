#!/usr/bin/env bash
# docker-down.sh STATE_DIR — stop the dockerd started by docker-up.sh, by its pidfile only
# (never by process name: other dockerds may be running). Idempotent: no daemon -> no-op
# apart from the leftover-mount cleanup below.
set -euo pipefail

STATE_DIR=${1:?usage: docker-down.sh STATE_DIR}
STATE_DIR=$(cd "$STATE_DIR" && pwd)
PIDFILE="$STATE_DIR/docker.pid"

# dockerd leaves a bind mount of its netns (STATE_DIR/exec/netns/default) behind even after a clean
# exit; unmount anything still mounted under STATE_DIR (deepest first) so `rm -rf STATE_DIR` works.
unmount_leftovers() {
  awk -v p="$STATE_DIR/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
}

if [ ! -s "$PIDFILE" ] || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "docker-down: not running" >&2; rm -f "$PIDFILE"; unmount_leftovers; exit 0
fi
PID=$(cat "$PIDFILE")
# SIGTERM lets dockerd stop containers (honouring each one's stop signal) and its containerd child.
kill -TERM "$PID"
for _ in $(seq 1 60); do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "docker-down: stopped (pid $PID)" >&2; unmount_leftovers; exit 0
  fi
  sleep 0.5
done
echo "docker-down: pid $PID still alive after 30 s, sending SIGKILL" >&2
kill -KILL "$PID" 2>/dev/null || true
sleep 1; unmount_leftovers
