"""The period a report covers: whole days in the spec's usage.time_zone, so a report's day is
the day its readers (and the daily quotas) live in, with 23 or 25 hours across a DST change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month"]
KINDS: tuple[PeriodKind, ...] = ("day", "week", "month")


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    first_day: dt.date
    last_day: dt.date
    """Inclusive: the period ends at the end of this day."""
    time_zone: str

    @property
    def start(self) -> dt.datetime:
        """The first instant of the period (aware, in the time zone)."""
        return _midnight(self.first_day, self.time_zone)

    @property
    def end(self) -> dt.datetime:
        """The first instant after the period."""
        return _midnight(self.last_day + dt.timedelta(days=1), self.time_zone)

    @property
    def seconds(self) -> int:
        # In UTC: Python subtracts datetimes of the same zone by the wall clock, which misses
        # the hour a DST change adds or removes.
        return round((self.end.astimezone(dt.UTC) - self.start.astimezone(dt.UTC)).total_seconds())

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    @property
    def days(self) -> list[dt.date]:
        return [self.first_day + dt.timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    @property
    def title(self) -> str:
        if self.kind == "day":
            return self.first_day.isoformat()
        if self.kind == "month" and self.first_day.day == 1:
            return self.first_day.strftime("%B %Y")
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"


def _midnight(day: dt.date, zone: str) -> dt.datetime:
    # Midnight exists in every IANA zone that hx accepts today (DST moves at 01:00-03:00).
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))


def period_ending(kind: PeriodKind, last_day: dt.date, zone: str) -> Period:
    """The period that ends at the end of last_day: that day, the seven days up to it, or the
    month up to it (from the same day of the previous month, plus one: 30 Nov -> 1 Nov)."""
    if kind == "day":
        first = last_day
    elif kind == "week":
        first = last_day - dt.timedelta(days=6)
    else:
        first = _month_before(last_day + dt.timedelta(days=1))
    return Period(kind, first, last_day, zone)


def _month_before(day: dt.date) -> dt.date:
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    # 31 March -> 28/29 February: the same day where it exists, else the month's last.
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def last_complete(kind: PeriodKind, now: dt.datetime, zone: str) -> Period:
    """The newest period that has ended by `now`: yesterday; the last Monday-to-Sunday week;
    the last calendar month."""
    today = now.astimezone(ZoneInfo(zone)).date()
    if kind == "day":
        return period_ending("day", today - dt.timedelta(days=1), zone)
    if kind == "week":
        sunday = today - dt.timedelta(days=today.isoweekday())
        return period_ending("week", sunday, zone)
    return period_ending("month", today.replace(day=1) - dt.timedelta(days=1), zone)
