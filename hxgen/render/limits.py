"""systemd resource-control files from the spec's memory budgets (see plan.limits).

rendered/systemd/hx-monitoring.slice, and one drop-in per unit the budgets reach:
rendered/systemd/<unit>.d/hx-limits.conf, which the unit's role copies to /etc/systemd/system/.
"""

from __future__ import annotations

from ..plan import Plan
from ..plan.limits import UnitLimits
from .common import RENDERED_DIR, Artifact, header


def _gigabytes(gb: float) -> str:
    return f"{gb:g}G"


def _slice(plan: Plan) -> str:
    limits = plan.limits
    return (
        header(plan.spec_file)
        + "# Prometheus, Alertmanager, Grafana and their exporters run in this slice (Slice= drop-ins):\n"
        + "# together they may use monitoring.memory_gb of RAM; above it the kernel reclaims, then kills\n"
        + "# inside the slice, never elsewhere on the host.\n"
        + "[Unit]\n"
        + "Description=hx monitoring stack (monitoring.memory_gb)\n"
        + "Before=slices.target\n"
        + "\n[Slice]\n"
        + "MemoryAccounting=yes\n"
        + f"MemoryMax={_gigabytes(limits.monitoring_memory_gb)}\n"
    )


def _dropin(plan: Plan, unit: UnitLimits) -> str:
    lines = [header(plan.spec_file).rstrip("\n"), f"# Installed by the {unit.role} role over the packaged {unit.unit}."]
    lines.append("[Service]")
    if unit.memory_max_gb is not None:
        lines += ["MemoryAccounting=yes", f"MemoryMax={_gigabytes(unit.memory_max_gb)}"]
    if unit.slice is not None:
        lines.append(f"Slice={unit.slice}")
    return "\n".join(lines) + "\n"


def render(plan: Plan) -> list[Artifact]:
    artifacts = [Artifact(f"{RENDERED_DIR}/systemd/{plan.limits.monitoring_slice}", _slice(plan))]
    artifacts += [Artifact(f"{RENDERED_DIR}/systemd/{u.dropin}", _dropin(plan, u)) for u in plan.limits.units]
    return artifacts
