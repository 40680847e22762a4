"""A durable cursor over a log file that is rotated by rename (logrotate without copytruncate):
the position is the file's inode and the offset of the next unread byte, so it survives a
restart and a rotation. hx-audit and hx-usage follow the gateway's access log with it.

Rotation: when the live file's inode is no longer the cursor's, the cursor finds its file by inode
among `<name>*` (access.log.1, access.log-20261202, ...), reads it to its end, then goes on with the
next newer file, and finally the live one, from its beginning; it leaves a renamed file only once
nginx has reopened its log (see LogCursor._final), so the lines written between the rename and
the reopen are read too. A file truncated in place (size
below the offset) is read again from its start. When the cursor's file is gone altogether
(compressed or deleted before it was finished), `on_lost` is told and the cursor starts on the
live file: what was left in the old one cannot be read any more.

Only complete lines are yielded; a half-written last line waits for its newline. The cursor holds
no open file between reads.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20
REOPEN_GRACE_S = 2.0
# Rotated files that are no longer plain text: the cursor cannot finish those.
COMPRESSED = (".gz", ".xz", ".bz2", ".zst")


@dataclass(frozen=True)
class Position:
    inode: int | None = None
    """None: nothing read yet; the cursor starts at the beginning of the live file."""
    offset: int = 0

    def to_json(self) -> dict[str, int | None]:
        return {"inode": self.inode, "offset": self.offset}

    @classmethod
    def from_json(cls, data: object) -> Position:
        """A saved position; anything unreadable is the start (and the reader says so)."""
        if not isinstance(data, dict):
            return cls()
        inode, offset = data.get("inode"), data.get("offset")
        if not isinstance(inode, int) or not isinstance(offset, int) or offset < 0:
            return cls()
        return cls(inode, offset)


class LogCursor:
    def __init__(self, path: Path, position: Position, on_lost: Callable[[Position], None] | None = None) -> None:
        self.path = path
        self.position = position
        self.on_lost = on_lost
        """Called with the position that could not be finished (its file is gone)."""

    # -- where the cursor's file is ----------------------------------------------------------------
    def _live_inode(self) -> int | None:
        try:
            return self.path.stat().st_ino
        except FileNotFoundError:
            return None

    def _rotated(self) -> list[tuple[Path, os.stat_result]]:
        """The plain rotated files beside the live one, oldest first."""
        found = []
        for candidate in self.path.parent.glob(self.path.name + "?*"):
            if candidate.name.endswith(COMPRESSED):
                continue
            try:
                st = candidate.stat()
            except OSError:
                continue
            if candidate.is_file():
                found.append((candidate, st))
        return sorted(found, key=lambda item: (item[1].st_mtime_ns, -_rotation_number(item[0].name)))

    def _file_of(self, inode: int) -> Path | None:
        if self._live_inode() == inode:
            return self.path
        return next((path for path, st in self._rotated() if st.st_ino == inode), None)

    def pin(self) -> Position:
        """A cursor that has read nothing yet is pinned to the beginning of the live file (when
        there is one), so that a rotation before its first line is followed too."""
        if self.position.inode is None:
            live = self._live_inode()
            if live is not None:
                self.position = Position(live, 0)
        return self.position

    def _locate(self) -> Path | None:
        """The file the cursor reads next, after settling a start or a lost file; None: no log yet."""
        live = self._live_inode()
        if self.position.inode is None:
            if live is None:
                return None
            self.position = Position(live, 0)
        path = self._file_of(self.position.inode)
        if path is not None:
            return path
        if self.on_lost is not None:
            self.on_lost(self.position)
        if live is None:
            self.position = Position()
            return None
        self.position = Position(live, 0)
        return self.path

    def _after(self, inode: int) -> int | None:
        """The inode of the file that follows a finished rotated one: the next newer, else the live one."""
        rotated = self._rotated()
        inodes = [st.st_ino for _, st in rotated]
        if inode in inodes:
            index = inodes.index(inode)
            if index + 1 < len(inodes):
                return inodes[index + 1]
        return self._live_inode()

    def _final(self, rotated: Path, following: int) -> bool:
        """Whether a rotated file can get no more lines. logrotate renames the log and creates the
        new one before nginx reopens its logs (USR1), and until each worker has reopened, lines
        still go to the renamed file: it is final once the next file has lines (some worker has
        reopened) and it has not been written for REOPEN_GRACE_S (the others have too)."""
        next_path = self.path if self._live_inode() == following else self._file_of(following)
        try:
            if next_path is None or next_path.stat().st_size == 0:
                return False
            return time.time() - rotated.stat().st_mtime >= REOPEN_GRACE_S
        except FileNotFoundError:
            return True  # the rotated file is gone: nothing more to wait for

    # -- reading -----------------------------------------------------------------------------------
    def lines(self, stop_at: Position | None = None) -> Iterator[tuple[bytes, Position]]:
        """Every complete line from the position on, each with the position after it (which is also
        self.position once the line is yielded). Stops at the end of the live file, or at stop_at."""
        while True:
            if _reached(self.position, stop_at):
                return
            path = self._locate()
            if path is None:
                return
            inode = self.position.inode
            yield from self._read(path, stop_at)
            if _reached(self.position, stop_at):
                return
            if self.position.inode != inode or path == self.path and self._live_inode() == inode:
                return  # the live file's end (a rotation now is seen on the next call)
            following = self._after(inode)
            if following is None or following == inode or not self._final(path, following):
                return
            self.position = Position(following, 0)

    def _read(self, path: Path, stop_at: Position | None) -> Iterator[tuple[bytes, Position]]:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return  # renamed or removed between the look and the open: settled on the next call
        with handle:
            inode = os.fstat(handle.fileno()).st_ino
            if inode != self.position.inode:
                return
            offset = self.position.offset
            if os.fstat(handle.fileno()).st_size < offset:  # truncated in place: read it again
                offset = 0
                self.position = Position(inode, 0)
            handle.seek(offset)
            pending = b""
            while chunk := handle.read(CHUNK_BYTES):
                pending += chunk
                end = pending.rfind(b"\n")
                if end < 0:
                    continue
                complete, pending = pending[: end + 1], pending[end + 1 :]
                for raw in complete.split(b"\n")[:-1]:
                    offset += len(raw) + 1
                    self.position = Position(inode, offset)
                    yield raw, self.position
                    if _reached(self.position, stop_at):
                        return

    def remaining_bytes(self) -> int:
        """Bytes of the log not read yet: the rest of the cursor's file, the newer rotated files and
        the live one (an estimate while a rotation is under way)."""
        if self.position.inode is None:
            try:
                return self.path.stat().st_size
            except FileNotFoundError:
                return 0
        files = self._rotated()
        with contextlib.suppress(FileNotFoundError):
            files.append((self.path, self.path.stat()))
        inodes = [st.st_ino for _, st in files]
        if self.position.inode not in inodes:
            return files[-1][1].st_size if files else 0
        index = inodes.index(self.position.inode)
        total = max(files[index][1].st_size - self.position.offset, 0)
        return total + sum(st.st_size for _, st in files[index + 1 :])


def _reached(position: Position, stop_at: Position | None) -> bool:
    return stop_at is not None and position.inode == stop_at.inode and position.offset >= stop_at.offset


def _rotation_number(name: str) -> int:
    """access.log.2 is older than access.log.1 when their times tie."""
    match = re.search(r"\.(\d+)$", name)
    return int(match.group(1)) if match else 0
