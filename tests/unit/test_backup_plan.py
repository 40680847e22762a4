"""databases.postgres.backups and retention_days, as the backup role's units and alerts see them."""

from __future__ import annotations

from conftest import dump_yaml

from hxgen.pipeline import render_text
from hxgen.validation import validate


def rendered(spec_data: dict) -> dict[str, str]:
    result = render_text(dump_yaml(spec_data))
    assert result.artifacts, result
    return {a.path: a.text for a in result.artifacts}


def test_the_spec_sets_schedule_retention_and_databases_of_the_units(spec_data):
    spec_data["host"]["storage"] = {"backups_dir": "/data/backups"}
    spec_data["databases"] = {
        "postgres": {
            "databases": [{"name": "hx", "owner": "hx"}, {"name": "usage", "owner": "hx"}],
            "tuning": {"max_connections": 450},  # two pools of 200
            "retention_days": 45,
            "backups": {"interval_hours": 6, "keep_days": 3},
        }
    }
    files = rendered(spec_data)
    service = files["rendered/systemd/hx-pg-backup.service"]
    assert 'Environment="HX_PG_DATABASES=hx usage"\n' in service
    assert "Environment=HX_BACKUP_DIR=/data/backups/postgres\n" in service
    assert "Environment=HX_BACKUP_KEEP_DAYS=3\n" in service
    timer = files["rendered/systemd/hx-pg-backup.timer"]
    assert "OnCalendar=*-*-* 00/6:30:00\n" in timer and "Persistent=true\n" in timer
    assert "Environment=HX_RETENTION_DAYS=45\n" in files["rendered/systemd/hx-pg-retention.service"]
    rules = files["rendered/prometheus/rules/hx-backup.yml"]
    assert "> 43200" in rules and "for: 12h" in rules  # two 6-hour intervals
    assert 'absent(hx_pg_backup_last_success_timestamp_seconds{database="usage"})' in rules
    assert "- backup\n" in files["inventory/group_vars/hx/hx.yml"]


def test_backups_off_keeps_the_retention_of_rows(spec_data):
    spec_data["databases"] = {"postgres": {"backups": {"enabled": False}}}
    files = rendered(spec_data)
    assert "rendered/systemd/hx-pg-backup.service" not in files
    assert "rendered/prometheus/rules/hx-backup.yml" not in files
    assert "rendered/systemd/hx-pg-retention.timer" in files
    assert "backup_enabled: false" in files["inventory/group_vars/hx/backup.yml"]


def test_postgres_off_has_no_backup_role(spec_data):
    spec_data["databases"] = {"postgres": {"enabled": False}}
    files = rendered(spec_data)
    assert not any("hx-pg-" in path for path in files)
    assert "inventory/group_vars/hx/backup.yml" not in files


def test_an_interval_that_does_not_divide_a_day_is_refused(spec_data):
    spec_data["databases"] = {"postgres": {"backups": {"interval_hours": 5}}}
    spec, found = validate(spec_data)
    assert spec is None
    assert [(d.code, d.path) for d in found] == [
        ("invalid-choice", ("databases", "postgres", "backups", "interval_hours"))
    ]


def test_store_prompts_is_refused_with_what_to_do(spec_data):
    spec_data["security"] = {"data_retention": {"store_prompts": False}}
    spec, found = validate(spec_data)
    assert spec is None
    (problem,) = found
    assert problem.code == "removed-key"
    assert "never records prompt or response bodies" in problem.message and "delete the line" in problem.message
