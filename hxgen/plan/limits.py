"""Memory budgets that become limits on the host (systemd resource control).

- gateway.memory_gb: MemoryMax of nginx (a drop-in the gateway role installs).
- monitoring.memory_gb: MemoryMax of hx-monitoring.slice, which Prometheus, Alertmanager,
  Grafana and their exporters run in (a Slice= drop-in per unit, installed by its role).
- databases.qdrant.memory_gb: MemoryMax of qdrant.service, which the qdrant role templates
  (the unit depends on the host's install; hxgen emits qdrant_memory_gb).
The model services and hx-analytics carry MemoryMax in the units hxgen renders.
"""

from __future__ import annotations

from dataclasses import dataclass

MONITORING_SLICE = "hx-monitoring.slice"
DROPIN_NAME = "hx-limits.conf"


@dataclass(frozen=True)
class UnitLimits:
    unit: str
    """The unit the drop-in extends, e.g. nginx.service."""
    role: str
    """The role that installs the drop-in (it owns the unit)."""
    memory_max_gb: float | None = None
    slice: str | None = None

    @property
    def dropin(self) -> str:
        """Path below rendered/, and below /etc/systemd/system/ on the host."""
        return f"{self.unit}.d/{DROPIN_NAME}"


@dataclass(frozen=True)
class LimitsPlan:
    monitoring_slice: str
    monitoring_memory_gb: float
    units: tuple[UnitLimits, ...]


# The units of the monitoring stack, by the role that installs them (Debian's unit names).
MONITORING_UNITS: tuple[tuple[str, str], ...] = (
    ("node_exporter", "prometheus-node-exporter.service"),
    ("prometheus", "prometheus.service"),
    ("alertmanager", "prometheus-alertmanager.service"),
    ("grafana", "grafana-server.service"),
)
BLACKBOX_UNIT = ("prometheus", "prometheus-blackbox-exporter.service")


def build_limits_plan(
    roles: list[str], gateway_memory_gb: float | None, monitoring_memory_gb: float, probes: bool
) -> LimitsPlan:
    units: list[UnitLimits] = []
    if "gateway" in roles and gateway_memory_gb is not None:
        units.append(UnitLimits("nginx.service", "gateway", memory_max_gb=gateway_memory_gb))
    monitoring = [*MONITORING_UNITS, *([BLACKBOX_UNIT] if probes else [])]
    units += [UnitLimits(unit, role, slice=MONITORING_SLICE) for role, unit in monitoring if role in roles]
    return LimitsPlan(MONITORING_SLICE, monitoring_memory_gb, tuple(units))
