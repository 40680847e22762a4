"""What `hxgen doctor` knows about a host: plain data, filled by the gatherer, read by the rules."""

from __future__ import annotations

from dataclasses import dataclass, field

GIB = 1024**3


@dataclass(frozen=True)
class UnitFacts:
    active_state: str
    """systemd's ActiveState: active, inactive, failed, activating, ..."""
    sub_state: str = ""
    restarts: int = 0
    """Starts of the unit within the journal window, beyond its first."""
    oom_kills: int = 0
    """Times the kernel's OOM killer ended the unit's processes within the journal window."""


@dataclass(frozen=True)
class MountFacts:
    path: str
    size_bytes: int
    available_bytes: int

    @property
    def available_ratio(self) -> float:
        return self.available_bytes / self.size_bytes if self.size_bytes else 0.0


@dataclass(frozen=True)
class HostFacts:
    host: str
    journal_window_min: int
    """How far back the journal was read for restarts and OOM kills."""
    units: dict[str, UnitFacts] = field(default_factory=dict)
    """By unit name (hx-model-tiny.service); a unit the host does not have is absent."""
    listening_tcp_ports: frozenset[int] = frozenset()
    mounts: tuple[MountFacts, ...] = ()
