"""PgBouncer across a PostgreSQL restart, with the real programs on loopback.

PostgreSQL (initdb/pg_ctl from Debian's postgresql-15) and PgBouncer (Debian's pgbouncer) run as
this test's own processes in a temporary directory, PgBouncer with the configuration the
pgbouncer role's templates render from its defaults. A client connected to PgBouncer sends a
query while PostgreSQL is down; it must be answered, without an error, soon after PostgreSQL is
back: PgBouncer's upstream default (server_login_retry 15 s) made it wait about 15 s more.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time

import pytest
from pg_harness import DATABASE, OWNER, PASSWORD, PgCluster, pg_cluster, pgbouncer_role_defaults, program

# How long PostgreSQL stays down (a restart of about this length stalled clients for 16 s).
DOWNTIME_S = 2.0
# Generous against the 0.5 s retry the role sets, far below the 15 s it replaced.
AFTER_RESTART_BOUND_S = 5.0


class Client:
    """A psql session connected to PgBouncer, fed one query at a time on stdin."""

    def __init__(self, cluster: PgCluster):
        env = os.environ | {"PGPASSWORD": PASSWORD}
        argv = [program("psql"), "-X", "-At", "-h", "127.0.0.1", "-p", str(cluster.bouncer_port)]
        self.process = subprocess.Popen(
            [*argv, "-U", OWNER, "-d", DATABASE],
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


@pytest.fixture
def cluster():
    with pg_cluster(bouncer=True) as c:
        yield c


def test_the_role_renders_the_reconnect_settings(cluster):
    text = (cluster.root / "pgbouncer.ini").read_text()
    defaults = pgbouncer_role_defaults()
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
