"""`hx-audit` on the host, in-process: append's exit codes, keygen, and the converge record
(what changed since the previous converge: rendered files and API key ids)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hxgen.audit import log
from hxgen.audit.cli import main
from hxgen.contracts import audit as contract


@pytest.fixture
def config(tmp_path) -> Path:
    cfg = {
        "version": contract.VERSION,
        "log_dir": str(tmp_path / "log"),
        "key_file": str(tmp_path / "keys" / "head.key"),
        "public_key_file": str(tmp_path / "keys" / "head.pub"),
        "head_copies": [str(tmp_path / "backups" / "audit" / "head.json")],
        "retention_days": 30,
        "state_dir": str(tmp_path / "state"),
        "listen": {"address": "127.0.0.1", "port": 9745},
        "access_log": None,
        "api_keys_map": str(tmp_path / "api-keys.map"),
    }
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(cfg))
    (tmp_path / "state").mkdir()
    return path


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def records_of(config: Path) -> list[dict]:
    directory = config.parent / "log"
    return [json.loads(line) for p in log.segments(directory) for line in p.read_text().splitlines()]


def test_keygen_creates_once_then_keeps(config, capsys):
    assert run(config, "keygen") == 0
    assert capsys.readouterr().out == "created\n"
    assert (config.parent / "keys" / "head.pub").exists()
    assert run(config, "keygen") == 0
    assert capsys.readouterr().out == "exists\n"


def test_append_prints_the_seq_and_verify_passes(config, capsys):
    run(config, "keygen")
    capsys.readouterr()
    detail = json.dumps({"jail": "hx-gateway", "address": "10.0.0.9", "seconds": 600})
    assert run(config, "append", "--actor", "fail2ban", "--action", "ban", "--detail", detail) == 0
    assert capsys.readouterr().out == "1\n"
    assert run(config, "verify") == 0
    assert "1 records" in capsys.readouterr().out
    assert (config.parent / "backups" / "audit" / "head.json").exists()


@pytest.mark.parametrize("detail", ["not json", "[1, 2]", '"text"'])
def test_append_refuses_a_detail_that_is_not_an_object_with_exit_2(config, capsys, detail):
    run(config, "keygen")
    assert run(config, "append", "--actor", "a", "--action", "b", "--detail", detail) == 2
    assert "--detail" in capsys.readouterr().err
    assert records_of(config) == []


@pytest.mark.parametrize(
    "detail",
    [{"authorization": "x"}, {"request": {"headers": {"Authorization": "Bearer sk-1"}}}, {"note": "Bearer sk-1"},
     {"keys": [{"key_hash": "ab"}]}, {"password": "x"}],
)  # fmt: skip
def test_append_refuses_what_looks_like_a_secret(config, capsys, detail):
    run(config, "keygen")
    assert run(config, "append", "--actor", "a", "--action", "b", "--detail", json.dumps(detail)) == 2
    assert "looks like a secret" in capsys.readouterr().err
    assert records_of(config) == []


def test_append_without_a_key_fails_with_exit_1_and_says_what_to_run(config, capsys):
    assert run(config, "append", "--actor", "a", "--action", "b") == 1
    assert "hx-audit keygen" in capsys.readouterr().err


def test_an_unreadable_configuration_exits_2(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "none.json"), "append", "--actor", "a", "--action", "b"]) == 2
    assert "cannot read the configuration" in capsys.readouterr().err


def converge(config: Path, monkeypatch, capsys, rendered: dict, revision: str = "abc123") -> dict:
    document = {"user": "alice", "revision": revision, "dirty": False, "rendered": rendered}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(document)))
    assert run(config, "converge-record") == 0
    return json.loads(capsys.readouterr().out)


def key_map(config: Path, *ids: tuple[str, str]) -> None:
    lines = ["# Written by the gateway role"] + [f'{"ab" * 32} "{tenant} - {kid}";' for kid, tenant in ids]
    (config.parent / "api-keys.map").write_text("\n".join(lines) + "\n")


def test_converge_records_name_what_changed_since_the_previous_converge(config, monkeypatch, capsys):
    run(config, "keygen")
    capsys.readouterr()
    key_map(config, ("k-1", "acme"))
    first = converge(config, monkeypatch, capsys, {"nginx/nginx.conf": "1", "systemd/a.service": "2"})
    assert first["changed"] is True
    # nothing changed: recorded, but not a change of the host (the second converge stays changed=0)
    again = converge(config, monkeypatch, capsys, {"nginx/nginx.conf": "1", "systemd/a.service": "2"})
    assert again["changed"] is False
    key_map(config, ("k-2", "acme"))  # `hxgen keys create` then `revoke k-1`, then a converge
    third = converge(config, monkeypatch, capsys, {"nginx/nginx.conf": "9", "prometheus/rules/x.yml": "3"})
    assert third["changed"] is True
    got = records_of(config)
    actions = [r["action"] for r in got]
    assert actions == ["converge", "key-created", "converge", "converge", "key-created", "key-revoked"]
    c = got[3]
    assert c["actor"] == "alice"
    assert c["detail"]["revision"] == "abc123" and c["detail"]["dirty"] is False
    assert c["detail"]["rendered_changed"] == ["nginx/nginx.conf"]
    assert c["detail"]["rendered_added"] == ["prometheus/rules/x.yml"]
    assert c["detail"]["rendered_removed"] == ["systemd/a.service"]
    assert (c["detail"]["keys_added"], c["detail"]["keys_revoked"]) == (["k-2"], ["k-1"])
    assert got[5]["detail"] == {"key_id": "k-1", "tenant": "acme"}
    assert "ab" * 32 not in json.dumps(got)  # never a key hash in the log
    assert run(config, "verify") == 0


def test_converge_input_that_is_not_an_object_exits_2(config, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("[]"))
    assert run(config, "converge-record") == 2
    assert "bad input" in capsys.readouterr().err


def test_check_reads_the_rendered_configuration(capsys):
    from conftest import ROOT

    assert main(["--config", str(ROOT / "sandbox/rendered/audit/audit.json"), "check"]) == 0
    assert "retention 30 days" in capsys.readouterr().out


def test_verify_on_the_host_checks_the_head_copy_beside_the_backups_too(config, capsys):
    run(config, "keygen")
    for n in range(3):
        run(config, "append", "--actor", "a", "--action", f"step-{n}")
    directory = config.parent / "log"
    rolled_back = (directory / "head.json").read_text()
    run(config, "append", "--actor", "a", "--action", "step-3")
    capsys.readouterr()
    (segment,) = log.segments(directory)
    segment.write_text("".join(segment.read_text().splitlines(keepends=True)[:3]))  # drop the last record
    (directory / "head.json").write_text(rolled_back)  # and roll the head beside it back
    assert run(config, "verify", "--head", str(directory / "head.json")) == 0  # the rolled-back head agrees
    capsys.readouterr()
    assert run(config, "verify") == 1  # the copy beside the backups does not
    err = capsys.readouterr().err
    assert f"{segment}:3: seq 3: the log ends here, but the signed head says seq 4" in err


def test_the_service_state_checks_every_head_copy(config):
    from hxgen.audit import config as config_mod
    from hxgen.audit import signing
    from hxgen.audit.chain_state import ChainState

    run(config, "keygen")
    for n in range(3):
        run(config, "append", "--actor", "a", "--action", f"step-{n}")
    cfg = config_mod.load(config)
    audit = log.AuditLog(cfg.log_dir, cfg.key_file, list(cfg.head_copies))
    state = ChainState(audit, signing.load_public_key(cfg.public_key_file))
    assert state.full().ok
    rolled_back = audit.head_file.read_text()
    run(config, "append", "--actor", "a", "--action", "step-3")
    (segment,) = log.segments(cfg.log_dir)
    segment.write_text("".join(segment.read_text().splitlines(keepends=True)[:3]))
    audit.head_file.write_text(rolled_back)
    result = state.full()
    assert not result.ok and "the tail was truncated" in result.problem.message
