"""The quota day: the calendar date in the configured time zone, which begins at that zone's
midnight (whatever the UTC offset is that day: DST moves it, not the length of a quota day)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def day_of(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    return moment.astimezone(zone).date()


def day_start(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    """The first instant of `day` in `zone`. A midnight that a DST jump skips maps (fold=0) to the
    instant the clocks jump, which is the day's first one."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def resets_at(day: dt.date, zone: ZoneInfo) -> int:
    """Unix time at which the quota day after `day` begins."""
    return int(day_start(day + dt.timedelta(days=1), zone).timestamp())


def utc_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The range of the table partition that holds rows of the UTC day `day`."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)
