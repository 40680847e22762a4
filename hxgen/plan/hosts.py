"""The machines of a plan, and what renderers may know about each.

Today a spec describes exactly one host, so a Plan has one HostPlan; every placed component
names its host by HostPlan.name, so a plan with several hosts needs no new renderer input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import Spec


@dataclass(frozen=True)
class GpuPlan:
    index: int
    model: str
    memory_gb: float

    def as_dict(self) -> dict:
        return {"index": self.index, "model": self.model, "memory_gb": self.memory_gb}


@dataclass(frozen=True)
class StoragePlan:
    models_dir: str
    data_dir: str
    logs_dir: str
    backups_dir: str

    def as_dict(self) -> dict:
        return {
            "models_dir": self.models_dir,
            "data_dir": self.data_dir,
            "logs_dir": self.logs_dir,
            "backups_dir": self.backups_dir,
        }


@dataclass(frozen=True)
class HostPlan:
    name: str
    """The inventory hostname; components name their host by it."""
    address: str | None
    connection: str
    ssh_user: str | None
    os: str
    profile: str
    """gpu or cpu."""
    cpu_cores: int
    memory_gb: float
    gpus: tuple[GpuPlan, ...]
    storage: StoragePlan

    @property
    def has_gpus(self) -> bool:
        return self.profile == "gpu"


def build_host(spec: Spec) -> HostPlan:
    h = spec.host
    s = h.storage
    return HostPlan(
        name=h.name,
        address=str(h.address) if h.address is not None else None,
        connection=h.connection,
        ssh_user=h.ssh_user,
        os=h.os,
        profile=h.profile,
        cpu_cores=h.cpu_cores,
        memory_gb=h.memory_gb,
        gpus=tuple(GpuPlan(g.index, g.model, g.memory_gb) for g in h.gpus),
        storage=StoragePlan(s.models_dir, s.data_dir, s.logs_dir, s.backups_dir),
    )
