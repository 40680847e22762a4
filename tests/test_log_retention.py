"""security.data_retention.access_log_days, enforced by Debian's logrotate for real.

The gateway role's logrotate template is rendered through Jinja with the days hxgen emits for a
spec (inventory/group_vars/hx/gateway.yml), the log moved into a temporary directory, and
`logrotate -f` runs it with a state file of its own: rotated files older than the retention go,
recent ones stay, and the current log is rotated. Nothing under /var or /run is touched (the
postrotate's pid file is moved into the directory too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import jinja2
import pytest
from conftest import ROOT
from ruamel.yaml import YAML

from hxgen.pipeline import render_text

TEMPLATE = ROOT / "roles/gateway/templates/logrotate.j2"
DAY_S = 86400


def emitted_days(days: int | None) -> int:
    """gateway_access_log_days as hxgen emits it for hx.yaml, with access_log_days set to `days`."""
    text = (ROOT / "hx.yaml").read_text()
    if days is not None:
        text = text.replace("data_retention: {access_log_days: 30}", f"data_retention: {{access_log_days: {days}}}")
    artifacts = render_text(text).artifacts
    (gateway,) = [a for a in artifacts if a.path.endswith("group_vars/hx/gateway.yml")]
    return YAML(typ="safe", pure=True).load(gateway.text)["gateway_access_log_days"]


def logrotate_conf(directory: Path, days: int) -> Path:
    template = jinja2.Template(TEMPLATE.read_text(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    text = template.render(gateway_access_log=str(directory / "gateway-access.log"), gateway_access_log_days=days)
    text = text.replace("/run/nginx.pid", str(directory / "nginx.pid"))
    assert "/run/" not in text and "/var/" not in text
    conf = directory / "hx-gateway.logrotate"
    conf.write_text(text)
    return conf


def rotated_file(directory: Path, days_ago: int) -> Path:
    stamp = time.strftime("%Y%m%d", time.gmtime(time.time() - days_ago * DAY_S))
    path = directory / f"gateway-access.log-{stamp}.gz"
    path.write_bytes(b"old lines")
    when = time.time() - days_ago * DAY_S
    os.utime(path, (when, when))
    return path


@pytest.mark.parametrize("days", [None, 7], ids=["hx.yaml", "access_log_days=7"])
def test_logrotate_keeps_access_logs_for_the_retention_days(days, tmp_path):
    assert shutil.which("logrotate"), "logrotate is not installed; run `make setup-test` (Debian logrotate)"
    keep = emitted_days(days)
    assert keep == (days or 30)
    directory = tmp_path / "logs"
    directory.mkdir()
    (directory / "gateway-access.log").write_text('{"status":200}\n')
    old = [rotated_file(directory, keep + extra) for extra in (2, 10)]
    recent = [rotated_file(directory, d) for d in (2, keep - 2)]
    conf = logrotate_conf(directory, keep)

    result = subprocess.run(
        ["logrotate", "-f", "-s", str(tmp_path / "state"), str(conf)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    left = {p.name for p in directory.iterdir()}
    assert not {p.name for p in old} & left, left
    assert {p.name for p in recent} <= left, left
    today = time.strftime("%Y%m%d", time.localtime())
    assert f"gateway-access.log-{today}" in left  # rotated, uncompressed until the next day (delaycompress)
    assert (directory / "gateway-access.log").stat().st_size == 0  # a fresh log, created by logrotate
