"""The internal CA's generation and overlap, kept beside the inventory by `hxgen tls rotate-ca`.

The CA itself lives only on the host (its key never leaves it). This file says which generation
the host should have and until when the previous one still signs the gateway's certificate and
stays in the bundle clients trust; the gateway role hands both to hx-gateway-cert-renew, which
generates the new CA, keeps the bundle and switches the certificate when the overlap ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .files import write_atomically

GENERATION_VARIABLE = "gateway_tls_ca_generation"
OVERLAP_VARIABLE = "gateway_tls_ca_overlap_until"
HEADER = (
    "# The gateway's internal CA generation. Managed by `hxgen tls rotate-ca`; playbooks/secrets.yml\n"
    "# loads it and the next converge acts on it. Not secret (the CA key stays on the host).\n"
)
_REPAIR_HINT = "fix the file by hand (gateway_tls_ca_generation: N, gateway_tls_ca_overlap_until: 'YYYY-MM-DD' or null)"


class CaStateError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class CaState:
    generation: int = 1
    overlap_until: dt.date | None = None
    """From this day (UTC) on the new generation signs and the previous one leaves the bundle."""

    def in_overlap(self, today: dt.date) -> bool:
        return self.overlap_until is not None and today < self.overlap_until

    def rotated(self, today: dt.date, overlap_days: int) -> CaState:
        return CaState(self.generation + 1, today + dt.timedelta(days=overlap_days) if overlap_days else None)


def load(path: Path) -> CaState:
    """The state in the file; generation 1 without overlap when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CaState()
    except (OSError, UnicodeDecodeError) as exc:
        raise CaStateError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise CaStateError(f"{path}: not valid YAML: {exc}", _REPAIR_HINT) from exc
    if data is None:
        return CaState()
    if not isinstance(data, dict) or set(data) - {GENERATION_VARIABLE, OVERLAP_VARIABLE}:
        raise CaStateError(f"{path}: expected only {GENERATION_VARIABLE} and {OVERLAP_VARIABLE}", _REPAIR_HINT)
    generation = data.get(GENERATION_VARIABLE, 1)
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
        raise CaStateError(f"{path}: {GENERATION_VARIABLE} must be a whole number of at least 1", _REPAIR_HINT)
    overlap = data.get(OVERLAP_VARIABLE)
    if isinstance(overlap, str):
        try:
            overlap = dt.date.fromisoformat(overlap)
        except ValueError:
            overlap = "bad"
    if overlap is not None and not isinstance(overlap, dt.date):
        raise CaStateError(f"{path}: {OVERLAP_VARIABLE} must be a date YYYY-MM-DD or null", _REPAIR_HINT)
    return CaState(generation, overlap)


def render(state: CaState) -> str:
    overlap = f"'{state.overlap_until.isoformat()}'" if state.overlap_until else "null"
    return f"{HEADER}{GENERATION_VARIABLE}: {state.generation}\n{OVERLAP_VARIABLE}: {overlap}\n"


def save(path: Path, state: CaState) -> None:
    """Replace the file atomically (mode 0644: nothing in it is secret)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, render(state), 0o644)
    except OSError as exc:
        raise CaStateError(f"{path}: cannot write: {exc.strerror or exc}") from exc
