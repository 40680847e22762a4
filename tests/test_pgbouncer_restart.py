"""PgBouncer across a PostgreSQL restart, with the real programs on loopback.

PostgreSQL (initdb/pg_ctl from Debian's postgresql-15) and PgBouncer (Debian's pgbouncer) run as
this test's own processes in a temporary directory, PgBouncer with the configuration the
pgbouncer role's templates render from its defaults. A client connected to PgBouncer sends a
query while PostgreSQL is down; it must be answered, without an error, soon after PostgreSQL is
back: PgBouncer's upstream default (server_login_retry 15 s) made it wait about 15 s more.
"""

from __future__ import annotations

import os
import pwd
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pytest
from conftest import ROOT
from ruamel.yaml import YAML

ROLE = ROOT / "roles/pgbouncer"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
# How long PostgreSQL stays down (a restart of about this length stalled clients for 16 s).
DOWNTIME_S = 2.0
# Generous against the 0.5 s retry the role sets, far below the 15 s it replaced.
AFTER_RESTART_BOUND_S = 5.0
USER, PASSWORD, DATABASE = "hx", "hx-test-password", "hx"


def program(path: Path | str) -> str:
    found = shutil.which(str(path)) or shutil.which(Path(path).name, path="/usr/sbin:/usr/bin")
    assert found, f"{path} is not installed; run `make setup-test` (Debian postgresql-15 and pgbouncer)"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def role_defaults() -> dict:
    return YAML(typ="safe", pure=True).load((ROLE / "defaults/main.yml").read_text())


@dataclass
class Cluster:
    root: Path
    pg_port: int
    bouncer_port: int
    run_as: str | None  # PostgreSQL and PgBouncer refuse to run as root

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(argv, user=self.run_as, capture_output=True, text=True, check=check, timeout=60)

    def pg_ctl(self, *args: str) -> None:
        self._run(program(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-w", "-t", "60", *args)

    def start_postgres(self) -> None:
        options = f"-p {self.pg_port} -k {self.root} -c listen_addresses=127.0.0.1"
        self.pg_ctl("-o", options, "-l", str(self.root / "postgres.log"), "start")

    def psql(self, sql: str, port: int | None = None) -> subprocess.CompletedProcess:
        """One new connection, as an application would open it (over TCP, with the password)."""
        env = os.environ | {"PGPASSWORD": PASSWORD, "PGCONNECT_TIMEOUT": "10"}
        argv = [program("psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(port or self.bouncer_port)]
        return subprocess.run(
            [*argv, "-U", USER, "-d", DATABASE, "-c", sql], env=env, capture_output=True, text=True, timeout=60
        )


class Client:
    """A psql session connected to PgBouncer, fed one query at a time on stdin."""

    def __init__(self, cluster: Cluster):
        env = os.environ | {"PGPASSWORD": PASSWORD}
        argv = [program("psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.bouncer_port)]
        self.process = subprocess.Popen(
            [*argv, "-U", USER, "-d", DATABASE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, tag: str) -> None:
        self.process.stdin.write(f"SELECT '{tag}';\n")
        self.process.stdin.flush()

    def answer(self, tag: str, timeout_s: float) -> tuple[bool, float, list[str]]:
        """(answered without an error, when, what else psql printed meanwhile)."""
        deadline, other = time.monotonic() + timeout_s, []
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                return False, time.monotonic(), [*other, "psql exited"]
            if line == tag:
                return not other, time.monotonic(), other
            other.append(line)
        return False, time.monotonic(), [*other, f"no answer within {timeout_s} s"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def _render_pgbouncer(cluster: Cluster, verifier: str) -> Path:
    """The role's templates with its defaults, paths moved into the temporary directory."""
    defaults = role_defaults()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    variables = {
        "_pgbouncer_conf_dir": str(cluster.root),
        "_pgbouncer_socket_dir": str(cluster.root),
        "_pgbouncer_listen_addr": "127.0.0.1",
        "pgbouncer_port": cluster.bouncer_port,
        "pgbouncer_databases": [{"name": DATABASE, "owner": USER}],
        "pgbouncer_server_host": "127.0.0.1",
        "pgbouncer_server_port": cluster.pg_port,
        "pgbouncer_admin_users": [],
        "pgbouncer_stats_users": [],
        # What hxgen emits by default (databases.postgres.pgbouncer).
        "pgbouncer_pool_mode": "transaction",
        "pgbouncer_pool_size": 20,
        "pgbouncer_max_client_conn": 100,
        "_pgbouncer_verifiers": {"query_result": [{"rolname": USER, "rolpassword": verifier}]},
        **{k: v for k, v in defaults.items() if k.startswith(("pgbouncer_server_login", "pgbouncer_server_connect"))},
        "pgbouncer_query_wait_timeout_s": defaults["pgbouncer_query_wait_timeout_s"],
    }
    for name in ("pgbouncer.ini", "pgbouncer-startup.ini", "userlist.txt"):
        text = env.get_template(f"{name}.j2").render(variables)
        (cluster.root / name).write_text(text.replace("/var/log/postgresql/", f"{cluster.root}/"))
    return cluster.root / "pgbouncer.ini"


@pytest.fixture
def cluster():
    run_as = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="hx-pgbouncer-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    c = Cluster(root, free_port(), free_port(), run_as)
    (root / "pw").write_text(f"{PASSWORD}\n")
    c._run(
        program(PG_BIN / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth-local=trust",
        "--auth-host=scram-sha-256", f"--pwfile={root / 'pw'}",
    )  # fmt: skip
    bouncer = None
    c.start_postgres()
    try:
        psql = [program("psql"), "-X", "-At", "-h", str(root), "-p", str(c.pg_port), "-U", "postgres", "-d", "postgres"]
        c._run(*psql, "-c", f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        c._run(*psql, "-c", f"CREATE DATABASE {DATABASE} OWNER {USER}")
        verifier = c._run(*psql, "-c", f"SELECT rolpassword FROM pg_authid WHERE rolname = '{USER}'").stdout.strip()
        conf = _render_pgbouncer(c, verifier)
        bouncer = subprocess.Popen([program("pgbouncer"), str(conf)], user=run_as, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while c.psql("SELECT 1").returncode != 0:
            assert bouncer.poll() is None, (root / "pgbouncer.log").read_text()
            assert time.monotonic() < deadline, "PgBouncer did not serve within 30 s"
            time.sleep(0.2)
        yield c
    finally:
        if bouncer is not None:
            bouncer.terminate()
            bouncer.wait(timeout=10)
        c.pg_ctl("-m", "immediate", "stop") if (root / "data/postmaster.pid").exists() else None
        shutil.rmtree(root, ignore_errors=True)


def test_the_role_renders_the_reconnect_settings(cluster):
    text = (cluster.root / "pgbouncer.ini").read_text()
    defaults = role_defaults()
    assert f"server_login_retry = {defaults['pgbouncer_server_login_retry_s']}\n" in text
    assert defaults["pgbouncer_server_login_retry_s"] < DOWNTIME_S


def test_a_query_sent_during_a_restart_is_answered_when_postgres_is_back(cluster, record_property):
    client = Client(cluster)
    try:
        client.send("before")
        assert client.answer("before", 30)[0]

        cluster.pg_ctl("-m", "fast", "stop")
        sent = time.monotonic()
        client.send("during")
        # New connections meanwhile: PgBouncer turns them away at once while no server works.
        new_connections = []
        while time.monotonic() - sent < DOWNTIME_S:
            new_connections.append(cluster.psql("SELECT 1").returncode == 0)
            time.sleep(0.25)
        cluster.start_postgres()
        up = time.monotonic()

        ok, answered, printed = client.answer("during", 60)
        client.send("after")
        after_ok, _, after_printed = client.answer("after", 30)
    finally:
        client.close()

    waited_s, after_up_s = answered - sent, answered - up
    record_property("restart_s", round(up - sent, 2))
    record_property("client_waited_s", round(waited_s, 2))
    record_property("answered_after_postgres_up_s", round(after_up_s, 2))
    record_property("new_connections_refused_while_down", new_connections.count(False))
    print(
        f"postgres down {up - sent:.2f} s; the waiting query was answered {waited_s:.2f} s after it was sent, "
        f"{after_up_s:.2f} s after postgres was up; new connections while down: "
        f"{new_connections.count(True)} served, {new_connections.count(False)} refused"
    )
    assert ok, f"the client saw {printed} instead of its answer"
    assert after_up_s < AFTER_RESTART_BOUND_S, f"answered {after_up_s:.1f} s after PostgreSQL was back"
    assert after_ok, after_printed
    assert cluster.psql("SELECT 1").returncode == 0, "a new connection after the restart"
