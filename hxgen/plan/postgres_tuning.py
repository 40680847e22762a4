"""PostgreSQL's memory settings, sized from its RAM budget where hx.yaml leaves them out.

The rules, in MB of the budget (databases.postgres.memory_gb):
  shared_buffers        1/4
  effective_cache_size  3/4
  maintenance_work_mem  1/16, at most 2 GB
  work_mem              (budget - shared_buffers) / (3 x max_connections), at least 1 MB:
                        a third of what is left, if every connection ran one sort at once
Values set in databases.postgres.tuning are kept as given.

Parallel query, from host.cpu_cores (PGTune's rules for a mixed workload):
  max_worker_processes              the cores, never below PostgreSQL's default 8 (background
                                    workers of extensions and replication take slots too)
  max_parallel_workers              the cores
  max_parallel_workers_per_gather   half the cores, at most 4 (one query never takes the host
  max_parallel_maintenance_workers  from the inference engines beside it)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..spec.databases import PgTuning

MAINTENANCE_WORK_MEM_MAX_MB = 2048
DEFAULT_WORKER_PROCESSES = 8
PARALLEL_PER_OPERATION_MAX = 4


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


@dataclass(frozen=True)
class PostgresParallelism:
    max_worker_processes: int
    max_parallel_workers: int
    max_parallel_workers_per_gather: int
    max_parallel_maintenance_workers: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def size_parallelism(cpu_cores: int) -> PostgresParallelism:
    per_operation = min(PARALLEL_PER_OPERATION_MAX, math.ceil(cpu_cores / 2))
    return PostgresParallelism(
        max_worker_processes=max(DEFAULT_WORKER_PROCESSES, cpu_cores),
        max_parallel_workers=cpu_cores,
        max_parallel_workers_per_gather=per_operation,
        max_parallel_maintenance_workers=per_operation,
    )
