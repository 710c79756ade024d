"""Business-time arithmetic for SLA clocks: when does "2 h of open time after T" end?

Pure: no I/O, no clock; the only state is per-instance caches. Datetimes going in must be
timezone-aware and results come out in UTC, so stored due-times never depend on the host zone.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday numbers as datetime.weekday() counts them: 0 = Monday .. 6 = Sunday."""

END_OF_DAY = time(0)
"""As the end of an opening interval, 00:00 means 24:00: midnight at the end of the day."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MAX_EMPTY_YEARS = 10
"""How many whole years without open time `add` / `next_open` skip before giving up."""


class Calendar(Protocol):
    """What an SLA clock needs: counted (open) time between moments, and moments after time."""

    @property
    def name(self) -> str: ...

    @property
    def day_seconds(self) -> float:
        """Counted seconds in "1d": 86400 on 24x7, the opening hours of a working day otherwise."""
        ...

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment `seconds` of open time after `start` (UTC); 0 gives `next_open(start)`."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end); 0 if end <= start."""
        ...

    def is_open(self, moment: datetime) -> bool: ...

    def next_open(self, moment: datetime) -> datetime:
        """The first open moment >= `moment` (UTC): `moment` itself if open."""
        ...

    def local(self, moment: datetime) -> datetime:
        """`moment` in the calendar's own zone, for showing due times to customers."""
        ...


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"calendar arithmetic needs a timezone-aware time, not naive {moment.isoformat()}"
        )


def _require_seconds(seconds: float) -> None:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds to add must be finite and >= 0, not {seconds!r}")


@dataclass(frozen=True)
class AlwaysOpen:
    """The 24x7 calendar: every second counts, in real (UTC) time, whatever the local clock does."""

    name: str = "24x7"
    day_seconds: float = field(default=86400.0, init=False)

    def add(self, start: datetime, seconds: float) -> datetime:
        _require_aware(start)
        _require_seconds(seconds)
        return start.astimezone(UTC) + timedelta(seconds=seconds)

    def elapsed(self, start: datetime, end: datetime) -> float:
        _require_aware(start)
        _require_aware(end)
        # Via UTC: subtracting two times of the same zone would count wall-clock time.
        return max((end.astimezone(UTC) - start.astimezone(UTC)).total_seconds(), 0.0)

    def is_open(self, moment: datetime) -> bool:
        _require_aware(moment)
        return True

    def next_open(self, moment: datetime) -> datetime:
        _require_aware(moment)
        return moment.astimezone(UTC)

    def local(self, moment: datetime) -> datetime:
        _require_aware(moment)
        return moment.astimezone(UTC)


# --- parsing working days and opening hours from config text ---------------------------------

_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS_EXAMPLE = '"mon-fri", "mon,wed,fri" or "sun-thu"'
_HOURS_EXAMPLE = '"09:00-18:00" or "09:00-12:00,13:00-18:00"'
_HOURS_INTERVAL = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")


def _day_number(name: str, text: str) -> int:
    key = name.strip().lower()
    for number, (short, full) in enumerate(zip(DAY_NAMES, _FULL_DAY_NAMES, strict=True)):
        if key in (short, full):
            return number
    raise ValueError(f"{text!r} is not a list of working days such as {_DAYS_EXAMPLE}")


def parse_days(text: str) -> frozenset[int]:
    """Read "mon-fri", "mon,wed,fri", "sat-sun" or a wrapping range like "sun-thu" (0 = Monday)."""
    days: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start = _day_number(first, text)
        end = _day_number(last, text) if dash else start
        # Ranges wrap around the week, so "sun-thu" is Sunday to Thursday.
        days.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(days)


def _parse_clock(hour: str, minute: str, text: str, *, end: bool) -> time:
    h, m = int(hour), int(minute)
    if end and (h, m) == (24, 0):
        return END_OF_DAY
    if end and (h, m) == (0, 0):  # END_OF_DAY in code, but in config text ambiguous
        raise ValueError(f"{text!r} ends an interval at 00:00: write 24:00 for the end of the day")
    if h > 23 or m > 59:
        raise ValueError(f"{text!r} has an impossible time of day {hour}:{minute}")
    return time(h, m)


def parse_hours(text: str) -> tuple[tuple[time, time], ...]:
    """Read "09:00-18:00" or "09:00-12:00,13:00-18:00"; "24:00" as an end means end of day."""
    intervals = []
    for part in text.split(","):
        match = _HOURS_INTERVAL.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a list of opening hours such as {_HOURS_EXAMPLE}")
        start = _parse_clock(match.group(1), match.group(2), text, end=False)
        end = _parse_clock(match.group(3), match.group(4), text, end=True)
        intervals.append((start, end))
    intervals.sort()
    hours = tuple(intervals)
    _check_hours(hours)
    return hours


def _seconds_of_day(moment: time, *, end: bool) -> int:
    if end and moment == END_OF_DAY:
        return 86400
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _check_hours(hours: tuple[tuple[time, time], ...]) -> None:
    """Reject what cannot be a day's opening hours: none, zoned, empty, unsorted, overlapping."""
    if not hours:
        raise ValueError(f"no opening hours: give at least one interval such as {_HOURS_EXAMPLE}")
    previous_end = 0
    for start, end in hours:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError("opening hours are local wall-clock times, without a time zone")
        if start.microsecond or end.microsecond:
            raise ValueError("opening hours are whole seconds")
        begin, finish = _seconds_of_day(start, end=False), _seconds_of_day(end, end=True)
        label = f"{start:%H:%M}-{'24:00' if finish == 86400 else f'{end:%H:%M}'}"
        if finish <= begin:
            raise ValueError(
                f"opening interval {label} is empty: the end must be after the start "
                "(write 24:00 for the end of the day)"
            )
        if begin < previous_end:
            raise ValueError(f"opening interval {label} overlaps or precedes the one before it")
        previous_end = finish


# --- local wall-clock times to UTC ------------------------------------------------------------


def _to_us(moment: datetime) -> int:
    """Microseconds since the epoch: integer arithmetic, so adding and counting never drift."""
    return (moment - _EPOCH) // _MICROSECOND


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _utc_of_wall_time(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant.

    A time that does not exist (inside a spring-forward gap) becomes the moment after the gap;
    a time that occurs twice (inside a fall-back overlap) is taken at its first occurrence.
    """
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    first = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first occurrence
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap, fold=0 applies the offset from before the transition and so lands after it,
    # fold=1 the offset from after and lands before it: the transition, which is the first
    # moment after the gap, lies between the two. Offsets change on whole seconds.
    low = _to_us(wall.replace(tzinfo=zone, fold=1).astimezone(UTC)) // 1_000_000
    high = _to_us(first) // 1_000_000
    offset_after = first.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if _from_us(middle * 1_000_000).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return _from_us(high * 1_000_000)


# --- the business calendar ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Year:
    """One local calendar year of open time: per-day UTC intervals and running totals."""

    year: int
    first_ordinal: int
    days: tuple[tuple[tuple[int, int], ...], ...]
    """Open intervals [start, end) per day of the year, in UTC microseconds; empty when closed."""
    before: tuple[int, ...]
    """Open microseconds in the year before each day; one longer than `days`: last is the total."""

    @property
    def total(self) -> int:
        return self.before[-1]


class BusinessCalendar:
    """Opening hours on working days in one time zone, minus official holidays plus make-up days.

    Open time is computed per local date as UTC intervals, so DST days are their real length,
    and kept per year with running totals: add and elapsed cost the same for 2 h or 90 days.
    """

    def __init__(
        self,
        name: str,
        timezone: ZoneInfo,
        days: frozenset[int],
        hours: tuple[tuple[time, time], ...],
        holidays_country: str | None = None,
        extra_holidays: frozenset[date] = frozenset(),
        extra_workdays: frozenset[date] = frozenset(),
    ) -> None:
        if not days:
            raise ValueError(f"calendar {name!r} has no working days: give some, e.g. mon-fri")
        if not set(days) <= set(range(7)):
            raise ValueError(f"working days are 0 (Monday) to 6 (Sunday), not {sorted(days)}")
        _check_hours(hours)
        self.name = name
        self.timezone = timezone
        self.days = frozenset(days)
        self.hours = tuple(hours)
        self.holidays_country = holidays_country.upper() if holidays_country else None
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._wall_hours = tuple(
            (_seconds_of_day(start, end=False), _seconds_of_day(end, end=True))
            for start, end in self.hours
        )
        self.day_seconds = float(sum(end - start for start, end in self._wall_hours))
        self._official: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        self._years: dict[int, _Year] = {}
        if self.holidays_country is not None:
            try:
                holidays.country_holidays(self.holidays_country, years=())
            except NotImplementedError:
                raise ValueError(
                    f"the holidays library knows no country {holidays_country!r}: "
                    "use an ISO code such as CN or US"
                ) from None

    def __repr__(self) -> str:
        return (
            f"BusinessCalendar({self.name!r}, {self.timezone.key!r}, days={sorted(self.days)}, "
            f"hours={self.hours!r}, holidays_country={self.holidays_country!r})"
        )

    # --- which days are open

    def _country_days(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        """(official days off, make-up working days) of one year, from the holidays library."""
        cached = self._official.get(year)
        if cached is None:
            if self.holidays_country is None:
                cached = (frozenset(), frozenset())
            else:
                # weekend_workdays is filled as years are populated (and holds a few dates of
                # other years from the start), so populate the year and keep only its dates.
                official = holidays.country_holidays(self.holidays_country, years=year)
                cached = (
                    frozenset(day for day in official if day.year == year),
                    frozenset(
                        day for day in getattr(official, "weekend_workdays", ()) if day.year == year
                    ),
                )
            self._official[year] = cached
        return cached

    def is_working_day(self, day: date) -> bool:
        """Extra workdays, then extra holidays, then make-up days, then official holidays, then
        the weekday: the first rule that mentions the date decides."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        official, makeup = self._country_days(day.year)
        if day in makeup:
            return True
        if day in official:
            return False
        return day.weekday() in self.days

    def _open_intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        if not self.is_working_day(day):
            return ()
        intervals = []
        for start, end in self._wall_hours:
            begin = _to_us(_utc_of_wall_time(day, start, self.timezone))
            finish = _to_us(_utc_of_wall_time(day, end, self.timezone))
            if finish > begin:  # an interval wholly inside a DST gap has no open time
                intervals.append((begin, finish))
        return tuple(intervals)

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            first = date(year, 1, 1)
            days = []
            before = [0]
            for offset in range((date(year + 1, 1, 1) - first).days):
                intervals = self._open_intervals(first + timedelta(days=offset))
                days.append(intervals)
                before.append(before[-1] + sum(end - start for start, end in intervals))
            table = _Year(year, first.toordinal(), tuple(days), tuple(before))
            self._years[year] = table
        return table

    # --- arithmetic

    def _locate(self, moment: datetime) -> tuple[_Year, int, int]:
        """(year table, day index in it, UTC microseconds) of an aware moment."""
        _require_aware(moment)
        day = moment.astimezone(self.timezone).date()
        table = self._year(day.year)
        return table, day.toordinal() - table.first_ordinal, _to_us(moment)

    def _open_before(self, table: _Year, index: int, us: int) -> int:
        """Open microseconds in the year before the instant `us` of day `index`."""
        count = table.before[index]
        for start, end in table.days[index]:
            if us <= start:
                break
            count += (us if us < end else end) - start
        return count

    def _next_year(self, year: int, start: datetime) -> int:
        """The first year after `year` with any open time; bounded, so it cannot loop forever."""
        for candidate in range(year + 1, year + 1 + _MAX_EMPTY_YEARS):
            if self._year(candidate).total:
                return candidate
        raise ValueError(
            f"calendar {self.name!r} has no open time in the {_MAX_EMPTY_YEARS} years after "
            f"{start.isoformat()}"
        )

    def add(self, start: datetime, seconds: float) -> datetime:
        """Counted in whole microseconds (exact, no drift): under half of one is 0 seconds."""
        _require_seconds(seconds)
        amount = round(seconds * 1_000_000)
        if amount == 0:
            return self.next_open(start)
        table, index, us = self._locate(start)
        year = table.year
        target = self._open_before(table, index, us) + amount
        while target > table.total:
            target -= table.total
            year = self._next_year(year, start)
            table = self._year(year)
        # The day whose running total first reaches the target; target > 0, so index >= 0.
        index = bisect_left(table.before, target) - 1
        remaining = target - table.before[index]
        for begin, end in table.days[index]:
            if remaining <= end - begin:
                return _from_us(begin + remaining)
            remaining -= end - begin
        raise AssertionError("running totals disagree with the day's intervals")

    def elapsed(self, start: datetime, end: datetime) -> float:
        start_table, start_index, start_us = self._locate(start)
        end_table, end_index, end_us = self._locate(end)
        if end_us <= start_us:  # not `end <= start`: same-zone comparisons ignore fold
            return 0.0
        count = self._open_before(end_table, end_index, end_us) - self._open_before(
            start_table, start_index, start_us
        )
        for year in range(start_table.year, end_table.year):
            count += self._year(year).total
        return count / 1_000_000

    def is_open(self, moment: datetime) -> bool:
        table, index, us = self._locate(moment)
        return any(start <= us < end for start, end in table.days[index])

    def next_open(self, moment: datetime) -> datetime:
        table, index, us = self._locate(moment)
        for start, end in table.days[index]:
            if us < end:
                return moment.astimezone(UTC) if start <= us else _from_us(start)
        # The first later day whose running total grows is the next day with open time.
        later = bisect_right(table.before, table.before[index + 1])
        year = table.year
        while later == len(table.before):
            year = self._next_year(year, moment)
            table = self._year(year)
            later = bisect_right(table.before, 0)
        return _from_us(table.days[later - 1][0][0])

    def local(self, moment: datetime) -> datetime:
        _require_aware(moment)
        return moment.astimezone(self.timezone)
