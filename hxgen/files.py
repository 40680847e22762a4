"""Files written whole or not at all: the controller's state files (API keys, the CA generation)
and the audit log's head and state. No import of the pipeline: the audit service uses it too."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(
    path: Path, text: str, mode: int = 0o644, before_replace: Callable[[Path], None] | None = None
) -> None:
    """A temporary file beside `path` (unique, so concurrent writers never share it), fsync'd,
    given `mode`, passed to `before_replace` (e.g. to encrypt it), then renamed over `path` and
    the directory fsync'd. The temporary file never outlives the call. Raises OSError."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
