"""Report periods: whole days in usage.time_zone, across DST changes and month ends."""

from __future__ import annotations

import datetime as dt

import pytest

from hxgen.report.period import last_complete, period_ending

BERLIN = "Europe/Berlin"


def test_a_day_is_local_midnight_to_midnight_with_23_or_25_hours_across_dst():
    autumn = period_ending("day", dt.date(2026, 10, 25), BERLIN)
    assert autumn.start.astimezone(dt.UTC) == dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)
    assert autumn.end.astimezone(dt.UTC) == dt.datetime(2026, 10, 25, 23, 0, tzinfo=dt.UTC)
    assert autumn.hours == 25
    assert period_ending("day", dt.date(2026, 3, 29), BERLIN).hours == 23
    assert period_ending("day", dt.date(2026, 3, 29), "UTC").hours == 24


def test_weeks_and_months_end_at_the_end_of_their_last_day():
    week = period_ending("week", dt.date(2026, 11, 29), BERLIN)
    assert (week.first_day, week.last_day, len(week.days)) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29), 7)
    november = period_ending("month", dt.date(2026, 11, 30), BERLIN)
    assert (november.first_day, november.title) == (dt.date(2026, 11, 1), "November 2026")
    assert period_ending("month", dt.date(2026, 3, 30), "UTC").first_day == dt.date(2026, 2, 28)
    assert period_ending("month", dt.date(2026, 1, 15), "UTC").first_day == dt.date(2025, 12, 16)


@pytest.mark.parametrize(
    ("now_utc", "kind", "first", "last"),
    [
        # 23:30 UTC on Sunday is already Monday in Berlin: that Sunday's week is complete.
        (dt.datetime(2026, 11, 29, 23, 30), "week", dt.date(2026, 11, 23), dt.date(2026, 11, 29)),
        (dt.datetime(2026, 11, 29, 22, 30), "week", dt.date(2026, 11, 16), dt.date(2026, 11, 22)),
        (dt.datetime(2026, 12, 2, 5, 0), "day", dt.date(2026, 12, 1), dt.date(2026, 12, 1)),
        (dt.datetime(2026, 12, 2, 5, 0), "month", dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
        (dt.datetime(2027, 1, 1, 0, 0), "month", dt.date(2026, 12, 1), dt.date(2026, 12, 31)),
    ],
)
def test_the_default_is_the_last_complete_period_in_the_time_zone(now_utc, kind, first, last):
    p = last_complete(kind, now_utc.replace(tzinfo=dt.UTC), BERLIN)
    assert (p.first_day, p.last_day) == (first, last)
