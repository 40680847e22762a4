"""Cross-field checks: rules that no single field can enforce. All run; all findings are kept."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..diagnostics import Diagnostic
from ..spec import Spec
from . import analytics, capacity, references, service_levels, uniqueness

Check = Callable[[Spec], Iterable[Diagnostic]]

CHECKS: tuple[Check, ...] = (
    *uniqueness.CHECKS,
    *references.CHECKS,
    *capacity.CHECKS,
    *service_levels.CHECKS,
    *analytics.CHECKS,
)


def run_checks(spec: Spec) -> list[Diagnostic]:
    return [d for check in CHECKS for d in check(spec)]
