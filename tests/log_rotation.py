"""Rotating a log the way logrotate does it, for tests of what follows the gateway's access log."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hxgen.logtail import REOPEN_GRACE_S


def rotate(log: Path, suffix: str = ".1") -> Path:
    """Rename the log as logrotate does, as if nginx reopened it long enough ago that no worker can
    still write to the renamed file (hxgen.logtail waits REOPEN_GRACE_S for that)."""
    rotated = log.with_name(log.name + suffix)
    log.rename(rotated)
    settled(rotated)
    return rotated


def settled(rotated: Path) -> None:
    """Date the renamed file's last write back past the reopen grace."""
    past = time.time() - 10 * REOPEN_GRACE_S
    os.utime(rotated, (past, past))
