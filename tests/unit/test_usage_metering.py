"""hx-usage's pure parts: reading a gateway line, the quota day and its reset in a zone with DST,
label values bounded by the configuration, and the quota files metering writes (no database)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from usage_harness import Clock, append, config, line  # noqa: E402

from hxgen.usage import days, lines  # noqa: E402
from hxgen.usage.service import Service  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_gateway_line_is_read_with_nulls_and_a_missing_quota_field():
    r = lines.parse(line("r1", prompt=None, completion=7, upstream_s="null", quota=None).encode())
    assert (r.request_id, r.prompt_tokens, r.completion_tokens, r.upstream_s, r.quota) == ("r1", None, 7, None, "")
    assert r.tokens == 7 and r.added_s is None and r.has_row and r.counted
    r = lines.parse(line("r2", request_s="0.300", upstream_s="0.250").encode())
    assert r.added_s == pytest.approx(0.05)
    for bad in (b"nonsense", b"[]", b'{"time":"yesterday","request_id":"x"}', b'{"time":"2026-12-02T10:00:00+00:00"}'):
        with pytest.raises(lines.Unreadable):
            lines.parse(bad)


def test_which_lines_count_and_which_become_rows():
    health = lines.parse(line("h", tenant="", model="", variant="", path="/healthz").encode())
    assert not health.counted and not health.has_row
    unauthenticated = lines.parse(line("u", tenant="", model="", variant="", status=401).encode())
    assert unauthenticated.counted and not unauthenticated.has_row
    refused = lines.parse(line("q", model="", variant="", status=429, quota="exceeded").encode())
    assert refused.has_row and refused.quota_refused


def test_label_values_outside_the_configuration_are_a_dash():
    labels = lines.Labels(frozenset({"acme"}), {"chat-small": "small"})
    r = lines.parse(line("x", tenant="mallory", model="made-up", variant="made-up").encode())
    assert (labels.tenant(r), labels.model(r), labels.served(r)) == ("-", "-", "-")
    r = lines.parse(line("y", model="alias", variant="chat-small").encode())
    assert (labels.tenant(r), labels.model(r), labels.served(r)) == ("acme", "small", "chat-small")
    assert lines.status_class(503) == "5xx" and lines.status_class(0) == "-"


def test_the_quota_day_resets_at_the_zones_midnight_across_dst():
    # Berlin leaves summer time on 2026-10-25: that day has 25 hours.
    assert days.day_of(dt.datetime(2026, 10, 24, 22, 30, tzinfo=dt.UTC), BERLIN) == dt.date(2026, 10, 25)
    start_25 = days.resets_at(dt.date(2026, 10, 24), BERLIN)
    start_26 = days.resets_at(dt.date(2026, 10, 25), BERLIN)
    assert start_25 == int(dt.datetime(2026, 10, 24, 22, tzinfo=dt.UTC).timestamp())
    assert start_26 - start_25 == 25 * 3600
    # A zone whose clocks jump at midnight: the day begins when they jump (Havana, 2026-03-08).
    havana = ZoneInfo("America/Havana")
    begin = dt.datetime.fromtimestamp(days.resets_at(dt.date(2026, 3, 7), havana), havana)
    assert (begin.date(), begin.hour) == (dt.date(2026, 3, 8), 1)


def test_quota_files_are_replaced_atomically_and_reset_at_midnight_in_the_zone(tmp_path):
    clock = Clock("2026-10-25T21:30:00+00:00")  # 22:30 in Berlin (winter time, UTC+1)
    service = Service(config(tmp_path, time_zone="Europe/Berlin"), now=clock)
    quota = tmp_path / "quota" / "acme.json"
    empty = json.loads(quota.read_text())
    midnight = int(dt.datetime(2026, 10, 25, 23, tzinfo=dt.UTC).timestamp())
    assert empty == {"day": "2026-10-25", "used_tokens": 0, "resets_at": midnight}
    assert sorted(p.name for p in (tmp_path / "quota").iterdir()) == ["acme.json"]  # only tenants with a quota
    before = quota.stat().st_ino
    append(tmp_path / "gateway-access.log", line("a", time="2026-10-25T21:40:00+00:00", prompt=100, completion=20))
    service.meter_step()
    assert json.loads(quota.read_text())["used_tokens"] == 120
    assert quota.stat().st_ino != before and quota.stat().st_mode & 0o777 == 0o644  # a new file renamed over
    assert not [p for p in quota.parent.iterdir() if p.name.endswith(".tmp")]
    clock.set("2026-10-25T23:00:01+00:00")  # just past Berlin's midnight
    service.meter_step()
    assert json.loads(quota.read_text()) == {
        "day": "2026-10-26",
        "used_tokens": 0,
        "resets_at": int(dt.datetime(2026, 10, 26, 23, tzinfo=dt.UTC).timestamp()),
    }
    append(tmp_path / "gateway-access.log", line("b", time="2026-10-25T22:59:59+00:00"))  # late, of yesterday
    service.meter_step()
    assert json.loads(quota.read_text())["used_tokens"] == 0
    assert service.usage("acme")["quota"]["remaining_tokens"] == 1000


def test_unknown_tenants_and_models_are_metered_under_a_dash(tmp_path):
    service = Service(config(tmp_path), now=Clock())
    append(tmp_path / "gateway-access.log", line("a", tenant="mallory", model="x", variant="x"), line("b"))
    service.meter_step()
    requests = service.series.requests
    assert requests.labels("-", "-", "2xx")._value.get() == 1
    assert requests.labels("acme", "small", "2xx")._value.get() == 1
    assert service.series.prompt.labels("-", "-")._value.get() == 10
