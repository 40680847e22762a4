"""`hx-usage check` and `status` in-process: a valid rendered configuration passes, a bad one is
named without a traceback, and status reports the saved positions without a database."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from usage_harness import Clock, append, config, line  # noqa: E402

from hxgen.usage.cli import main  # noqa: E402
from hxgen.usage.service import Service  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_check_accepts_what_hxgen_renders(capsys):
    for spec in ("rendered", "sandbox/rendered"):  # kept current by `hxgen render --check`
        assert main(["--config", str(ROOT / spec / "usage/usage.json"), "check"]) == 0
        assert "ok:" in capsys.readouterr().out


def test_check_names_what_is_wrong_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "usage.json"
    good = json.loads(config(tmp_path).model_dump_json())
    path.write_text(json.dumps(good | {"time_zone": "Mars/Olympus", "poll_s": 0}))
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "poll_s" in err and "Traceback" not in err
    path.write_text("{")
    assert main(["--config", str(path), "check"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert main(["--config", str(tmp_path / "missing.json"), "check"]) == 2


def test_status_prints_positions_backlog_and_todays_counts(tmp_path, capsys):
    cfg = config(tmp_path)
    append(tmp_path / "gateway-access.log", line("a"), line("b"))
    Service(cfg, now=Clock()).meter_step()  # metered; no database here, so all of it is backlog
    path = tmp_path / "usage.json"
    path.write_text(cfg.model_dump_json())
    assert main(["--config", str(path), "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    size = (tmp_path / "gateway-access.log").stat().st_size
    assert status["metering"]["offset"] == size and status["database"]["offset"] == 0
    assert status["backlog_bytes"] == size and status["pending_rows"] == 2 and status["unread_bytes"] == 0
    assert status["today"]["used_tokens"] == {"acme": 30}
