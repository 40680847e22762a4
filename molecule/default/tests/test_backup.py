"""Backups, restore and row retention on the converged sandbox, as an operator does them (testinfra).

Rows are written through psql as postgres, hx-pg-backup.service runs through systemd, the table
is dropped, hx-pg-restore brings it back; the timers are enabled; the dump on disk is an age
file without the rows; the retention job deletes old rows of a registered table.
"""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

SANDBOX = Path(__file__).resolve().parents[3] / "sandbox"
VARS = YAML(typ="safe", pure=True).load((SANDBOX / "inventory/group_vars/hx/backup.yml").read_text())
DATABASE = VARS["backup_databases"][0]
BACKUP_DIR = VARS["backup_postgres_dir"]
MARKER = "hx-molecule-backup-row"


def psql(host, sql: str):
    return host.run("runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -d %s -c %s", DATABASE, sql)


def newest_backup(host) -> str:
    out = host.check_output("ls -1 %s/%s-*.dump.age | sort | tail -n 1", BACKUP_DIR, DATABASE)
    return out.strip()


def test_the_timers_are_enabled_and_active(host):
    for timer in ("hx-pg-backup.timer", "hx-pg-retention.timer"):
        unit = host.service(timer)
        assert unit.is_enabled and unit.is_running, timer


def test_the_key_material_is_root_only(host):
    identity = host.file(VARS["backup_identity_file"])
    assert identity.exists and identity.user == "root" and identity.mode == 0o600
    assert host.file(VARS["backup_identity_file"].rsplit("/", 1)[0]).mode == 0o700
    assert host.file(BACKUP_DIR).mode == 0o700
    assert host.file(VARS["backup_recipients_file"]).content_string.startswith("age1")


def test_backup_drop_restore_brings_the_rows_back(host):
    assert psql(host, "DROP TABLE IF EXISTS hx_molecule_notes").rc == 0
    assert psql(host, "CREATE TABLE hx_molecule_notes (id int PRIMARY KEY, body text)").rc == 0
    assert psql(host, f"INSERT INTO hx_molecule_notes SELECT g, '{MARKER}' FROM generate_series(1, 100) g").rc == 0

    started = host.run("systemctl start hx-pg-backup.service")
    assert started.rc == 0, host.run("journalctl -u hx-pg-backup.service --no-pager -n 40").stdout
    dump = newest_backup(host)
    assert host.run("head -c 21 %s", dump).stdout == "age-encryption.org/v1"
    assert host.run("grep -c %s %s", MARKER, dump).stdout.strip() == "0"
    assert host.run("cd %s && sha256sum --check --status %s.sha256", BACKUP_DIR, dump.rsplit("/", 1)[1]).rc == 0
    metric = host.file(f"/var/lib/prometheus/node-exporter/hx_pg_backup_{DATABASE}.prom").content_string
    assert f'hx_pg_backup_last_success_timestamp_seconds{{database="{DATABASE}"}}' in metric

    assert psql(host, "DROP TABLE hx_molecule_notes").rc == 0
    restored = host.run("hx-pg-restore %s", dump)
    assert restored.rc == 0, restored.stderr
    assert psql(host, "SELECT count(*) FROM hx_molecule_notes WHERE body = '" + MARKER + "'").stdout.strip() == "100"
    assert psql(host, "DROP TABLE hx_molecule_notes").rc == 0


def test_retention_deletes_old_rows_of_a_registered_table(host):
    sql = (
        "DROP TABLE IF EXISTS hx_molecule_usage;"
        "CREATE TABLE hx_molecule_usage (id int, at timestamptz);"
        "INSERT INTO hx_molecule_usage VALUES (1, now() - interval '3650 days'), (2, now());"
        "SELECT hx_retention.register('hx_molecule_usage', 'at')"
    )
    assert host.run("runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d %s -c %s", DATABASE, sql).rc == 0
    # The table must belong to the database owner to be pruned, as a service's own table does.
    owner = psql(host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
    assert psql(host, f"ALTER TABLE hx_molecule_usage OWNER TO {owner.stdout.strip()}").rc == 0
    started = host.run("systemctl start hx-pg-retention.service")
    assert started.rc == 0, host.run("journalctl -u hx-pg-retention.service --no-pager -n 40").stdout
    assert psql(host, "SELECT string_agg(id::text, ',') FROM hx_molecule_usage").stdout.strip() == "2"
    psql(host, "DELETE FROM hx_retention.policy WHERE table_name = 'hx_molecule_usage'")
    psql(host, "DROP TABLE hx_molecule_usage")
