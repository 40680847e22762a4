"""The reports a host keeps: DIR/hx-report-<last day>.html (and .pdf), the newest N periods."""

from __future__ import annotations

import re
from pathlib import Path

from .period import Period

PREFIX = "hx-report-"
_NAME = re.compile(rf"^{PREFIX}(\d{{4}}-\d{{2}}-\d{{2}})\.(html|pdf)$")


def archived_name(period: Period, suffix: str) -> str:
    return f"{PREFIX}{period.last_day.isoformat()}.{suffix}"


def prune(directory: Path, keep: int) -> list[Path]:
    """Remove every report but those of the newest `keep` periods (an HTML and its PDF count
    as one); files not named like reports are left alone. Returns what was removed."""
    found: dict[str, list[Path]] = {}
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.setdefault(match.group(1), []).append(path)
    removed = []
    for day in sorted(found, reverse=True)[keep:]:
        for path in sorted(found[day]):
            path.unlink()
            removed.append(path)
    return removed
