"""Report periods (ISO weeks and calendar months in the digest's time zone) and when each
edition falls due. Pure: the digest's schedule is arithmetic on these, never a timer.

A week is Monday 00:00 to the next Monday 00:00 local time; a month is the 1st 00:00 to the
next 1st. An edition is due at its slot (the weekly slot is `weekday` at `hour`; the monthly one
is the 1st at `hour`) and reports the last period that had ended by then, so a Monday 09:00
digest reports the week that ended eight hours earlier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("week", "month")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    """[start, end) in local time: the window one digest reports on."""

    kind: str  # "week" or "month"
    label: str  # "2026-W47" or "2026-11"
    start: datetime
    end: datetime

    def previous(self, count: int = 1) -> Period:
        """The period `count` before this one, of the same kind and time zone."""
        tz = self.start.tzinfo
        assert isinstance(tz, ZoneInfo)
        if self.kind == "week":
            return week_of(self.start - timedelta(weeks=count), tz)
        year, month = divmod(self.start.year * 12 + self.start.month - 1 - count, 12)
        return month_of(datetime(year, month + 1, 1, tzinfo=tz), tz)

    def history(self, count: int) -> list[Period]:
        """The `count` periods before this one, the most recent first."""
        return [self.previous(n) for n in range(1, count + 1)]


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def week_of(moment: datetime, tz: ZoneInfo) -> Period:
    """The ISO week holding `moment` (read in `tz`)."""
    local = moment.astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    year, number, _ = monday.isocalendar()
    return Period(
        "week",
        f"{year}-W{number:02d}",
        _local_midnight(monday, tz),
        _local_midnight(monday + timedelta(days=7), tz),
    )


def month_of(moment: datetime, tz: ZoneInfo) -> Period:
    """The calendar month holding `moment` (read in `tz`)."""
    local = moment.astimezone(tz).date()
    first = local.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(
        "month",
        f"{first.year}-{first.month:02d}",
        _local_midnight(first, tz),
        _local_midnight(following, tz),
    )


def parse_period(label: str, tz: ZoneInfo) -> Period:
    """ "2026-W47" or "2026-11"; ValueError says what is expected."""
    text = label.strip()
    if found := _WEEK.match(text):
        year, number = int(found[1]), int(found[2])
        try:
            monday = date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{label!r}: {year} has no ISO week {number}") from None
        return week_of(_local_midnight(monday, tz), tz)
    if (found := _MONTH.match(text)) and 1 <= int(found[2]) <= 12:
        return month_of(datetime(int(found[1]), int(found[2]), 1, tzinfo=tz), tz)
    raise ValueError(f"{label!r} is not a week like 2026-W47 or a month like 2026-11")


def slot_before(kind: str, now: datetime, weekday: int, hour: int, tz: ZoneInfo) -> datetime:
    """The latest slot at or before `now`: weekly on `weekday` (0 = Monday), monthly on the 1st,
    at `hour` local time."""
    local = now.astimezone(tz)
    if kind == "week":
        day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
        slot = datetime.combine(day, time(hour), tzinfo=tz)
        return slot if slot <= now else slot - timedelta(days=7)
    slot = datetime.combine(local.date().replace(day=1), time(hour), tzinfo=tz)
    if slot <= now:
        return slot
    return datetime.combine((slot.date() - timedelta(days=1)).replace(day=1), time(hour), tzinfo=tz)


def slot_after(kind: str, now: datetime, weekday: int, hour: int, tz: ZoneInfo) -> datetime:
    """The first slot strictly after `now`."""
    last = slot_before(kind, now, weekday, hour, tz)
    if kind == "week":
        return datetime.combine(last.date() + timedelta(days=7), time(hour), tzinfo=tz)
    following = (last.date().replace(day=1) + timedelta(days=32)).replace(day=1)
    return datetime.combine(following, time(hour), tzinfo=tz)


def reported_at(kind: str, slot: datetime, tz: ZoneInfo) -> Period:
    """The period an edition sent at `slot` reports: the last one that had ended by then."""
    of = week_of if kind == "week" else month_of
    return of(slot, tz).previous()  # the slot's own period is still running at the slot
