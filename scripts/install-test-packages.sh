#!/usr/bin/env bash
# Install the Debian packages whose programs the tests run (nginx, Prometheus, Alertmanager,
# the exporters, PostgreSQL, PgBouncer, ...), and keep their services stopped:
#   scripts/install-test-packages.sh PACKAGE...
# The tests start these programs themselves, on their own ports; a packaged service started by
# the install would hold the ports the host-network sandbox needs (80/443, 9090, 9093, 9100,
# 5432, 6432, ...). So the install runs under a policy-rc.d that denies every start, and the
# services of every package it brought (dependencies and recommends included) are disabled:
# with `systemctl disable --now` where systemd is PID 1, else by removing their boot links.
set -euo pipefail

missing=()
for p in "$@"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
echo "installing Debian packages (their services stay stopped and disabled): ${missing[*]}"

before=$(mktemp)
policy_added=
cleanup() {
	rm -f "$before"
	if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
dpkg-query -W -f '${Package}\n' | sort >"$before"

# invoke-rc.d and deb-systemd-invoke ask policy-rc.d; 101 means "action forbidden". A policy the
# machine already has (a container image's, say) is left as it is.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# Written by hx scripts/install-test-packages.sh while it installs; removed after.\nexit 101\n' \
		>/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	policy_added=1
fi

apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"

mapfile -t added < <(dpkg-query -W -f '${Package}\n' | sort | comm -13 "$before" -)
units=()
scripts=()
for p in "${added[@]}"; do
	while read -r f; do
		case "$f" in
		/lib/systemd/system/*.service | /usr/lib/systemd/system/*.service | \
			/lib/systemd/system/*.socket | /usr/lib/systemd/system/*.socket)
			name=$(basename "$f")
			# Templates (postgresql@.service) have no instance to disable.
			[[ "$name" == *@.* ]] || units+=("$name")
			;;
		/etc/init.d/*) scripts+=("$(basename "$f")") ;;
		esac
	done < <(dpkg -L "$p" 2>/dev/null)
done

if [ -d /run/systemd/system ]; then
	# systemd is PID 1: stop anything that started anyway, and keep it from starting at boot.
	if [ ${#units[@]} -gt 0 ]; then
		echo "disabling and stopping: ${units[*]}"
		systemctl disable --now "${units[@]}" || true
	fi
else
	# No running systemd (a container, a chroot): remove the boot links of both init systems.
	if [ ${#units[@]} -gt 0 ]; then
		echo "disabling: ${units[*]}"
		systemctl disable "${units[@]}" >/dev/null 2>&1 || true
	fi
	for s in "${scripts[@]}"; do
		update-rc.d -f "$s" disable >/dev/null 2>&1 || true
	done
fi
