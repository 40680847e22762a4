"""Diagnostics: what is wrong, where in the user's file, and what to do about it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# A note says what was not checked (and why); it is neither an error nor a warning.
Severity = Literal["error", "warning", "note"]
# A location inside the spec, as pydantic reports it: ("models", 0, "gpus", 1).
SpecPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    """Stable, kebab-case identifier (documented in docs/diagnostics.md)."""
    message: str
    hint: str | None = None
    path: SpecPath = ()
    at: Literal["key", "value"] = "value"
    """Point at the key itself (unknown keys) or at its value (bad values)."""


@dataclass(frozen=True)
class Located:
    file: str
    line: int
    column: int
    """line and column are 0 for a diagnostic about the whole file (a note)."""
    diagnostic: Diagnostic

    def format(self) -> str:
        d = self.diagnostic
        where = f"{dotted(d.path)}: " if d.path else ""
        place = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        text = f"{place}: {d.severity}[{d.code}]: {where}{d.message}"
        if d.hint:
            text += f"\n  hint: {d.hint}"
        return text

    def as_dict(self) -> dict:
        d = self.diagnostic
        return {
            "file": self.file,
            "line": self.line or None,
            "column": self.column or None,
            "severity": d.severity,
            "code": d.code,
            "path": dotted(d.path),
            "message": d.message,
            "hint": d.hint,
        }


def error(code: str, message: str, path: SpecPath = (), hint: str | None = None, at: str = "value") -> Diagnostic:
    return Diagnostic("error", code, message, hint, path, at)


def warning(code: str, message: str, path: SpecPath = (), hint: str | None = None, at: str = "value") -> Diagnostic:
    return Diagnostic("warning", code, message, hint, path, at)


def note(code: str, message: str) -> Diagnostic:
    return Diagnostic("note", code, message)


def dotted(path: SpecPath) -> str:
    """("models", 0, "gpus") -> "models[0].gpus", the way users name places in YAML."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f"did you mean '{close[0]}'?" if close else None


def summary(located: list[Located]) -> str:
    errors = sum(1 for d in located if d.diagnostic.severity == "error")
    warnings = sum(1 for d in located if d.diagnostic.severity == "warning")
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
