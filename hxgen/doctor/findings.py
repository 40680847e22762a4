"""A finding of `hxgen doctor`, and the report that ranks and prints them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    """Ordered: a report lists the most severe first, and any finding above info is unhealthy."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str
    """Stable, for scripts: unit-down, unit-restarts, oom-killed, port-not-listening, disk-low, ..."""
    subject: str
    """What it is about: a unit, a port, a mount point."""
    summary: str
    """One line a person reads first: "tiny-b restarted 6 times in 10 min, OOM-killed"."""
    hint: str
    """What fixes it, naming the hx.yaml field or the command."""
    evidence: tuple[str, ...] = field(default_factory=tuple)
    """What was seen on the host, one fact per line (journal lines, sizes, states)."""


@dataclass(frozen=True)
class Report:
    host: str
    findings: tuple[Finding, ...]

    @classmethod
    def of(cls, host: str, findings: list[Finding]) -> Report:
        # Most severe first; within a severity by code and subject, so equal facts print equally.
        ranked = sorted(findings, key=lambda f: (-f.severity, f.code, f.subject))
        return cls(host=host, findings=tuple(ranked))

    @property
    def healthy(self) -> bool:
        return all(f.severity is Severity.INFO for f in self.findings)

    def to_json(self) -> str:
        return json.dumps(
            {
                "host": self.host,
                "healthy": self.healthy,
                "findings": [asdict(f) | {"severity": str(f.severity)} for f in self.findings],
            },
            indent=2,
            sort_keys=True,
        )

    def to_text(self) -> str:
        if not self.findings:
            return f"{self.host}: healthy, nothing found\n"
        lines = []
        for f in self.findings:
            lines.append(f"{str(f.severity).upper():8} {f.code} {f.subject}: {f.summary}")
            lines.extend(f"         | {line}" for line in f.evidence)
            lines.append(f"         hint: {f.hint}")
        problems = sum(1 for f in self.findings if f.severity is not Severity.INFO)
        verdict = "healthy" if self.healthy else f"unhealthy, {problems} problem(s)"
        lines.append(f"{self.host}: {verdict}")
        return "\n".join(lines) + "\n"
