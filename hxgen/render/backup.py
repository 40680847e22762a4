"""PostgreSQL backups and row retention: the systemd units and timers of role backup, and the
backup-freshness alerts (rule group hx-backup)."""

from __future__ import annotations

from typing import Any

from .. import alerts, layout
from ..plan import Plan
from ..plan.backup import RETENTION_CALENDAR, BackupPlan
from .alert_rules import alert
from .common import RENDERED_DIR, Artifact, header, templates, yaml_text

RULES_FILE = "prometheus/rules/hx-backup.yml"
METRIC = "hx_pg_backup_last_success_timestamp_seconds"


def unit_files(b: BackupPlan) -> list[str]:
    """The units the role installs, as named under rendered/systemd/."""
    names = [layout.PG_RETENTION_SERVICE] + ([layout.PG_BACKUP_SERVICE] if b.backups_enabled else [])
    return sorted(f"{name}.{kind}" for name in names for kind in ("service", "timer"))


def render(plan: Plan) -> list[Artifact]:
    b = plan.backup
    if b is None:
        return []
    context = {
        "header": header(plan.spec_file).rstrip("\n"),
        "b": b,
        "service": layout.PG_BACKUP_SERVICE,
        "retention_service": layout.PG_RETENTION_SERVICE,
        "backup_command": layout.PG_BACKUP_COMMAND,
        "restore_command": layout.PG_RESTORE_COMMAND,
        "retention_command": layout.PG_RETENTION_COMMAND,
        "recipients_file": layout.BACKUP_RECIPIENTS_FILE,
        "environment_file": layout.BACKUP_ENVIRONMENT_FILE,
        "calendar": RETENTION_CALENDAR,
    }
    env = templates()
    artifacts = [
        Artifact(f"{RENDERED_DIR}/systemd/{name}", env.get_template(f"{name}.j2").render(context))
        for name in unit_files(b)
    ]
    if b.backups_enabled:
        artifacts.append(Artifact(f"{RENDERED_DIR}/{RULES_FILE}", yaml_text(rule_groups(plan, b), plan.spec_file)))
    return artifacts


def rule_groups(plan: Plan, b: BackupPlan) -> dict[str, Any]:
    hours = 2 * b.interval_hours
    missing = " or ".join(f'absent({METRIC}{{database="{db}"}})' for db in b.databases)
    rules = [
        alert(
            alerts.POSTGRES_BACKUP_STALE,
            f"time() - max by (database) ({METRIC}) > {b.stale_after_s}",
            "5m",
            "page",
            "No backup of database {{ $labels.database }} for " + f"{hours} h",
            f"Backups run every {b.interval_hours} h (databases.postgres.backups.interval_hours); the last "
            "success was {{ $value | humanizeDuration }} ago. See journalctl -u " + f"{layout.PG_BACKUP_SERVICE}.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
        alert(
            alerts.POSTGRES_BACKUP_MISSING,
            missing,
            f"{hours}h",
            "page",
            "Database {{ $labels.database }} has no recorded backup",
            f"No successful {layout.PG_BACKUP_SERVICE} run has been recorded for {hours} h (the node exporter's "
            "textfile collector reads its metric); check the timer and journalctl -u " + f"{layout.PG_BACKUP_SERVICE}.",
            runbook_base=plan.monitoring.runbook_base_url,
        ),
    ]
    interval = f"{plan.monitoring.evaluation_interval_s}s"
    return {"groups": [{"name": "hx-backup", "interval": interval, "rules": rules}]}
