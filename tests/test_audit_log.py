"""The audit log: a chain that verifies, and every kind of tampering found at the right record,
through the CLI (`hxgen audit verify`, in-process) with a clear message and a non-zero exit."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import stat
from pathlib import Path

import pytest

from hxgen.audit import log, records, signing
from hxgen.audit.verify import verify
from hxgen.cli import main as hxgen_main

T0 = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def audit(tmp_path):
    key = tmp_path / "secrets" / "head.key"
    assert signing.generate_key(key)
    return log.AuditLog(tmp_path / "log", key, [tmp_path / "backups" / "audit" / "head.json"])


def fill(audit: log.AuditLog, n: int, start: dt.datetime = T0, step: dt.timedelta = dt.timedelta(hours=1)) -> None:
    for i in range(n):
        audit.append("alice", "converge", {"n": i, "text": "é ✓"}, now=start + i * step)


def cli_verify(capsys, audit: log.AuditLog, *extra: str, target: Path | None = None) -> tuple[int, str, str]:
    pub = signing.public_key_path(audit.key_file)
    code = hxgen_main(["audit", "verify", str(target or audit.directory), "--public-key", str(pub), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def segment(audit: log.AuditLog) -> Path:
    (only,) = log.segments(audit.directory)
    return only


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


# -- the chain ---------------------------------------------------------------------------------


def test_records_are_canonical_json_lines_linked_by_the_previous_hash(audit):
    fill(audit, 3)
    got = [json.loads(line) for line in lines(segment(audit))]
    assert [r["seq"] for r in got] == [1, 2, 3]
    assert got[0]["prev"] == records.GENESIS
    assert got[1]["prev"] == got[0]["hash"] == records.record_hash(got[0])
    assert set(got[0]) == {"seq", "time", "actor", "action", "detail", "prev", "hash"}
    assert got[0]["time"] == "2026-01-10T12:00:00.000000Z"
    raw = segment(audit).read_text(encoding="utf-8").splitlines()[0]
    assert raw == json.dumps(got[0], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "é ✓" in raw  # UTF-8 kept, not escaped


def test_the_head_is_signed_and_copied_beside_the_backups(audit):
    fill(audit, 2)
    head = json.loads(audit.head_file.read_text())
    assert (head["seq"], head["sha256"]) == (2, json.loads(lines(segment(audit))[-1])["hash"])
    public = signing.load_public_key(signing.public_key_path(audit.key_file))
    assert signing.head_signature_problem(head, public) is None
    assert audit.head_copies[0].read_text() == audit.head_file.read_text()


def test_the_private_key_is_private_and_keygen_keeps_an_existing_key(audit):
    assert stat.S_IMODE(audit.key_file.stat().st_mode) == 0o600
    before = audit.key_file.read_bytes()
    assert not signing.generate_key(audit.key_file)
    assert audit.key_file.read_bytes() == before


def test_a_sound_log_verifies_with_a_one_line_summary(audit, capsys):
    fill(audit, 5)
    code, out, err = cli_verify(capsys, audit)
    assert code == 0, err
    assert out.count("\n") == 1
    assert "5 records" in out and "head seq 5" in out and "signature ok" in out


def test_segments_are_monthly_and_the_chain_runs_across_them(audit, capsys):
    fill(audit, 4, step=dt.timedelta(days=15))  # Jan 10, Jan 25, Feb 9, Feb 24
    assert [p.name for p in log.segments(audit.directory)] == ["audit-2026-01.jsonl", "audit-2026-02.jsonl"]
    code, out, _ = cli_verify(capsys, audit)
    assert code == 0 and "4 records" in out


def test_no_secret_goes_into_records_the_cli_is_given_only_what_it_is_told(audit):
    # what other parts of hx append is their detail; the log adds only seq, time, prev and hash
    record = audit.append("root", "ban", {"jail": "hx-gateway", "address": "10.0.0.9", "seconds": 60})
    assert set(record) == set(records.FIELDS)
    assert record["detail"] == {"jail": "hx-gateway", "address": "10.0.0.9", "seconds": 60}


# -- tampering ---------------------------------------------------------------------------------


def rewrite(path: Path, new_lines: list[str]) -> None:
    path.write_text("".join(new_lines), encoding="utf-8")


def reseal(record: dict) -> str:
    record["hash"] = records.record_hash(record)
    return records.encode(record)


def test_an_edited_record_is_found_at_that_record(audit, capsys):
    fill(audit, 6)
    path = segment(audit)
    content = lines(path)
    record = json.loads(content[3])
    record["detail"]["n"] = 99
    content[3] = records.canonical(record) + "\n"
    rewrite(path, content)
    code, out, err = cli_verify(capsys, audit)
    assert code == 1 and out == ""
    assert f"{path}:4: seq 4: its hash does not match its content: the record was edited" in err


def test_an_edited_record_with_a_recomputed_hash_breaks_the_link_to_the_next(audit, capsys):
    fill(audit, 6)
    path = segment(audit)
    content = lines(path)
    record = json.loads(content[2])
    record["actor"] = "mallory"
    content[2] = reseal(record)
    rewrite(path, content)
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert f"{path}:4: seq 4: its prev does not match the hash of seq 3 ({path}:3)" in err


def test_a_deleted_record_is_found_where_it_is_missing(audit, capsys):
    fill(audit, 6)
    path = segment(audit)
    content = lines(path)
    del content[2]  # seq 3
    rewrite(path, content)
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert f"{path}:3: seq 4: seq 3 missing before it (after {path}:2): records were deleted" in err


def test_reordered_records_are_found_at_the_first_out_of_place(audit, capsys):
    fill(audit, 6)
    path = segment(audit)
    content = lines(path)
    content[2], content[3] = content[3], content[2]
    rewrite(path, content)
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert f"{path}:3: seq 4: seq 3 missing before it" in err


def test_an_inserted_record_is_found_where_the_chain_breaks(audit, capsys):
    fill(audit, 6)
    path = segment(audit)
    content = lines(path)
    before = json.loads(content[1])  # seq 2
    forged = records.make_record(3, before["hash"], "mallory", "key-created", {"key_id": "k-evil"}, before["time"])
    content.insert(2, records.encode(forged))
    rewrite(path, content)
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    # the forged line looks like seq 3; the genuine seq 3 right after it no longer fits
    assert f"{path}:4: seq 3: seq 3 does not follow seq 3 ({path}:3): a record was inserted here or moved" in err


def test_a_crude_insertion_is_found_at_the_inserted_line(audit, capsys):
    fill(audit, 4)
    path = segment(audit)
    content = lines(path)
    content.insert(2, '{"seq":3,"action":"converge"}\n')
    rewrite(path, content)
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert f"{path}:3: seq 3: not a record of this log (missing time, missing actor" in err


def test_a_truncated_tail_is_found_against_the_signed_head(audit, capsys):
    fill(audit, 6)
    path = segment(audit)
    rewrite(path, lines(path)[:4])
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert (
        f"{path}:4: seq 4: the log ends here, but the signed head says seq 6: the tail was truncated (2 records" in err
    )


def test_a_truncated_tail_is_found_against_the_head_copy_even_when_the_head_beside_it_is_rolled_back(audit, capsys):
    fill(audit, 4)
    rolled_back = audit.head_file.read_text()
    fill(audit, 2, start=T0 + dt.timedelta(days=1))
    path = segment(audit)
    rewrite(path, lines(path)[:4])
    audit.head_file.write_text(rolled_back)  # the attacker can rewrite what is beside the log
    assert cli_verify(capsys, audit)[0] == 0
    code, _, err = cli_verify(capsys, audit, "--head", str(audit.head_copies[0]))
    assert code == 1 and "the tail was truncated" in err


def test_an_altered_head_fails_its_signature(audit, capsys):
    fill(audit, 3)
    head = json.loads(audit.head_file.read_text())
    head["seq"] = 2
    audit.head_file.write_text(json.dumps(head))
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert "signature does not verify" in err and "the head was altered" in err


def test_a_head_signed_by_another_key_is_refused_and_says_so(audit, tmp_path, capsys):
    fill(audit, 3)
    other = tmp_path / "other.key"
    signing.generate_key(other)
    forged = signing.sign_head(signing.load_private_key(other), 3, json.loads(lines(segment(audit))[-1])["hash"], "x")
    audit.head_file.write_text(json.dumps(forged))
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert "the head was signed by another key" in err


def test_records_appended_behind_the_writers_back_are_not_covered_by_the_head(audit, capsys):
    fill(audit, 3)
    path = segment(audit)
    last = json.loads(lines(path)[-1])
    extra = records.make_record(4, last["hash"], "mallory", "converge", {}, last["time"])
    with path.open("a", encoding="utf-8") as f:
        f.write(records.encode(extra))
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert f"{path}:4: seq 4: records after the signed head (seq 3) up to here are not covered by a signature" in err


def test_a_log_directory_without_its_head_does_not_verify(audit, capsys):
    fill(audit, 2)
    audit.head_file.unlink()
    code, _, err = cli_verify(capsys, audit)
    assert code == 1 and "no signed head" in err


def test_bad_arguments_exit_2(audit, tmp_path, capsys):
    assert hxgen_main(["audit", "verify", str(tmp_path / "nowhere")]) == 2
    assert "no such file" in capsys.readouterr().err


# -- retention ---------------------------------------------------------------------------------


def test_pruning_removes_old_segments_records_it_and_the_rest_still_verifies(audit, capsys):
    fill(audit, 6, step=dt.timedelta(days=20))  # Jan 10 .. Apr 20
    names = [p.name for p in log.segments(audit.directory)]
    assert names[0] == "audit-2026-01.jsonl"
    now = T0 + dt.timedelta(days=100)  # Apr 20: January's and February's newest records are > 45 days old
    removed = audit.prune(45, now=now)
    assert removed == ["audit-2026-01.jsonl", "audit-2026-02.jsonl"]
    kept = [p.name for p in log.segments(audit.directory)]
    assert kept == ["audit-2026-03.jsonl", "audit-2026-04.jsonl"]
    code, out, err = cli_verify(capsys, audit)
    assert code == 0, err
    assert "anchored at seq 4" in out
    last = json.loads(lines(log.segments(audit.directory)[-1])[-1])
    assert last["action"] == "audit-pruned" and last["detail"]["first_seq"] == 4
    assert audit.prune(45, now=now) == []  # nothing more is old enough


def test_a_segment_removed_outside_the_retention_is_found(audit, capsys):
    fill(audit, 6, step=dt.timedelta(days=20))
    audit.prune(45, now=T0 + dt.timedelta(days=100))
    log.segments(audit.directory)[0].unlink()  # March, still within retention
    code, _, err = cli_verify(capsys, audit)
    assert code == 1
    assert "segments were removed outside the retention" in err


def test_a_beginning_removed_without_a_prune_record_is_found(audit, capsys):
    fill(audit, 4, step=dt.timedelta(days=20))
    log.segments(audit.directory)[0].unlink()
    code, _, err = cli_verify(capsys, audit)
    assert code == 1 and "no prune record says older records were removed" in err


# -- concurrency -------------------------------------------------------------------------------


def _append_many(directory: str, key: str, worker: int, n: int) -> None:
    a = log.AuditLog(Path(directory), Path(key))
    for i in range(n):
        a.append(f"worker-{worker}", "test", {"worker": worker, "i": i})


def test_concurrent_writers_in_several_processes_lose_nothing_and_keep_the_chain(audit):
    workers, each = 4, 40
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_append_many, args=(str(audit.directory), str(audit.key_file), w, each))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    public = signing.load_public_key(signing.public_key_path(audit.key_file))
    result = verify(audit.directory, json.loads(audit.head_file.read_text()), public)
    assert result.ok, result.problem
    assert result.records == workers * each and result.head_seq == workers * each
    got = [json.loads(line)["detail"] for line in lines(segment(audit))]
    assert sorted((d["worker"], d["i"]) for d in got) == [(w, i) for w in range(workers) for i in range(each)]


def test_log_files_are_group_writable_for_the_other_writers(audit):
    old = os.umask(0o077)  # a writer with a strict umask still leaves files the group can append to
    try:
        fill(audit, 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(segment(audit).stat().st_mode) == 0o660
    assert stat.S_IMODE((audit.directory / log.LOCK_FILE).stat().st_mode) == 0o660
