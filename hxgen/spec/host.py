"""The machine hx provisions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .common import AbsolutePath, IpAddress, MemoryGb, StrictModel

OperatingSystem = Literal["debian-12", "ubuntu-22.04", "ubuntu-24.04"]
Profile = Literal["gpu", "cpu"]
Connection = Literal["ssh", "local", "docker"]


class Gpu(StrictModel):
    index: int = Field(ge=0, le=63, description="Index as `nvidia-smi` reports it; models refer to GPUs by this index.")
    model: str = Field(min_length=1, description="Marketing name, for dashboards and docs (e.g. 'NVIDIA L40S').")
    memory_gb: MemoryGb = Field(description="Usable memory of one GPU in GB.")


class Storage(StrictModel):
    models_dir: AbsolutePath = Field(
        default="/srv/hx/models", description="Where model weights are downloaded or generated."
    )
    data_dir: AbsolutePath = Field(default="/srv/hx/data", description="Databases, Prometheus TSDB, snapshots.")
    logs_dir: AbsolutePath = Field(default="/var/log/hx", description="Gateway access log and audit log.")
    backups_dir: AbsolutePath = Field(default="/srv/hx/backups", description="Database dumps and Qdrant snapshots.")


class Host(StrictModel):
    name: str = Field(
        pattern=r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$",
        description="Inventory hostname (also the gateway's default server name).",
    )
    address: IpAddress | None = Field(
        default=None, description="Address Ansible connects to (ssh); omit for local or docker connections."
    )
    connection: Connection = Field(
        default="ssh",
        description="How Ansible reaches the host: ssh, local, or docker (the sandbox container).",
    )
    ssh_user: str | None = Field(default=None, description="Remote user for ssh connections (needs sudo).")
    os: OperatingSystem = Field(
        default="debian-12",
        description="debian-12 is what the sandbox tests; ubuntu-22.04/24.04 are supported on real hosts.",
    )
    profile: Profile = Field(
        default="gpu",
        description="gpu: a real inference host. cpu: the local sandbox (tiny models on the CPU build of vLLM).",
    )
    cpu_cores: int = Field(gt=0, le=4096)
    memory_gb: MemoryGb = Field(description="Installed RAM; budgets are checked against it.")
    reserved_memory_gb: MemoryGb = Field(
        default=8, description="RAM kept for the OS, page cache, ssh and agents; counted in the host budget."
    )
    gpus: list[Gpu] = Field(default=[], description="Every GPU in the host. Must be empty on the cpu profile.")
    storage: Storage = Field(default_factory=Storage)
