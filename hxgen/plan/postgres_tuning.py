"""PostgreSQL's memory settings, sized from its RAM budget where hx.yaml leaves them out.

The rules, in MB of the budget (databases.postgres.memory_gb):
  shared_buffers        1/4
  effective_cache_size  3/4
  maintenance_work_mem  1/16, at most 2 GB
  work_mem              (budget - shared_buffers) / (3 x max_connections), at least 1 MB:
                        a third of what is left, if every connection ran one sort at once
Values set in databases.postgres.tuning are kept as given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..spec.databases import PgTuning

MAINTENANCE_WORK_MEM_MAX_MB = 2048


@dataclass(frozen=True)
class PostgresSizing:
    budget_mb: int
    max_connections: int
    shared_buffers_mb: int
    effective_cache_size_mb: int
    maintenance_work_mem_mb: int
    work_mem_mb: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def size_postgres(memory_gb: float, tuning: PgTuning) -> PostgresSizing:
    budget = int(memory_gb * 1024)
    shared = tuning.shared_buffers_mb or budget // 4
    connections = tuning.max_connections
    return PostgresSizing(
        budget_mb=budget,
        max_connections=connections,
        shared_buffers_mb=shared,
        effective_cache_size_mb=tuning.effective_cache_size_mb or budget * 3 // 4,
        maintenance_work_mem_mb=tuning.maintenance_work_mem_mb or min(budget // 16, MAINTENANCE_WORK_MEM_MAX_MB),
        work_mem_mb=tuning.work_mem_mb or max(1, (budget - shared) // (3 * connections)),
    )
