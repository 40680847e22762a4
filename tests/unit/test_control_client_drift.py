"""The committed client of the management API (hxgen/control_client) is exactly what the pinned
openapi-python-client generates from the published OpenAPI document with the committed
configuration, so the client cannot drift from the server (whose document is itself drift-checked
by test_control_openapi.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "hxgen/control_client"
FIX = "the REST API or the generator changed: run `make client` and commit hxgen/control_client"


def _files(top: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(top)): p.read_bytes()
        for p in sorted(top.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_committed_client_is_what_the_generator_makes_of_the_published_document(tmp_path):
    out = tmp_path / "control_client"
    done = subprocess.run(
        ["scripts/generate-client.sh", sys.executable, str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    generated, committed = _files(out), _files(COMMITTED)
    assert sorted(generated) == sorted(committed), FIX
    changed = [name for name in generated if generated[name] != committed[name]]
    assert not changed, f"{', '.join(changed)} differ: {FIX}"


def test_the_client_has_an_operation_for_every_key_change_the_cli_makes():
    from hxgen.control_client.api.v1 import create_key, list_keys, revoke_key, rotate_key, whoami

    for module in (create_key, list_keys, revoke_key, rotate_key, whoami):
        assert callable(module.sync_detailed), module.__name__
