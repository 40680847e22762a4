"""The only module that touches disk: write artifacts, prune stale files, or report a diff."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from .render import Artifact


@dataclass
class Changes:
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.written or self.removed)


def compare(out_dir: Path, artifacts: list[Artifact], owned: tuple[str, ...]) -> Changes:
    changes = Changes()
    expected = {a.path for a in artifacts}
    for artifact in artifacts:
        target = out_dir / artifact.path
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        (changes.unchanged if current == artifact.text else changes.written).append(artifact.path)
    changes.removed = [p for p in _owned_files(out_dir, owned) if p not in expected]
    return changes


def write(out_dir: Path, artifacts: list[Artifact], changes: Changes) -> None:
    by_path = {a.path: a for a in artifacts}
    for path in changes.written:
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(by_path[path].text, encoding="utf-8")
    for path in changes.removed:
        target = out_dir / path
        target.unlink()
        _remove_empty_parents(target.parent, out_dir)


def diff(out_dir: Path, artifacts: list[Artifact], changes: Changes) -> str:
    by_path = {a.path: a for a in artifacts}
    chunks = []
    for path in sorted(changes.written + changes.removed):
        target = out_dir / path
        old = target.read_text(encoding="utf-8").splitlines(keepends=True) if target.is_file() else []
        new = by_path[path].text.splitlines(keepends=True) if path in by_path else []
        chunks.extend(difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"))
    return "".join(chunks)


def _owned_files(out_dir: Path, owned: tuple[str, ...]) -> list[str]:
    found = []
    for entry in owned:
        base = out_dir / entry
        if entry.endswith("/"):
            if base.is_dir():
                found += [p.relative_to(out_dir).as_posix() for p in base.rglob("*") if p.is_file()]
        elif base.is_file():
            found.append(entry)
    return sorted(found)


def _remove_empty_parents(directory: Path, stop: Path) -> None:
    while directory != stop and directory.is_dir() and not any(directory.iterdir()):
        directory.rmdir()
        directory = directory.parent
