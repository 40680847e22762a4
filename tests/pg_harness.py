"""A throwaway PostgreSQL cluster, with PgBouncer in front when asked, on loopback.

PostgreSQL (initdb/pg_ctl from Debian's postgresql-15) and PgBouncer (Debian's pgbouncer) run as
the test's own processes in a temporary directory; PgBouncer with the configuration the pgbouncer
role's templates render from its defaults, the way hosts run it. The database `hx` is owned by the
login role `hx` (scram-sha-256 over TCP), as the postgresql role creates it, and can carry the
hx_retention schema the backup role installs. Every process started here is stopped by close().
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from conftest import ROOT
from ruamel.yaml import YAML

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER_ROLE = ROOT / "roles/pgbouncer"
RETENTION_SQL = ROOT / "roles/backup/files/hx-pg-retention.sql"
OWNER, PASSWORD, DATABASE = "hx", "hx-test-password", "hx"
RECONNECT_SETTINGS = ("pgbouncer_server_login", "pgbouncer_server_connect")


def program(path: Path | str) -> str:
    found = shutil.which(str(path)) or shutil.which(Path(path).name, path=f"{PG_BIN}:/usr/sbin:/usr/bin")
    assert found, f"{path} is not installed; run `make setup-test` (Debian postgresql-15 and pgbouncer)"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pgbouncer_role_defaults() -> dict:
    return YAML(typ="safe", pure=True).load((PGBOUNCER_ROLE / "defaults/main.yml").read_text())


@dataclass
class PgCluster:
    root: Path
    pg_port: int
    bouncer_port: int
    run_as: str | None
    """PostgreSQL and PgBouncer refuse to run as root: as root, they run as postgres."""
    _bouncer: subprocess.Popen | None = field(default=None, repr=False)

    # -- PostgreSQL ------------------------------------------------------------------------------
    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(argv, user=self.run_as, capture_output=True, text=True, check=check, timeout=60)

    def pg_ctl(self, *args: str) -> None:
        self.run(program(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-w", "-t", "60", *args)

    def start_postgres(self, *settings: str) -> None:
        """settings: extra `-c name=value` options, e.g. shared_preload_libraries=pg_stat_statements."""
        options = f"-p {self.pg_port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += "".join(f" -c {s}" for s in settings)
        self.pg_ctl("-o", options, "-l", str(self.root / "postgres.log"), "start")

    def stop_postgres(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    @property
    def postgres_running(self) -> bool:
        return (self.root / "data/postmaster.pid").exists()

    def sql(self, statement: str, database: str = DATABASE, user: str = "postgres") -> str:
        """As the superuser (or `user`) over the Unix socket; raises on an error."""
        argv = [program("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.root), "-p", str(self.pg_port)]
        return self.run(*argv, "-U", user, "-d", database, "-c", statement).stdout.strip()

    def sql_file(self, path: Path, database: str = DATABASE) -> None:
        argv = [program("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.root), "-p", str(self.pg_port)]
        self.run(*argv, "-U", "postgres", "-d", database, "-f", str(path))

    def install_retention_schema(self) -> None:
        """What the backup role applies to every hx database: hx_retention, for services to register in."""
        self.sql_file(RETENTION_SQL)

    # -- what a client uses ----------------------------------------------------------------------
    def dsn(self, through_bouncer: bool = True) -> str:
        port = self.bouncer_port if through_bouncer else self.pg_port
        return f"host=127.0.0.1 port={port} dbname={DATABASE} user={OWNER} password={PASSWORD} connect_timeout=10"

    def psql(self, sql: str, port: int | None = None) -> subprocess.CompletedProcess:
        """One new connection, as an application would open it (over TCP, with the password)."""
        env = os.environ | {"PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "10"}
        argv = [program("psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(port or self.bouncer_port)]
        return subprocess.run(
            [*argv, "-U", OWNER, "-d", DATABASE, "-c", sql], env=env, capture_output=True, text=True, timeout=60
        )

    # -- PgBouncer -------------------------------------------------------------------------------
    def render_pgbouncer(self) -> Path:
        """The role's templates with its defaults, paths moved into the temporary directory."""
        defaults = pgbouncer_role_defaults()
        verifier = self.sql(f"SELECT rolpassword FROM pg_authid WHERE rolname = '{OWNER}'", database="postgres")
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(PGBOUNCER_ROLE / "templates"),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        variables = {
            "_pgbouncer_conf_dir": str(self.root),
            "_pgbouncer_socket_dir": str(self.root),
            "_pgbouncer_listen_addr": "127.0.0.1",
            "pgbouncer_port": self.bouncer_port,
            "pgbouncer_databases": [{"name": DATABASE, "owner": OWNER}],
            "pgbouncer_server_host": "127.0.0.1",
            "pgbouncer_server_port": self.pg_port,
            "pgbouncer_admin_users": [],
            "pgbouncer_stats_users": [],
            # What hxgen emits by default (databases.postgres.pgbouncer).
            "pgbouncer_pool_mode": "transaction",
            "pgbouncer_pool_size": 20,
            "pgbouncer_max_client_conn": 100,
            "_pgbouncer_verifiers": {"query_result": [{"rolname": OWNER, "rolpassword": verifier}]},
            **{
                k: v
                for k, v in defaults.items()
                if k.startswith(("pgbouncer_server_login", "pgbouncer_server_connect"))
            },
            "pgbouncer_query_wait_timeout_s": defaults["pgbouncer_query_wait_timeout_s"],
        }
        for name in ("pgbouncer.ini", "pgbouncer-startup.ini", "userlist.txt"):
            text = env.get_template(f"{name}.j2").render(variables)
            (self.root / name).write_text(text.replace("/var/log/postgresql/", f"{self.root}/"))
        return self.root / "pgbouncer.ini"

    def start_bouncer(self, timeout_s: float = 30) -> None:
        conf = self.root / "pgbouncer.ini"
        if not conf.exists():
            self.render_pgbouncer()
        self._bouncer = subprocess.Popen([program("pgbouncer"), str(conf)], user=self.run_as, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not self._listening(self.bouncer_port):
            assert self._bouncer.poll() is None, (self.root / "pgbouncer.log").read_text()
            assert time.monotonic() < deadline, f"PgBouncer did not listen within {timeout_s} s"
            time.sleep(0.1)

    def stop_bouncer(self) -> None:
        if self._bouncer is not None:
            self._bouncer.terminate()
            self._bouncer.wait(timeout=10)
            self._bouncer = None

    @staticmethod
    def _listening(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    def close(self) -> None:
        self.stop_bouncer()
        if self.postgres_running:
            self.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def pg_cluster(bouncer: bool = True, retention: bool = False, settings: tuple[str, ...] = ()) -> Iterator[PgCluster]:
    """A running cluster with the database hx owned by hx; PgBouncer in front when `bouncer`, the
    hx_retention schema when `retention`; `settings` as for PgCluster.start_postgres."""
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="hx-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    c = PgCluster(root, free_port(), free_port(), run_as)
    try:
        (root / "pw").write_text(f"{PASSWORD}\n")
        c.run(
            program(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust",
            "--auth-host=scram-sha-256", f"--pwfile={root / 'pw'}",
        )  # fmt: skip
        c.start_postgres(*settings)
        c.sql(f"CREATE ROLE {OWNER} LOGIN PASSWORD '{PASSWORD}'", database="postgres")
        c.sql(f"CREATE DATABASE {DATABASE} OWNER {OWNER}", database="postgres")
        if retention:
            c.install_retention_schema()
        if bouncer:
            c.start_bouncer()
            deadline = time.monotonic() + 30
            while c.psql("SELECT 1").returncode != 0:
                assert time.monotonic() < deadline, "PgBouncer did not serve within 30 s"
                time.sleep(0.2)
        yield c
    finally:
        c.close()
