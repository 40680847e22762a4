#!/usr/bin/env bash
# run-sandbox.sh STATE_DIR [NAME] [TAG] — start the systemd sandbox container and wait until
# systemd reports the boot finished. Idempotent: a running container of that name is reused.
set -euo pipefail
STATE_DIR=$(cd "${1:?usage: run-sandbox.sh STATE_DIR [NAME] [TAG]}" && pwd)
NAME=${2:-hx-sandbox}
TAG=${3:-hx-sandbox:bookworm}
export DOCKER_HOST="unix://$STATE_DIR/docker.sock"
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=$(command -v docker)

if [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null || true)" != true ]; then
  "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true     # stopped leftover of the same name
  # Why each flag:
  #  --cap-add SYS_ADMIN        systemd mounts things (/run/*, private tmp, namespaces for units)
  #                             (--privileged fails here: CAP_SYS_RESOURCE is missing from the bounding set)
  #  seccomp=unconfined         systemd uses syscalls (e.g. name_to_handle_at, keyctl) the default profile blocks
  #  --cgroupns=host + cgroup rw  systemd must create its cgroup tree (host is cgroup v1/hybrid)
  #  --tmpfs /run /run/lock     systemd expects /run to be a fresh tmpfs
  #  --tmpfs /tmp:exec          docker's --tmpfs default is noexec; venvs in /tmp need exec
  #  --shm-size 2g              vLLM engines exchange tensors through /dev/shm (160 MiB each; docker gives 64)
  #  --network host             host reaches services inside on 127.0.0.1; no bridge/iptables needed
  #  --stop-signal SIGRTMIN+3   systemd's clean-shutdown signal (import can't bake STOPSIGNAL in)
  # HX_SANDBOX_WHEELS: a directory of local wheels (e.g. a CPU build of torch), mounted read-only.
  WHEELS=()
  [ -n "${HX_SANDBOX_WHEELS:-}" ] && WHEELS=(-v "$HX_SANDBOX_WHEELS:/opt/hx-wheels:ro")
  "$DOCKER" run -d --name "$NAME" --hostname "$NAME" "${WHEELS[@]}" \
    --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
    --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp:exec --shm-size 2g \
    --network host --stop-signal SIGRTMIN+3 \
    "$TAG" /lib/systemd/systemd >/dev/null
fi

# `is-system-running --wait` fails at once if exec'd before PID 1 has its D-Bus socket up,
# so retry until it gives a final state (max ~60 s).
for _ in $(seq 1 120); do
  state=$("$DOCKER" exec "$NAME" systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in
    running|degraded) echo "$state"; exit 0 ;;
    maintenance|stopping|offline) echo "$state"; exit 1 ;;
  esac
  sleep 0.5
done
echo "timeout (last: ${state:-none})" >&2; exit 1
