#!/usr/bin/env bash
# Generate the Python client of hx-control's REST API from its published OpenAPI document:
#   scripts/generate-client.sh PYTHON OUTDIR
# PYTHON has openapi-python-client installed (the version pinned in pyproject's test extra).
# OUTDIR is replaced as a whole, so a model or operation removed from the API leaves no file behind.
# `make client` writes hxgen/control_client; the drift test writes a scratch directory and compares.
set -euo pipefail
python=$1 out=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m openapi_python_client generate \
	--path hxgen/control/openapi.json \
	--config hxgen/control/client-config.yaml \
	--meta none \
	--output-path "$tmp/control_client" >/dev/null
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$tmp/control_client" "$out"
