"""The rendered firewall files, checked by their real consumers: `nft -c -f` (parses the table
and checks it against this kernel without committing anything) and `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import DATA, ROOT

from hxgen.pipeline import render_file

# Every committed spec whose firewall is on, and the golden cases (one has IPv6 sources).
SPECS = [
    ROOT / "hx.yaml",
    ROOT / "sandbox/hx.yaml",
    DATA / "firewall/hx.yaml",
    *sorted((DATA / "cases").glob("*/hx.yaml")),
]
WITH_FIREWALL = [s for s in SPECS if render_file(s).plan.firewall is not None]


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    assert found, f"{name} is not installed; run `make setup-test` (Debian nftables, systemd)"
    return found


def _artifacts(spec) -> dict[str, str]:
    return {a.path: a.text for a in render_file(spec).artifacts}


def test_the_specs_cover_both_families_and_a_disabled_firewall():
    assert ROOT / "hx.yaml" in WITH_FIREWALL
    assert render_file(ROOT / "sandbox/hx.yaml").plan.firewall is None  # shares this machine's netns
    texts = [_artifacts(s)["rendered/nftables/hx.nft"] for s in WITH_FIREWALL]
    assert any("ip6 saddr" in t for t in texts) and any("\t\tip saddr" in t for t in texts)


@pytest.mark.parametrize("spec", WITH_FIREWALL, ids=[str(s.relative_to(ROOT)) for s in WITH_FIREWALL])
def test_nft_accepts_the_rendered_ruleset(spec, tmp_path):
    ruleset = tmp_path / "hx.nft"
    ruleset.write_text(_artifacts(spec)["rendered/nftables/hx.nft"])
    checked = subprocess.run([program("nft"), "-c", "-f", str(ruleset)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_nft_rejects_a_broken_ruleset(tmp_path):
    """The check above can fail: the same command refuses a table with an unknown policy."""
    ruleset = tmp_path / "hx.nft"
    ruleset.write_text("table inet hx {\n\tchain input { type filter hook input priority filter; policy maybe; }\n}\n")
    checked = subprocess.run([program("nft"), "-c", "-f", str(ruleset)], capture_output=True, text=True, check=False)
    assert checked.returncode != 0


@pytest.mark.parametrize("spec", WITH_FIREWALL, ids=[str(s.relative_to(ROOT)) for s in WITH_FIREWALL])
def test_systemd_accepts_the_unit(spec, tmp_path):
    unit = tmp_path / "hx-firewall.service"
    text = _artifacts(spec)["rendered/systemd/hx-firewall.service"]
    unit.write_text(text)
    verified = subprocess.run(
        [program("systemd-analyze"), "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stderr
    for line in ("Type=oneshot", "RemainAfterExit=yes", "Before=network-pre.target shutdown.target"):
        assert line in text.splitlines()
    assert "ExecStop=-/usr/sbin/nft delete table inet hx" in text
