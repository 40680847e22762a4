"""What each cross-field check may read: the top-level sections it declares, and nothing else.

A check runs when every section it declares is valid, so it can still find problems while
another section has errors. The declaration is enforced: a check sees the spec through a view
that refuses any section it did not declare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..diagnostics import Diagnostic
from ..spec import Spec

SECTIONS: tuple[str, ...] = tuple(name for name in Spec.model_fields if name != "version")

CheckFunction = Callable[[Spec], Iterable[Diagnostic]]
READS: dict[CheckFunction, frozenset[str]] = {}


def reads(*sections: str) -> Callable[[CheckFunction], CheckFunction]:
    """Declare the sections a check reads (including through the helpers it calls)."""
    unknown = set(sections) - set(SECTIONS)
    if unknown or not sections:
        raise ValueError(f"declare one or more of {', '.join(SECTIONS)}; not {sorted(unknown)}")

    def declare(check: CheckFunction) -> CheckFunction:
        READS[check] = frozenset(sections)
        return check

    return declare


class UndeclaredSection(Exception):
    """A check read a section it did not declare: a bug in hxgen, never the user's input.

    Not an AttributeError, so that no getattr(..., default) can swallow it.
    """


class SectionView:
    """The spec as one check sees it: the sections it declared, nothing else."""

    __slots__ = ("_allowed", "_check", "_sections")

    def __init__(self, sections: Mapping[str, Any], allowed: frozenset[str], check: str) -> None:
        self._sections, self._allowed, self._check = sections, allowed, check

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy, pickle and friends probe for dunders
            raise AttributeError(name)
        if name not in self._allowed:
            declared = ", ".join(sorted(self._allowed))
            raise UndeclaredSection(f"check {self._check} reads spec.{name} but declares only: {declared}")
        return self._sections[name]
