#!/usr/bin/env bash
# Build the hxgen wheel that the analytics role installs on the host:
#   scripts/build-wheel.sh PYTHON OUTDIR [pip wheel arguments...]
# From a fresh copy of the package sources, so that a build/ directory left in the checkout
# (which keeps modules deleted since) never reaches the wheel; zip entries get SOURCE_DATE_EPOCH
# instead of the files' mtimes, so the same source gives the same wheel byte for byte. Older
# hxgen wheels in OUTDIR are removed: the role installs the one that is there.
set -euo pipefail
python=$1 out=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
cp -R pyproject.toml README.md hxgen "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-315532800} \
	"$python" -m pip wheel --no-deps --disable-pip-version-check --quiet "$@" -w "$tmp/dist" "$tmp/src"
mkdir -p "$out"
rm -f "$out"/hxgen-*.whl
mv "$tmp"/dist/hxgen-*.whl "$out/"
ls "$out"/hxgen-*.whl
