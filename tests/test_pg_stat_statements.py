"""pg_stat_statements as the postgresql role sets it up, with the real programs.

The role's start-time settings (roles/postgresql/templates/hx-startup.conf.j2) are rendered
and started as a PostgreSQL 15 cluster of this test's own, on a free loopback port, in a
temporary directory. With the extension created as the role creates it, Debian's
prometheus-postgres-exporter runs the role's queries file (it has no stat_statements collector
of its own): the slowest statement is exported with a bounded label set, the exporter's own
queries are not.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest
import yaml
from conftest import ROOT
from test_pg_backup import free_port, program

ROLE = ROOT / "roles/postgresql"
QUERIES = ROLE / "files/postgres-exporter-queries.yaml"
OWNER = DATABASE = "hx"
MONITOR = "hx_monitor"
TOP_LIMIT = 20

pytestmark = pytest.mark.tools


def startup_conf(port: int) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined)
    return env.get_template("hx-startup.conf.j2").render(
        postgresql_listen_addresses=["127.0.0.1"],
        postgresql_port=port,
        _postgresql_max_connections=20,
        _postgresql_shared_buffers_mb=32,
        _postgresql_max_worker_processes=8,
    )


@dataclass
class Cluster:
    root: Path
    port: int
    run_as: str | None

    def sql(self, statement: str, database: str = DATABASE, user: str = "postgres") -> str:
        argv = [program("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port)]
        result = subprocess.run(
            [*argv, "-U", user, "-d", database, "-c", statement], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


def test_the_start_settings_preload_pg_stat_statements():
    conf = startup_conf(5432)
    assert re.search(r"(?m)^shared_preload_libraries = 'pg_stat_statements'$", conf)
    assert re.search(r"(?m)^pg_stat_statements\.track = top$", conf)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    run_as = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    root = Path(tempfile.mkdtemp(prefix="hx-pg-statements-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    c = Cluster(root, free_port(), run_as)
    data = root / "data"

    def run(*argv: str) -> None:
        subprocess.run(argv, user=run_as, capture_output=True, text=True, check=True, timeout=60)

    run(program("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    # The packaging's postgresql.conf includes conf.d; the role's drop-in goes there.
    (data / "conf.d").mkdir()
    (data / "conf.d/hx-startup.conf").write_text(startup_conf(c.port))
    with (data / "postgresql.conf").open("a") as f:
        f.write(f"include_dir = 'conf.d'\nunix_socket_directories = '{root}'\n")
    if run_as:
        shutil.chown(data / "conf.d", run_as, run_as)
        shutil.chown(data / "conf.d/hx-startup.conf", run_as, run_as)
    run(program("pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(root / "pg.log"), "start")
    try:
        c.sql(f"CREATE ROLE {OWNER} LOGIN", database="postgres")
        c.sql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}", database="postgres")
        c.sql(f"CREATE ROLE {MONITOR} LOGIN IN ROLE pg_monitor", database="postgres")
        # What the role's postgresql_ext task runs, in the exporter's database and each hx one.
        for db in ("postgres", DATABASE):
            c.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", database=db)
        c.sql("SELECT pg_stat_statements_reset()", database="postgres")  # forget the set-up's statements
        yield c
    finally:
        if (data / "postmaster.pid").exists():
            run(program("pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def some_statements(c: Cluster) -> None:
    c.sql("CREATE TABLE requests (id int PRIMARY KEY, tenant text)", user=OWNER)
    for i in range(5):
        c.sql(f"INSERT INTO requests VALUES ({i}, 'product-chat')", user=OWNER)
    c.sql("SELECT pg_sleep(0.2), count(*) FROM requests", user=OWNER)


def test_the_server_runs_the_extension_as_the_role_sets_it(cluster):
    assert "pg_stat_statements" in cluster.sql("SHOW shared_preload_libraries")
    assert cluster.sql("SHOW pg_stat_statements.track") == "top"
    # Idempotent: a second CREATE EXTENSION IF NOT EXISTS changes nothing.
    cluster.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    assert cluster.sql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'") == "1"


def test_every_query_of_the_exporter_runs_as_the_monitoring_role(cluster):
    some_statements(cluster)
    queries = yaml.safe_load(QUERIES.read_text())
    assert set(queries) == {"pg_stat_statements_database", "pg_stat_statements_top"}
    for name, q in queries.items():
        rows = cluster.sql(q["query"], database="postgres", user=MONITOR).splitlines()
        assert rows, name
        columns = [next(iter(m)) for m in q["metrics"]]
        assert all(len(r.split("|")) == len(columns) for r in rows), (name, rows)
    top = cluster.sql(queries["pg_stat_statements_top"]["query"], database="postgres", user=MONITOR).splitlines()
    assert len(top) <= TOP_LIMIT
    datname, _queryid, text, calls, _total, mean = top[0].split("|")
    assert (datname, calls) == (DATABASE, "1") and "pg_sleep" in text
    assert float(mean) >= 0.2
    assert all(len(r.split("|")[2]) <= 120 for r in top)


def scrape(port: int, deadline_s: float = 30) -> str:
    end = time.monotonic() + deadline_s
    last = ""
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                last = response.read().decode()
            if "pg_stat_statements_top_mean_seconds{" in last:
                return last
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the exporter did not export pg_stat_statements_top within {deadline_s} s:\n{last[-2000:]}")


def test_the_exporter_publishes_the_slowest_statements(cluster):
    some_statements(cluster)
    port = free_port()
    env = os.environ | {"DATA_SOURCE_NAME": f"postgresql://{MONITOR}@127.0.0.1:{cluster.port}/postgres?sslmode=disable"}
    argv = [
        program("prometheus-postgres-exporter"),
        f"--web.listen-address=127.0.0.1:{port}",
        f"--extend.query-path={QUERIES}",
    ]
    exporter = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        scrape(port)
        metrics = scrape(port)  # a second scrape, which would see the first one's statements
    finally:
        exporter.kill()
        exporter.wait(timeout=10)
    top = [line for line in metrics.splitlines() if line.startswith("pg_stat_statements_top_mean_seconds{")]
    assert 0 < len(top) <= TOP_LIMIT
    slowest = max(top, key=lambda line: float(line.rsplit(" ", 1)[1]))
    assert "pg_sleep" in slowest and f'datname="{DATABASE}"' in slowest and 'queryid="' in slowest
    assert float(slowest.rsplit(" ", 1)[1]) >= 0.2
    assert re.search(rf'(?m)^pg_stat_statements_database_calls_total{{.*datname="{DATABASE}".*}} \d', metrics)
    # The exporter's own statements (its login role's) are not among them.
    texts = [re.search(r'query="([^"]*)"', line).group(1) for line in top]
    exporters_own = ("FROM pg_stat_statements s", "pg_settings", "pg_stat_bgwriter", "pg_stat_database")
    assert not any(own in t for t in texts for own in exporters_own), texts
    assert "# TYPE pg_stat_statements_top_calls_total counter" in metrics
