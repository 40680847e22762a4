"""The durable log cursor across logrotate's rename, with nginx reopening its log after it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from log_rotation import rotate, settled

from hxgen.logtail import LogCursor, Position

pytestmark = pytest.mark.unit


def append(path: Path, *lines: str) -> None:
    with path.open("a") as f:
        f.writelines(line + "\n" for line in lines)


def read(cursor: LogCursor) -> list[str]:
    return [raw.decode() for raw, _ in cursor.lines()]


def test_lines_written_to_the_renamed_file_before_nginx_reopens_are_read(tmp_path):
    log = tmp_path / "access.log"
    append(log, "a")
    cursor = LogCursor(log, Position())
    assert read(cursor) == ["a"]
    rotated = log.with_name("access.log.1")
    log.rename(rotated)
    log.touch()  # logrotate's `create`: nginx has not reopened yet
    append(rotated, "b")  # a worker still writes to the renamed file
    assert read(cursor) == ["b"]  # and the cursor stays with it: the new file is still empty
    append(rotated, "c")
    append(log, "d")  # one worker reopened; another wrote its last line to the old file just now
    recent = time.time() + 60  # "just now" however slowly this test runs
    os.utime(rotated, (recent, recent))
    assert read(cursor) == ["c"]  # the old file was written within the grace: not final yet
    settled(rotated)
    assert read(cursor) == ["d"]
    assert cursor.position == Position(log.stat().st_ino, 2)


def test_a_rotation_with_every_worker_reopened_goes_on_in_the_new_file(tmp_path):
    log = tmp_path / "access.log"
    append(log, "a")
    cursor = LogCursor(log, Position())
    read(cursor)
    append(log, "b")
    rotate(log)
    append(log, "c")
    assert read(cursor) == ["b", "c"]


def test_a_restart_resumes_at_the_saved_position(tmp_path):
    log = tmp_path / "access.log"
    append(log, "a", "b")
    first = LogCursor(log, Position())
    lines = list(first.lines())
    assert [raw for raw, _ in lines] == [b"a", b"b"]
    append(log, "c")
    again = LogCursor(log, Position.from_json(lines[0][1].to_json()))
    assert read(again) == ["b", "c"]


def test_a_half_written_line_waits_for_its_newline(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("a\nhalf")
    cursor = LogCursor(log, Position())
    assert read(cursor) == ["a"]
    with log.open("a") as f:
        f.write("-done\n")
    assert read(cursor) == ["half-done"]
