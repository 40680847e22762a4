"""hx-usage against a real PostgreSQL behind a real PgBouncer (tests/pg_harness.py): rows land with
the right columns, nothing is lost or written twice across a crash, a rotation, a restart, or an
outage of PgBouncer or PostgreSQL, during which metering (the quota files) goes on. The service
runs in-process with an injected clock; each step is called by the test, so nothing waits on time."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from log_rotation import rotate
from pg_harness import pg_cluster
from usage_harness import Clock, append, config, line

from hxgen.usage.database import DatabaseDown
from hxgen.usage.service import Service

pytestmark = pytest.mark.tools


@pytest.fixture(scope="module")
def cluster():
    with pg_cluster(bouncer=True, retention=True) as c:
        yield c


@pytest.fixture
def fresh(cluster):
    """Each test starts with no table (the service migrates on its first connection)."""
    cluster.sql("DROP SCHEMA IF EXISTS hx_usage CASCADE; DELETE FROM hx_retention.policy")
    return cluster


def rows(cluster, where: str = "true") -> list[str]:
    out = cluster.sql(f"SELECT request_id FROM hx_usage.requests WHERE {where} ORDER BY request_id")
    return out.split("\n") if out else []


def quota(tmp_path, tenant: str = "acme") -> dict:
    return json.loads((tmp_path / "quota" / f"{tenant}.json").read_text())


def step(service: Service) -> int:
    service.meter_step()
    return service.database_step()


def catch_up(service: Service, within_s: float = 60) -> int:
    """The service's database step until it succeeds: PgBouncer retries its login to a restarted
    PostgreSQL for a while (server_login_retry) before it serves again."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return service.database_step()
        except DatabaseDown:
            assert time.monotonic() < deadline, service.db_error
            time.sleep(0.2)


def test_rows_land_with_the_columns_of_the_log_lines(tmp_path, fresh):
    log = tmp_path / "gateway-access.log"
    append(
        log,
        line("r1", prompt=12, completion=30, request_s="1.500", upstream_s="1.495", cache="MISS"),
        line("r2", model="fast", variant="chat-large", tenant="bob", status=200, cache="HIT", upstream_s="null"),
        line("r3", status=429, prompt=None, completion=None, variant="", upstream_s="null", quota="exceeded"),
        line("r4", model="", variant="", path="/v1/models", prompt=None, completion=None),  # no row
        "not json\n",
    )
    service = Service(config(tmp_path, fresh), now=Clock())
    assert step(service) == 3
    got = fresh.sql(
        "SELECT time, request_id, tenant, role, model, variant, model_name, endpoint, status, cache, "
        "coalesce(prompt_tokens::text, 'NULL'), coalesce(completion_tokens::text, 'NULL'), request_s, "
        "coalesce(upstream_s::text, 'NULL') FROM hx_usage.requests ORDER BY request_id"
    ).split("\n")
    assert got == [
        "2026-12-02 10:00:00+00|r1|acme|user|chat-small|chat-small|small|/v1/chat/completions|200|MISS|12|30|1.5|1.495",
        "2026-12-02 10:00:00+00|r2|bob|user|fast|chat-large|large|/v1/chat/completions|200|HIT|10|5|0.12|NULL",
        "2026-12-02 10:00:00+00|r3|acme|user|chat-small||small|/v1/chat/completions|429|MISS|NULL|NULL|0.12|NULL",
    ]
    assert service.series.rows_written._value.get() == 3
    service.close()


def test_a_line_read_twice_is_written_once(tmp_path, fresh):
    log = tmp_path / "gateway-access.log"
    append(log, line("a"), line("b"))
    cfg = config(tmp_path, fresh)
    service = Service(cfg, now=Clock())
    step(service)
    service.close()
    (tmp_path / "state" / "position.json").unlink()  # a crash after the commit, before the position
    again = Service(cfg, now=Clock())
    assert step(again) == 0
    assert rows(fresh) == ["a", "b"]
    again.close()


def test_rotation_by_rename_loses_nothing(tmp_path, fresh):
    log = tmp_path / "gateway-access.log"
    append(log, line("a"))
    service = Service(config(tmp_path, fresh), now=Clock())
    step(service)
    append(log, line("b"))  # after the last read, before the rotation
    rotate(log)
    append(log, line("c"))
    step(service)
    assert rows(fresh) == ["a", "b", "c"]
    assert quota(tmp_path)["used_tokens"] == 45
    service.close()


def test_a_restart_goes_on_from_the_saved_position(tmp_path, fresh):
    log = tmp_path / "gateway-access.log"
    append(log, line("a"), line("b"))
    cfg = config(tmp_path, fresh)
    first = Service(cfg, now=Clock())
    step(first)
    first.close()
    append(log, line("c"))
    second = Service(cfg, now=Clock())
    assert step(second) == 1
    assert rows(fresh) == ["a", "b", "c"]
    # Today's counts came back with the position: neither lost nor counted twice.
    assert second.usage("acme")["quota"]["used_tokens"] == 45 == quota(tmp_path)["used_tokens"]
    assert second.series.rows_written._value.get() == 1  # counters start from 0
    second.close()


@pytest.mark.parametrize("outage", ["pgbouncer", "postgresql"])
def test_an_outage_grows_the_backlog_metering_goes_on_then_every_row_lands_once(tmp_path, fresh, outage):
    log = tmp_path / "gateway-access.log"
    append(log, line("before"))
    service = Service(config(tmp_path, fresh), now=Clock())
    step(service)
    stop, start = (
        (fresh.stop_bouncer, fresh.start_bouncer)
        if outage == "pgbouncer"
        else (fresh.stop_postgres, fresh.start_postgres)
    )
    stop()
    try:
        append(log, *(line(f"during-{i:02d}") for i in range(20)))
        rotate(log)  # a rotation during the outage, too
        append(log, line("after-rotation"))
        service.meter_step()
        assert quota(tmp_path)["used_tokens"] == 15 * 22  # metering did not wait
        assert service.series.backlog._value.get() > 0
        if outage == "pgbouncer":
            # (With PostgreSQL down PgBouncer holds a query for its query_wait_timeout, 120 s.)
            with pytest.raises(DatabaseDown):
                service.database_step()
            assert service.series.db_up._value.get() == 0
        assert service.status()["pending_rows"] == 21
    finally:
        start()
    written = catch_up(service)
    assert written == 21
    assert len(rows(fresh)) == 22 and fresh.sql("SELECT count(DISTINCT request_id) FROM hx_usage.requests") == "22"
    assert service.series.backlog._value.get() == 0 and service.series.db_up._value.get() == 1
    assert service.status()["pending_rows"] == 0
    service.close()


def test_a_log_removed_before_the_database_caught_up_is_counted_as_lost(tmp_path, fresh):
    log = tmp_path / "gateway-access.log"
    service = Service(config(tmp_path, fresh), now=Clock())
    fresh.stop_bouncer()
    try:
        append(log, line("a"), line("b"))
        service.meter_step()
        rotate(log)
        append(log, line("c"))
        service.meter_step()
        (tmp_path / "gateway-access.log.1").unlink()  # compressed or deleted before the catch-up
    finally:
        fresh.start_bouncer()
    service.database_step()
    assert rows(fresh) == ["c"]
    assert service.status()["lost_rows"] == 2
    assert service.series.log_lines.labels("lost")._value.get() == 2
    service.close()


def test_day_partitions_are_created_and_retention_drops_old_ones(tmp_path, fresh):
    # hx_retention prunes by PostgreSQL's clock, so this test's days are the machine's.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    old = now - dt.timedelta(days=40)
    log = tmp_path / "gateway-access.log"
    append(log, line("late", time=old.isoformat()), line("today", time=now.isoformat()))
    service = Service(config(tmp_path, fresh), now=lambda: now)
    step(service)
    names = fresh.sql("SELECT relname FROM pg_class WHERE relname LIKE 'requests_p%' AND relkind = 'r' ORDER BY 1")
    tomorrow = now + dt.timedelta(days=1)
    assert names.split("\n") == [f"requests_p{d:%Y%m%d}" for d in (old, now, tomorrow)]
    assert fresh.sql("SELECT table_name, method FROM hx_retention.policy") == "hx_usage.requests|drop-partitions"
    assert rows(fresh) == ["late", "today"]
    pruned = fresh.sql("SELECT table_name, partitions_dropped FROM hx_retention.prune(30)")
    assert pruned == "hx_usage.requests|1"  # the schema-qualified table's partitions match by name
    remaining = fresh.sql("SELECT relname FROM pg_class WHERE relname LIKE 'requests_p%' AND relkind = 'r' ORDER BY 1")
    assert remaining.split("\n") == [f"requests_p{d:%Y%m%d}" for d in (now, tomorrow)]
    assert rows(fresh) == ["today"]
    # A late row for the dropped day makes its partition again.
    append(log, line("later", time=old.isoformat()))
    step(service)
    assert rows(fresh) == ["later", "today"]
    service.close()
