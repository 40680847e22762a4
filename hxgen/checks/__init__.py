"""Cross-field checks: rules that no single field can enforce. All run; all findings are kept.

Each check declares the top-level sections it reads (`sections.reads`). When some sections
have errors, every check whose sections are all valid still runs; the others are skipped,
and the caller says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..diagnostics import Diagnostic
from ..spec import Spec
from . import analytics, canary, capacity, fields, firewall, intrusion, references, service_levels, uniqueness
from .sections import READS, SECTIONS, CheckFunction, SectionView


@dataclass(frozen=True)
class Check:
    run: CheckFunction
    reads: frozenset[str]

    @property
    def name(self) -> str:
        return f"{self.run.__module__.rsplit('.', 1)[-1]}.{self.run.__name__}"


def _registered(*functions: CheckFunction) -> tuple[Check, ...]:
    undeclared = [f.__name__ for f in functions if f not in READS]
    if undeclared:
        raise TypeError(f"checks without @reads(...): {', '.join(undeclared)}")
    return tuple(Check(f, READS[f]) for f in functions)


CHECKS: tuple[Check, ...] = _registered(
    *uniqueness.CHECKS,
    *references.CHECKS,
    *capacity.CHECKS,
    *service_levels.CHECKS,
    *analytics.CHECKS,
    *firewall.CHECKS,
    *fields.CHECKS,
    *intrusion.CHECKS,
    *canary.CHECKS,
)


@dataclass(frozen=True)
class CheckRun:
    diagnostics: list[Diagnostic]
    skipped: tuple[Check, ...]
    """Checks that did not run because a section they read is not valid."""
    waiting_on: tuple[str, ...]
    """The sections (in spec order) whose errors kept those checks from running."""


def run_section_checks(sections: Mapping[str, Any]) -> CheckRun:
    """Run every check whose declared sections are all in `sections` (the valid ones)."""
    found: list[Diagnostic] = []
    skipped: list[Check] = []
    for check in CHECKS:
        if check.reads <= sections.keys():
            found.extend(check.run(SectionView(sections, check.reads, check.name)))
        else:
            skipped.append(check)
    missing = {name for check in skipped for name in check.reads - sections.keys()}
    return CheckRun(found, tuple(skipped), tuple(name for name in SECTIONS if name in missing))


def run_checks(spec: Spec) -> list[Diagnostic]:
    """All checks on a whole, valid spec."""
    return run_section_checks({name: getattr(spec, name) for name in SECTIONS}).diagnostics
