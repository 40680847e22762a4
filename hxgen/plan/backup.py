"""PostgreSQL backups and row retention (role backup): what the units and the alert need.

The role is on whenever PostgreSQL is: retention_days is enforced even when backups are off,
and then only the retention units exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import layout
from ..spec import Spec

# Fixed clock times, so backups of several hosts can be told apart from other load in graphs;
# RandomizedDelaySec spreads them a little. Retention runs after the nightly backup.
BACKUP_MINUTE = 30
RETENTION_CALENDAR = "*-*-* 04:15:00"


@dataclass(frozen=True)
class BackupPlan:
    host: str
    databases: tuple[str, ...]
    port: int
    retention_days: int
    """databases.postgres.retention_days: rows of registered tables older than this go."""
    backups_enabled: bool
    interval_hours: int
    keep_days: int
    backup_dir: str

    @property
    def on_calendar(self) -> str:
        if self.interval_hours == 24:
            return f"*-*-* 02:{BACKUP_MINUTE:02d}:00"
        return f"*-*-* 00/{self.interval_hours}:{BACKUP_MINUTE:02d}:00"

    @property
    def stale_after_s(self) -> int:
        """No successful backup for two intervals: one run may fail, two in a row is an alert."""
        return 2 * self.interval_hours * 3600


def build_backup_plan(spec: Spec) -> BackupPlan:
    pg = spec.databases.postgres
    return BackupPlan(
        host=spec.host.name,
        databases=tuple(d.name for d in pg.databases),
        port=pg.port,
        retention_days=pg.retention_days,
        backups_enabled=pg.backups.enabled,
        interval_hours=pg.backups.interval_hours,
        keep_days=pg.backups.keep_days,
        backup_dir=layout.pg_backup_dir(spec.host.storage.backups_dir),
    )
