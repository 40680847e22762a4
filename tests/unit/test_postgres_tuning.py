"""PostgreSQL's memory settings sized from databases.postgres.memory_gb (hxgen/plan/postgres_tuning.py)."""

from __future__ import annotations

from hxgen.plan.postgres_tuning import size_postgres
from hxgen.spec.databases import PgTuning


def test_everything_sized_from_the_budget():
    sizing = size_postgres(32, PgTuning(max_connections=300))
    assert sizing.as_dict() == {
        "budget_mb": 32768,
        "max_connections": 300,
        "shared_buffers_mb": 8192,  # 1/4
        "effective_cache_size_mb": 24576,  # 3/4
        "maintenance_work_mem_mb": 2048,  # 1/16, capped at 2 GB
        "work_mem_mb": 27,  # (32768 - 8192) / (3 x 300)
    }


def test_maintenance_work_mem_is_a_sixteenth_below_the_cap():
    assert size_postgres(8, PgTuning()).maintenance_work_mem_mb == 512


def test_work_mem_is_never_below_one_mb():
    assert size_postgres(0.5, PgTuning(max_connections=5000)).work_mem_mb == 1


def test_fractional_budgets_round_down_to_whole_mb():
    sizing = size_postgres(1.5, PgTuning(max_connections=100))
    assert (sizing.budget_mb, sizing.shared_buffers_mb, sizing.effective_cache_size_mb) == (1536, 384, 1152)


def test_values_set_in_the_spec_are_kept_and_work_mem_follows_shared_buffers():
    tuning = PgTuning(
        max_connections=100, shared_buffers_mb=4096, effective_cache_size_mb=1000, maintenance_work_mem_mb=64
    )
    sizing = size_postgres(16, tuning)
    assert (sizing.shared_buffers_mb, sizing.effective_cache_size_mb, sizing.maintenance_work_mem_mb) == (
        4096,
        1000,
        64,
    )
    assert sizing.work_mem_mb == (16384 - 4096) // 300
    assert size_postgres(16, PgTuning(work_mem_mb=7)).work_mem_mb == 7
