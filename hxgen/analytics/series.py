"""Time series in and out: the `timestamp,value` CSV contract, checked row by row.

Timestamps are ISO 8601 (with or without a zone; naive ones are taken as UTC) or Unix epoch
seconds. Rows must be in time order. Every problem is reported with its line, never as a
traceback, because other tools drive `hxgen analyze` and read its errors.
"""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("timestamp", "value")


class SeriesError(Exception):
    """Input that cannot be analysed; the message names the file and line."""


class UnreadableInput(SeriesError):
    """The file itself cannot be read (missing, no permission, not text)."""


@dataclass(frozen=True)
class Series:
    timestamps: np.ndarray
    """datetime64[ns], UTC, strictly increasing."""
    values: np.ndarray
    """float64, finite."""
    raw_timestamps: list[str]
    """The timestamps exactly as written, echoed in output rows."""
    raw_values: list[str]
    """The values exactly as written, likewise."""
    epoch: bool
    """The input wrote epoch seconds; forecasts are written the same way."""

    def __len__(self) -> int:
        return len(self.values)


def read_csv(path: Path) -> Series:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return _parse(path.name, csv.reader(handle))
    except OSError as exc:
        raise UnreadableInput(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _parse(name: str, rows) -> Series:
    header = next(rows, None)
    if header is None:
        raise SeriesError(f"{name}: the file is empty; expected a header 'timestamp,value'")
    columns = [c.strip().lower() for c in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SeriesError(
            f"{name}:1: missing column(s) {', '.join(missing)}; the header must name 'timestamp' and 'value' "
            f"(found: {', '.join(header) or 'nothing'})"
        )
    t_col, v_col = columns.index("timestamp"), columns.index("value")
    raw, raw_values, values = [], [], []
    for line, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry nothing
        if len(row) <= max(t_col, v_col):
            raise SeriesError(f"{name}:{line}: expected {len(columns)} columns, found {len(row)}")
        raw.append(row[t_col].strip())
        raw_values.append(row[v_col].strip())
        values.append(_number(name, line, row[v_col]))
    if not raw:
        raise SeriesError(f"{name}: no rows after the header")
    timestamps, epoch = _timestamps(name, raw)
    return Series(timestamps, np.asarray(values, dtype=np.float64), raw, raw_values, epoch)


def _number(name: str, line: int, cell: str) -> float:
    if not cell.strip():
        raise SeriesError(f"{name}:{line}: no value; drop the row or fill the gap")
    try:
        value = float(cell)
    except ValueError:
        raise SeriesError(f"{name}:{line}: value {cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise SeriesError(f"{name}:{line}: value {cell.strip()!r} is not a finite number; drop the row or fill the gap")
    return value


def _timestamps(name: str, raw: list[str]) -> tuple[np.ndarray, bool]:
    epoch = all(_is_number(r) for r in raw)
    if epoch:
        parsed = pd.to_datetime(pd.Series([float(r) for r in raw]), unit="s", utc=True)
    else:
        parsed = pd.to_datetime(pd.Series(raw), utc=True, errors="coerce", format="ISO8601")
        bad = int(np.argmax(parsed.isna().to_numpy())) if parsed.isna().any() else None
        if bad is not None:
            raise SeriesError(
                f"{name}:{bad + 2}: timestamp {raw[bad]!r} is neither ISO 8601 (2026-11-26T10:00:00Z) nor epoch seconds"
            )
    stamps = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    steps = np.diff(stamps)
    if (steps <= np.timedelta64(0)).any():
        i = int(np.argmax(steps <= np.timedelta64(0))) + 1
        what = "repeats" if steps[i - 1] == np.timedelta64(0) else "goes back in time after"
        raise SeriesError(f"{name}:{i + 2}: timestamp {raw[i]!r} {what} the row before; sort the rows by time")
    return stamps, epoch


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def interval(timestamps: np.ndarray) -> np.timedelta64:
    """The sampling interval: the median step, robust to gaps and jitter."""
    if len(timestamps) < 2:
        raise SeriesError("one row has no interval; give at least two")
    steps = np.diff(np.asarray(timestamps, dtype="datetime64[ns]")).astype(np.int64)
    return np.timedelta64(int(np.median(steps)), "ns")


def format_timestamps(timestamps: np.ndarray, epoch: bool) -> list[str]:
    if epoch:
        seconds = timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9
        return [f"{s:.0f}" if float(s).is_integer() else f"{s:.3f}" for s in seconds]
    return [str(pd.Timestamp(t).isoformat()) + "Z" for t in timestamps]


def write_csv(path: Path | None, header: list[str], rows) -> None:
    """To path, or stdout when None; rows of strings and floats (ten significant digits: byte
    counts stay exact, noise does not pretend to more)."""
    handle = sys.stdout if path is None else path.open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([c if isinstance(c, str) else f"{c:.10g}" for c in row])
    finally:
        if path is not None:
            handle.close()
