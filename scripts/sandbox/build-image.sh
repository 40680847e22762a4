#!/usr/bin/env bash
# build-image.sh STATE_DIR [TAG] — build a Debian 12 (bookworm) systemd image without any registry:
# debootstrap a rootfs from the host's Debian mirror, then `docker import` it.
# Needs the private dockerd from docker-up.sh STATE_DIR to be running.
# Idempotent: if TAG already exists in that daemon, nothing is done.
set -euo pipefail

STATE_DIR=${1:?usage: build-image.sh STATE_DIR [TAG]}
TAG=${2:-hx-sandbox:bookworm}
STATE_DIR=$(cd "$STATE_DIR" && pwd)
export DOCKER_HOST="unix://$STATE_DIR/docker.sock"
DOCKER=/usr/bin/docker; [ -x "$DOCKER" ] || DOCKER=$(command -v docker)
ROOTFS="$STATE_DIR/rootfs"
log() { echo "build-image: $*" >&2; }

"$DOCKER" info >/dev/null 2>&1 || { log "no dockerd on $DOCKER_HOST; run docker-up.sh first"; exit 1; }
if "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG already exists, skipping build"; exit 0
fi

# Mirror: reuse the one the host's apt already uses (only Debian's mirrors are reachable here).
# Look at deb822 *.sources first, then one-line sources.list / *.list; first http(s) debian URI wins.
# (`|| true`: with pipefail a missing file / no match must not abort the script)
MIRROR=$(
  { grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources || true
    grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true; } \
  | awk '$1=="URIs:"{print $2} $1=="deb"{for(i=2;i<=NF;i++) if($i ~ /^https?:/){print $i; break}}' \
  | grep -E '/debian/?$' | head -n1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
log "mirror: $MIRROR"

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 \
    || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
fi

# Packages on top of minbase:
#  systemd systemd-sysv dbus  - real init (PID 1) so Ansible's service/systemd modules behave as on a VM
#  python3                    - Ansible's module runtime
#  python3-apt                - ansible.builtin.apt needs it (else it tries to apt-get install it itself)
#  python3-venv               - `python3 -m venv` (ansible.builtin.pip virtualenv, our pip check)
#  sudo                       - become: true
#  iproute2 procps            - `ip`, `ps`/`pgrep`: facts gathering and debugging
#  ca-certificates            - TLS trust store; host's extra CAs are added below
PKGS=systemd,systemd-sysv,dbus,python3,python3-apt,python3-venv,sudo,iproute2,procps,ca-certificates

# A leftover rootfs from an interrupted run is not trustworthy: start clean.
rm -rf "$ROOTFS"
log "debootstrap -> $ROOTFS"
t0=$(date +%s.%N)
debootstrap --variant=minbase --include="$PKGS" bookworm "$ROOTFS" "$MIRROR" >"$STATE_DIR/debootstrap.log" 2>&1 \
  || { tail -n 30 "$STATE_DIR/debootstrap.log" >&2; exit 1; }
t1=$(date +%s.%N)
log "debootstrap took $(awk "BEGIN{print $t1 - $t0}") s"

# --- Host trust: outbound HTTPS (PyPI) goes through a CA that only the host trusts.
mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$ROOTFS" update-ca-certificates >&2

# --- apt: same sources (incl. -updates and -security) and settings as the host.
# debootstrap wrote a one-line sources.list with just `bookworm main`; replace it with the host's.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1 || [ -s /etc/apt/sources.list ]; then
  rm -f "$ROOTFS/etc/apt/sources.list"
  [ -s /etc/apt/sources.list ] && cp /etc/apt/sources.list "$ROOTFS/etc/apt/sources.list"
  # only Debian sources: third-party ones (cloud-sdk, nodesource...) need keys/hosts we don't have
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && grep -qE 'debian\.org|/debian(-security)?/?( |$)' "$f" && cp "$f" "$ROOTFS/etc/apt/sources.list.d/"
  done
fi
# Proxy / validity settings (e.g. Check-Valid-Until for snapshot mirrors, Acquire::*::Proxy).
for f in /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] && grep -qiE 'proxy|Check-Valid-Until|Check-Date' "$f" && cp "$f" "$ROOTFS/etc/apt/apt.conf.d/"
done
[ -f /etc/apt/apt.conf ] && cp /etc/apt/apt.conf "$ROOTFS/etc/apt/apt.conf"

# --- systemd-in-docker hygiene.
# Empty machine-id: each container gets its own at boot instead of all sharing the build's id.
: > "$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"; ln -s /etc/machine-id "$ROOTFS/var/lib/dbus/machine-id"
# Units that make no sense in a container (no kernel/hardware/ttys to manage) and would only
# show up as failed or hang boot.
for u in systemd-remount-fs.service getty.target console-getty.service \
         sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
         systemd-firstboot.service systemd-modules-load.service systemd-sysctl.service \
         systemd-journald-audit.socket systemd-udevd.service systemd-udev-trigger.service; do
  ln -sf /dev/null "$ROOTFS/etc/systemd/system/$u"
done
# Boot to multi-user (no graphical target).
ln -sf /lib/systemd/system/multi-user.target "$ROOTFS/etc/systemd/system/default.target"

# Shrink: package cache and lists are re-fetchable with apt-get update.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old
# Make the emptied lists look stale, so apt modules with cache_valid_time refresh them.
touch -d @0 "$ROOTFS/var/lib/apt/lists"

log "importing as $TAG"
t2=$(date +%s.%N)
# --change bakes in the systemd defaults so `docker run` without a command boots systemd;
# container=docker tells systemd it is in a container. (Docker 20.10's import rejects
# STOPSIGNAL as a --change, so `--stop-signal SIGRTMIN+3` must be given to `docker run`.)
tar --numeric-owner -C "$ROOTFS" -c . | "$DOCKER" import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$TAG" >&2
t3=$(date +%s.%N)
log "import took $(awk "BEGIN{print $t3 - $t2}") s; size: $("$DOCKER" image inspect -f '{{.Size}}' "$TAG") bytes"
# The rootfs is only an intermediate; the image holds everything now.
rm -rf "$ROOTFS"
