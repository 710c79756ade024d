"""Business-time arithmetic: hand-computed edges, real holiday data, DST days, and invariants."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from maild.calendar import (
    AlwaysOpen,
    BusinessCalendar,
    Calendar,
    parse_days,
    parse_hours,
)
from maild.durations import parse_duration

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
DUBAI = ZoneInfo("Asia/Dubai")

HOUR = 3600.0
WEEKDAYS = parse_days("mon-fri")
EVERY_DAY = parse_days("mon-sun")


def at(zone: ZoneInfo, text: str) -> datetime:
    """A local wall-clock time, e.g. at(SHANGHAI, "2026-05-15 17:00"); fold=0 if ambiguous."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def business(
    zone: ZoneInfo = SHANGHAI,
    days: str = "mon-fri",
    hours: str = "09:00-18:00",
    country: str | None = None,
    **extra: frozenset[date],
) -> BusinessCalendar:
    return BusinessCalendar("test", zone, parse_days(days), parse_hours(hours), country, **extra)


OFFICE = business()
LUNCH = business(hours="09:00-12:00,13:00-18:00")
CN_OFFICE = business(country="CN")
US_OFFICE = business(NEW_YORK, country="US")


# --- 24x7 ----------------------------------------------------------------------------------


def test_always_open_basics() -> None:
    always = AlwaysOpen()
    assert always.name == "24x7"
    assert always.day_seconds == 86400.0
    start = at(SHANGHAI, "2026-05-16 10:00")  # a Saturday: irrelevant
    due = always.add(start, 2 * HOUR)
    assert due == utc("2026-05-16 04:00")
    assert due.tzinfo is UTC
    assert always.add(start, 0) == start
    assert always.elapsed(start, due) == 2 * HOUR
    assert always.elapsed(due, start) == 0.0
    assert always.elapsed(start, start) == 0.0
    assert always.is_open(start)
    assert always.next_open(start) == start
    assert always.next_open(start).tzinfo is UTC


def test_always_open_ignores_dst() -> None:
    always = AlwaysOpen(name="round the clock")
    assert always.name == "round the clock"
    before = at(NEW_YORK, "2026-03-07 12:00")  # EST, UTC-5
    assert always.add(before, 24 * HOUR) == at(NEW_YORK, "2026-03-08 13:00")  # EDT
    fall = at(NEW_YORK, "2026-10-31 12:00")  # EDT
    assert always.elapsed(fall, at(NEW_YORK, "2026-11-01 12:00")) == 25 * HOUR


def test_always_open_local_is_utc() -> None:
    moment = at(SHANGHAI, "2026-05-16 10:00")
    local = AlwaysOpen().local(moment)
    assert local == moment
    assert local.tzinfo is UTC
    assert local.hour == 2


def test_calendars_satisfy_the_protocol() -> None:
    calendars: list[Calendar] = [AlwaysOpen(), OFFICE]
    assert [calendar.day_seconds for calendar in calendars] == [86400.0, 9 * HOUR]


# --- business hours, Asia/Shanghai mon-fri 09:00-18:00 -------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        ("2026-05-15 17:00", 2 * HOUR, "2026-05-18 10:00"),  # Fri 17:00 + 2h -> Mon 10:00
        ("2026-05-16 10:00", 0, "2026-05-18 09:00"),  # Sat + 0 -> Monday's opening
        ("2026-05-18 09:00", 9 * HOUR, "2026-05-18 18:00"),  # a full day ends at its close
        ("2026-05-18 09:00", 0, "2026-05-18 09:00"),  # open already
        ("2026-05-18 15:00", 45 * HOUR, "2026-05-25 15:00"),  # 5d -> next Monday
        ("2026-05-18 07:00", 1 * HOUR, "2026-05-18 10:00"),  # before opening
        ("2026-05-18 19:00", 1 * HOUR, "2026-05-19 10:00"),  # after closing
        ("2026-05-18 18:00", 0, "2026-05-19 09:00"),  # closing time is closed
        ("2026-05-18 18:00", 1, "2026-05-19 09:00:01"),
        ("2026-05-18 17:59:59", 1, "2026-05-18 18:00"),
        ("2026-05-18 17:59:59", 2, "2026-05-19 09:00:01"),
        ("2026-05-15 18:00", 9 * HOUR, "2026-05-18 18:00"),
        ("2026-05-17 23:59", 0.5, "2026-05-18 09:00:00.500000"),
        ("2026-05-18 10:00", 0.000001, "2026-05-18 10:00:00.000001"),
    ],
)
def test_office_add(start: str, seconds: float, due: str) -> None:
    result = OFFICE.add(at(SHANGHAI, start), seconds)
    assert result == at(SHANGHAI, due)
    assert result.tzinfo is UTC


def test_office_five_days_duration() -> None:
    five_days = parse_duration("5d").seconds(OFFICE.day_seconds)
    assert five_days == 45 * HOUR
    due = OFFICE.add(at(SHANGHAI, "2026-05-18 15:00"), five_days)
    assert OFFICE.local(due) == at(SHANGHAI, "2026-05-25 15:00")


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        ("2026-05-15 17:00", "2026-05-18 10:00", 2 * HOUR),  # across a weekend
        ("2026-05-15 12:00", "2026-05-18 12:00", 9 * HOUR),
        ("2026-05-18 00:00", "2026-05-25 00:00", 45 * HOUR),  # a week
        ("2026-05-16 00:00", "2026-05-18 00:00", 0.0),  # a weekend
        ("2026-05-18 18:00", "2026-05-19 09:00", 0.0),  # a night
        ("2026-05-18 07:00", "2026-05-18 20:00", 9 * HOUR),
        ("2026-05-18 10:30", "2026-05-18 10:45", 15 * 60.0),
        ("2026-05-18 10:00", "2026-05-18 10:00", 0.0),
        ("2026-05-18 11:00", "2026-05-18 10:00", 0.0),  # end before start
        ("2026-11-02 09:00", "2027-02-01 09:00", 13 * 45 * HOUR),  # 13 weeks across a new year
    ],
)
def test_office_elapsed(start: str, end: str, seconds: float) -> None:
    assert OFFICE.elapsed(at(SHANGHAI, start), at(SHANGHAI, end)) == seconds


def test_office_is_open_and_next_open() -> None:
    assert OFFICE.is_open(at(SHANGHAI, "2026-05-18 09:00"))
    assert OFFICE.is_open(at(SHANGHAI, "2026-05-18 17:59:59.999999"))
    assert not OFFICE.is_open(at(SHANGHAI, "2026-05-18 18:00"))
    assert not OFFICE.is_open(at(SHANGHAI, "2026-05-18 08:59:59"))
    assert not OFFICE.is_open(at(SHANGHAI, "2026-05-16 12:00"))  # Saturday
    inside = at(SHANGHAI, "2026-05-18 12:34:56.789")
    assert OFFICE.next_open(inside) == inside
    assert OFFICE.next_open(inside).tzinfo is UTC
    friday_close = at(SHANGHAI, "2026-05-15 18:00")
    assert OFFICE.next_open(friday_close) == at(SHANGHAI, "2026-05-18 09:00")
    assert OFFICE.next_open(at(SHANGHAI, "2026-05-18 06:00")) == at(SHANGHAI, "2026-05-18 09:00")


def test_moments_in_other_zones_are_the_same_instants() -> None:
    # Fri 17:00 in Shanghai is 09:00 UTC; the answer does not depend on how the start is written.
    start = utc("2026-05-15 09:00")
    assert OFFICE.add(start, 2 * HOUR) == utc("2026-05-18 02:00")
    assert OFFICE.add(start.astimezone(NEW_YORK), 2 * HOUR) == utc("2026-05-18 02:00")


def test_local_is_in_the_calendar_zone() -> None:
    local = OFFICE.local(utc("2026-05-18 02:00"))
    assert local.tzinfo is SHANGHAI
    assert (local.date(), local.time()) == (date(2026, 5, 18), time(10, 0))


def test_new_year_crossing() -> None:
    start = at(SHANGHAI, "2026-12-31 17:00")  # Thursday
    assert OFFICE.add(start, 2 * HOUR) == at(SHANGHAI, "2027-01-01 10:00")  # no holidays set
    assert CN_OFFICE.add(start, 2 * HOUR) == at(SHANGHAI, "2027-01-04 10:00")  # New Year off


def test_long_spans() -> None:
    start = at(SHANGHAI, "2026-03-02 09:00")  # Monday
    ninety_days = 90 * OFFICE.day_seconds
    due = OFFICE.add(start, ninety_days)
    assert due == at(SHANGHAI, "2026-07-03 18:00")  # 18 weeks: Friday close of week 18
    assert OFFICE.elapsed(start, due) == ninety_days
    ten_years = OFFICE.add(start, 10 * 52 * 45 * HOUR)
    assert OFFICE.local(ten_years).weekday() in WEEKDAYS


# --- lunch breaks and other weeks -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        ("2026-05-18 11:00", 2 * HOUR, "2026-05-18 14:00"),
        ("2026-05-18 11:00", 1 * HOUR, "2026-05-18 12:00"),  # ends at the lunch close
        ("2026-05-18 12:30", 0, "2026-05-18 13:00"),
        ("2026-05-18 12:00", 0, "2026-05-18 13:00"),
        ("2026-05-18 12:30", 1 * HOUR, "2026-05-18 14:00"),
        ("2026-05-18 09:00", 8 * HOUR, "2026-05-18 18:00"),
        ("2026-05-18 09:00", 8 * HOUR + 1, "2026-05-19 09:00:01"),
        ("2026-05-15 17:00", 4 * HOUR, "2026-05-18 12:00"),
    ],
)
def test_lunch_break_add(start: str, seconds: float, due: str) -> None:
    assert LUNCH.add(at(SHANGHAI, start), seconds) == at(SHANGHAI, due)


def test_lunch_break_elapsed_and_open() -> None:
    assert LUNCH.day_seconds == 8 * HOUR
    assert LUNCH.elapsed(at(SHANGHAI, "2026-05-18 11:00"), at(SHANGHAI, "2026-05-18 14:00")) == (
        2 * HOUR
    )
    assert LUNCH.elapsed(at(SHANGHAI, "2026-05-18 12:10"), at(SHANGHAI, "2026-05-18 12:50")) == 0
    assert not LUNCH.is_open(at(SHANGHAI, "2026-05-18 12:30"))
    assert LUNCH.is_open(at(SHANGHAI, "2026-05-18 13:00"))


def test_middle_east_week() -> None:
    dubai = business(DUBAI, days="sun-thu")
    assert dubai.days == frozenset({6, 0, 1, 2, 3})
    start = at(DUBAI, "2026-05-14 17:00")  # Thursday
    assert dubai.add(start, 2 * HOUR) == at(DUBAI, "2026-05-17 10:00")  # Sunday
    assert not dubai.is_open(at(DUBAI, "2026-05-15 10:00"))  # Friday


def test_round_the_clock_business_calendar_is_real_time() -> None:
    always = business(days="mon-sun", hours="00:00-24:00")
    assert always.day_seconds == 86400.0
    start = at(SHANGHAI, "2026-05-16 10:00")
    assert always.add(start, 30 * HOUR) == at(SHANGHAI, "2026-05-17 16:00")
    assert always.add(start, 0) == start
    assert always.elapsed(start, at(SHANGHAI, "2026-05-19 10:00")) == 72 * HOUR
    assert always.is_open(at(SHANGHAI, "2026-05-17 00:00"))


# --- official holidays and make-up working days ---------------------------------------------


def test_holidays_library_data_for_cn_2026() -> None:
    """The facts the CN expectations below rest on, as holidays 0.109 publishes them."""
    cn = holidays.country_holidays("CN", years=2026)
    makeup = {day for day in cn.weekend_workdays if day.year == 2026}
    assert makeup == {
        date(2026, 1, 4),
        date(2026, 2, 14),
        date(2026, 2, 28),
        date(2026, 5, 9),
        date(2026, 9, 20),
        date(2026, 10, 10),
    }
    golden_week = {date(2026, 10, day) for day in (1, 2, 3, 5, 6, 7)}  # the 4th is a Sunday
    assert golden_week <= set(cn)
    spring = {date(2026, 2, day) for day in (16, 17, 18, 19, 20, 23)}  # 15, 21, 22: weekend
    assert spring <= set(cn)
    assert date(2026, 9, 25) in cn  # Mid-Autumn Festival, a Friday
    # 2027's make-up days were not published when 0.109 came out: only rule-based holidays.
    cn_2027 = holidays.country_holidays("CN", years=2027)
    assert not {day for day in cn_2027.weekend_workdays if day.year == 2027}
    assert date(2027, 2, 10) in cn_2027


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 4), False),  # Sunday inside Golden Week
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 9, 20), True),  # make-up Sunday
        (date(2026, 10, 10), True),  # make-up Saturday
        (date(2026, 10, 11), False),
        (date(2026, 10, 17), False),  # an ordinary Saturday
        (date(2026, 2, 14), True),  # make-up Saturday before the Spring Festival
        (date(2026, 2, 16), False),
        (date(2026, 2, 23), False),
        (date(2026, 2, 28), True),  # make-up Saturday after it
        (date(2026, 9, 25), False),  # Mid-Autumn Festival
        (date(2026, 5, 18), True),
    ],
)
def test_cn_working_days(day: date, working: bool) -> None:
    assert CN_OFFICE.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        ("2026-09-30 17:00", 2 * HOUR, "2026-10-08 10:00"),  # over Golden Week
        ("2026-09-30 09:00", 45 * HOUR, "2026-10-12 18:00"),  # 5d: 30th, 8th, 9th, 10th, 12th
        ("2026-09-19 10:00", 0, "2026-09-20 09:00"),  # Saturday -> make-up Sunday
        ("2026-10-01 10:00", 0, "2026-10-08 09:00"),
        ("2026-10-09 17:00", 2 * HOUR, "2026-10-10 10:00"),  # Friday -> make-up Saturday
        ("2026-02-13 17:00", 2 * HOUR, "2026-02-14 10:00"),  # Friday -> make-up Saturday
        ("2026-02-14 18:00", 1 * HOUR, "2026-02-24 10:00"),  # over the Spring Festival
    ],
)
def test_cn_add(start: str, seconds: float, due: str) -> None:
    assert CN_OFFICE.add(at(SHANGHAI, start), seconds) == at(SHANGHAI, due)


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        ("2026-09-18 09:00", "2026-09-21 09:00", 18 * HOUR),  # Friday + make-up Sunday
        ("2026-09-24 09:00", "2026-09-28 09:00", 9 * HOUR),  # Friday 25th is Mid-Autumn
        ("2026-09-30 09:00", "2026-10-12 09:00", 36 * HOUR),  # 30th, 8th, 9th, 10th
        ("2026-02-27 09:00", "2026-03-02 09:00", 18 * HOUR),  # Friday + make-up Saturday
        ("2026-02-14 09:00", "2026-02-24 09:00", 9 * HOUR),
    ],
)
def test_cn_elapsed(start: str, end: str, seconds: float) -> None:
    assert CN_OFFICE.elapsed(at(SHANGHAI, start), at(SHANGHAI, end)) == seconds


def test_us_holidays() -> None:
    start = at(NEW_YORK, "2026-07-02 17:00")  # Thursday; Friday the 3rd: Independence Day observed
    assert US_OFFICE.add(start, 2 * HOUR) == at(NEW_YORK, "2026-07-06 10:00")
    assert not US_OFFICE.is_working_day(date(2026, 11, 26))  # Thanksgiving
    assert US_OFFICE.is_working_day(date(2026, 11, 27))


def test_country_code_is_case_insensitive() -> None:
    assert not business(country="cn").is_working_day(date(2026, 10, 1))


def test_extra_days_override_the_library() -> None:
    # 2027's make-up days are not in the library yet; the config supplies them.
    calendar = business(
        country="CN",
        extra_workdays=frozenset({date(2027, 2, 20), date(2027, 2, 10)}),
        extra_holidays=frozenset({date(2027, 2, 11), date(2026, 10, 10)}),
    )
    assert calendar.is_working_day(date(2027, 2, 20))  # a Saturday made a working day
    assert calendar.is_working_day(date(2027, 2, 10))  # the library says holiday
    assert not calendar.is_working_day(date(2027, 2, 11))  # an ordinary Thursday
    assert not calendar.is_working_day(date(2026, 10, 10))  # the library says make-up day
    assert not CN_OFFICE.is_working_day(date(2027, 2, 20))
    friday = at(SHANGHAI, "2027-02-19 17:00")
    assert calendar.add(friday, 2 * HOUR) == at(SHANGHAI, "2027-02-20 10:00")
    assert CN_OFFICE.add(friday, 2 * HOUR) == at(SHANGHAI, "2027-02-22 10:00")


def test_extra_days_without_a_country() -> None:
    calendar = business(
        extra_workdays=frozenset({date(2026, 5, 16)}),
        extra_holidays=frozenset({date(2026, 5, 18)}),
    )
    assert calendar.add(at(SHANGHAI, "2026-05-15 17:00"), 2 * HOUR) == at(
        SHANGHAI, "2026-05-16 10:00"
    )
    assert calendar.add(at(SHANGHAI, "2026-05-16 17:00"), 2 * HOUR) == at(
        SHANGHAI, "2026-05-19 10:00"
    )


def test_extra_workday_wins_over_extra_holiday() -> None:
    both = frozenset({date(2026, 5, 16)})
    calendar = business(extra_workdays=both, extra_holidays=both)
    assert calendar.is_working_day(date(2026, 5, 16))


# --- daylight saving time -------------------------------------------------------------------

NY_DAYTIME = business(NEW_YORK, days="mon-sun")
NY_NIGHT = business(NEW_YORK, days="mon-sun", hours="00:00-06:00")
NY_ALL_DAY = business(NEW_YORK, days="mon-sun", hours="00:00-24:00")
BERLIN_DAYTIME = business(BERLIN, days="mon-sun")
BERLIN_NIGHT = business(BERLIN, days="mon-sun", hours="00:00-06:00")


@pytest.mark.parametrize(
    ("calendar", "zone", "day"),
    [
        (NY_DAYTIME, NEW_YORK, "2026-03-08"),
        (NY_DAYTIME, NEW_YORK, "2026-11-01"),
        (BERLIN_DAYTIME, BERLIN, "2026-03-29"),
        (BERLIN_DAYTIME, BERLIN, "2026-10-25"),
    ],
)
def test_office_hours_on_dst_days_are_nine_real_hours(
    calendar: BusinessCalendar, zone: ZoneInfo, day: str
) -> None:
    opening, closing = at(zone, f"{day} 09:00"), at(zone, f"{day} 18:00")
    assert closing - opening == timedelta(hours=9)  # aware arithmetic in one zone is wall time
    assert closing.astimezone(UTC) - opening.astimezone(UTC) == timedelta(hours=9)
    assert calendar.add(opening, 9 * HOUR) == closing
    assert calendar.elapsed(at(zone, f"{day} 00:00"), at(zone, f"{day} 23:59")) == 9 * HOUR


def test_new_york_spring_forward() -> None:
    assert NY_DAYTIME.add(at(NEW_YORK, "2026-03-08 09:00"), 9 * HOUR) == utc("2026-03-08 22:00")
    # 00:00-06:00 on the change day: 00:00 EST (05:00 UTC) to 06:00 EDT (10:00 UTC) = 5 h.
    midnight = at(NEW_YORK, "2026-03-08 00:00")
    assert midnight.astimezone(UTC) == utc("2026-03-08 05:00")
    assert NY_NIGHT.elapsed(midnight, at(NEW_YORK, "2026-03-08 12:00")) == 5 * HOUR
    assert NY_NIGHT.add(midnight, 5 * HOUR) == utc("2026-03-08 10:00")
    # "1d" is the nominal 6 h, so on the short day it runs into the next night.
    assert NY_NIGHT.add(midnight, NY_NIGHT.day_seconds) == at(NEW_YORK, "2026-03-09 01:00")
    assert NY_NIGHT.is_open(utc("2026-03-08 06:59:59"))  # 01:59:59 EST
    assert NY_NIGHT.is_open(utc("2026-03-08 07:00"))  # 03:00 EDT


def test_new_york_fall_back() -> None:
    assert NY_DAYTIME.add(at(NEW_YORK, "2026-11-01 09:00"), 9 * HOUR) == utc("2026-11-01 23:00")
    # 00:00 EDT (04:00 UTC) to 06:00 EST (11:00 UTC) = 7 h.
    midnight = at(NEW_YORK, "2026-11-01 00:00")
    assert NY_NIGHT.elapsed(midnight, at(NEW_YORK, "2026-11-01 12:00")) == 7 * HOUR
    assert NY_NIGHT.add(midnight, 6 * HOUR) == utc("2026-11-01 10:00")  # the second 05:00
    assert NY_NIGHT.add(midnight, 7 * HOUR) == utc("2026-11-01 11:00")


def test_elapsed_over_the_fall_back_night() -> None:
    start = at(NEW_YORK, "2026-10-31 12:00")  # Saturday, EDT
    end = at(NEW_YORK, "2026-11-01 12:00")  # Sunday, EST
    assert AlwaysOpen().elapsed(start, end) == 25 * HOUR
    assert NY_ALL_DAY.elapsed(start, end) == 25 * HOUR  # counted time is real time
    assert NY_DAYTIME.elapsed(start, end) == 9 * HOUR  # 12-18 Saturday, 09-12 Sunday
    # Two "days" of a 24 h calendar are 48 counted hours, one less than the two local days.
    saturday = at(NEW_YORK, "2026-10-31 00:00")
    due = NY_ALL_DAY.add(saturday, 2 * NY_ALL_DAY.day_seconds)
    assert NY_ALL_DAY.local(due) == at(NEW_YORK, "2026-11-01 23:00")
    assert AlwaysOpen().add(saturday, 48 * HOUR) == due
    assert NY_ALL_DAY.elapsed(saturday, at(NEW_YORK, "2026-11-02 00:00")) == 49 * HOUR


def test_the_repeated_hour_counts_once_per_occurrence() -> None:
    # 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST); Python compares and
    # subtracts same-zone datetimes by wall clock, which would make these equal.
    first = at(NEW_YORK, "2026-11-01 01:30")
    second = first.replace(fold=1)
    assert (first.astimezone(UTC), second.astimezone(UTC)) == (
        utc("2026-11-01 05:30"),
        utc("2026-11-01 06:30"),
    )
    assert AlwaysOpen().elapsed(first, second) == HOUR
    assert NY_ALL_DAY.elapsed(first, second) == HOUR
    assert NY_NIGHT.elapsed(first, second) == HOUR
    assert NY_NIGHT.elapsed(second, first) == 0.0
    # (PEP 495: an ambiguous time never equals a time of another zone, so compare in UTC.)
    assert NY_NIGHT.add(first, HOUR) == second.astimezone(UTC)


def test_elapsed_over_the_spring_forward_night() -> None:
    start, end = at(BERLIN, "2026-03-28 12:00"), at(BERLIN, "2026-03-29 12:00")
    assert AlwaysOpen().elapsed(start, end) == 23 * HOUR
    assert business(BERLIN, days="mon-sun", hours="00:00-24:00").elapsed(start, end) == 23 * HOUR
    assert BERLIN_DAYTIME.elapsed(start, end) == 9 * HOUR


def test_berlin_nights() -> None:
    spring = at(BERLIN, "2026-03-29 00:00")
    assert BERLIN_NIGHT.elapsed(spring, at(BERLIN, "2026-03-29 12:00")) == 5 * HOUR
    autumn = at(BERLIN, "2026-10-25 00:00")
    assert BERLIN_NIGHT.elapsed(autumn, at(BERLIN, "2026-10-25 12:00")) == 7 * HOUR


def test_opening_inside_a_gap_starts_after_the_gap() -> None:
    # Berlin 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC, so 02:30 does not exist.
    calendar = business(BERLIN, days="mon-sun", hours="02:30-04:00")
    assert calendar.next_open(at(BERLIN, "2026-03-29 00:00")) == utc("2026-03-29 01:00")
    assert calendar.elapsed(utc("2026-03-29 00:00"), utc("2026-03-29 06:00")) == 1 * HOUR
    # An interval wholly inside the gap has no open time that day.
    gap_only = business(NEW_YORK, days="mon-sun", hours="02:00-02:30")
    assert gap_only.elapsed(at(NEW_YORK, "2026-03-08 00:00"), at(NEW_YORK, "2026-03-09 00:00")) == 0
    assert gap_only.next_open(at(NEW_YORK, "2026-03-08 00:00")) == utc("2026-03-09 06:00")


def test_ambiguous_opening_takes_the_first_occurrence() -> None:
    # Berlin 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC; 02:30 happens twice.
    calendar = business(BERLIN, days="mon-sun", hours="02:30-04:00")
    assert calendar.next_open(at(BERLIN, "2026-10-25 00:00")) == utc("2026-10-25 00:30")
    assert calendar.elapsed(utc("2026-10-25 00:00"), utc("2026-10-25 06:00")) == 2.5 * HOUR
    assert calendar.add(at(BERLIN, "2026-10-25 00:00"), 2.5 * HOUR) == utc("2026-10-25 03:00")


# --- construction and parsing ---------------------------------------------------------------


def test_day_seconds_is_the_sum_of_opening_hours() -> None:
    assert OFFICE.day_seconds == 9 * HOUR
    assert business(hours="08:30-12:00,13:30-17:15").day_seconds == 7.25 * HOUR


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"days": frozenset()}, "no working days"),
        ({"days": frozenset({7})}, "0 \\(Monday\\) to 6"),
        ({"hours": ()}, "no opening hours"),
        ({"hours": ((time(13), time(18)), (time(9), time(12)))}, "overlaps or precedes"),
        ({"hours": ((time(9), time(13)), (time(12), time(18)))}, "overlaps or precedes"),
        ({"hours": ((time(18), time(9)),)}, "empty"),
        ({"hours": ((time(9), time(9)),)}, "empty"),
        ({"hours": ((time(9, tzinfo=UTC), time(18)),)}, "without a time zone"),
        ({"holidays_country": "XX"}, "no country 'XX'"),
    ],
)
def test_invalid_calendars(arguments: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {
        "name": "bad",
        "timezone": SHANGHAI,
        "days": WEEKDAYS,
        "hours": ((time(9), time(18)),),
    }
    settings.update(arguments)
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**settings)  # type: ignore[arg-type]


def test_a_calendar_without_open_time_stops_searching() -> None:
    mondays = frozenset(
        date(2026, 1, 5) + timedelta(weeks=week) for week in range(53 * 12)
    )  # every Monday of 2026 to 2037
    calendar = BusinessCalendar(
        "never", SHANGHAI, frozenset({0}), ((time(9), time(18)),), extra_holidays=mondays
    )
    with pytest.raises(ValueError, match="no open time in the 10 years"):
        calendar.add(at(SHANGHAI, "2026-05-18 10:00"), HOUR)
    with pytest.raises(ValueError, match="no open time"):
        calendar.next_open(at(SHANGHAI, "2026-05-18 10:00"))


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("MON,Wed,fri", {0, 2, 4}),
        ("sat-sun", {5, 6}),
        ("mon-sun", {0, 1, 2, 3, 4, 5, 6}),
        ("sun-thu", {6, 0, 1, 2, 3}),
        ("fri-mon", {4, 5, 6, 0}),
        ("fri", {4}),
        ("wed-wed", {2}),
        (" mon - fri ", {0, 1, 2, 3, 4}),
        ("monday-friday", {0, 1, 2, 3, 4}),
        ("mon-tue,thu-fri", {0, 1, 3, 4}),
    ],
)
def test_parse_days(text: str, days: set[int]) -> None:
    assert parse_days(text) == frozenset(days)


@pytest.mark.parametrize("text", ["", "mon-", "-fri", "funday", "mon-tue-wed", "1-5", "mo-fr"])
def test_parse_days_errors(text: str) -> None:
    with pytest.raises(ValueError, match=f'^{text!r} is not .* such as "mon-fri"'):
        parse_days(text)


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("09:00-18:00", ((time(9), time(18)),)),
        ("09:00-12:00,13:00-18:00", ((time(9), time(12)), (time(13), time(18)))),
        ("13:00-18:00, 09:00-12:00", ((time(9), time(12)), (time(13), time(18)))),
        ("00:00-24:00", ((time(0), time(0)),)),
        ("9:00 - 17:30", ((time(9), time(17, 30)),)),
        ("09:00-12:00,12:00-18:00", ((time(9), time(12)), (time(12), time(18)))),
        ("18:00-24:00", ((time(18), time(0)),)),
    ],
)
def test_parse_hours(text: str, hours: tuple[tuple[time, time], ...]) -> None:
    assert parse_hours(text) == hours


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'such as "09:00-18:00"'),
        ("9-18", 'such as "09:00-18:00"'),
        ("09:00", 'such as "09:00-18:00"'),
        ("09:00-18:00;19:00-20:00", 'such as "09:00-18:00"'),
        ("25:00-26:00", "impossible time of day 25:00"),
        ("09:60-10:00", "impossible time of day 09:60"),
        ("24:00-24:00", "impossible time of day 24:00"),
        ("18:00-09:00", "09:00 is empty"),
        ("09:00-09:00", "empty"),
        ("09:00-00:00", "write 24:00 for the end of the day"),
        ("09:00-13:00,12:00-18:00", "12:00-18:00 overlaps"),
    ],
)
def test_parse_hours_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours(text)


NAIVE = datetime(2026, 5, 18, 10, 0)


@pytest.mark.parametrize("calendar", [AlwaysOpen(), OFFICE], ids=["24x7", "business"])
def test_naive_datetimes_are_rejected(calendar: Calendar) -> None:
    aware = at(SHANGHAI, "2026-05-18 10:00")
    calls = [
        lambda: calendar.add(NAIVE, 60),
        lambda: calendar.add(NAIVE, 0),
        lambda: calendar.elapsed(NAIVE, aware),
        lambda: calendar.elapsed(aware, NAIVE),
        lambda: calendar.is_open(NAIVE),
        lambda: calendar.next_open(NAIVE),
        lambda: calendar.local(NAIVE),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


@pytest.mark.parametrize("calendar", [AlwaysOpen(), OFFICE], ids=["24x7", "business"])
@pytest.mark.parametrize("seconds", [-1.0, float("nan"), float("inf")])
def test_bad_amounts_are_rejected(calendar: Calendar, seconds: float) -> None:
    with pytest.raises(ValueError, match="finite and >= 0"):
        calendar.add(at(SHANGHAI, "2026-05-18 10:00"), seconds)


# --- invariants over many starts and amounts ------------------------------------------------

INVARIANT_CALENDARS = {
    "24x7": AlwaysOpen(),
    "office": OFFICE,
    "lunch": LUNCH,
    "cn": CN_OFFICE,
    "ny-night": NY_NIGHT,
    "ny-daytime": NY_DAYTIME,
    "berlin-gap": business(BERLIN, days="mon-sun", hours="02:30-04:00"),
    "dubai": business(DUBAI, days="sun-thu", hours="08:00-12:00,12:30-13:00,14:00-17:45"),
}
# Starts every 7 h 13 m 17 s from late September to late January: holidays, DST in both
# hemispheres' autumn, a year end; odd steps land on openings, closings and nights alike.
STARTS = [utc("2026-09-15 00:00") + timedelta(seconds=26_000 * step + 397) for step in range(420)]
AMOUNTS = [0.0, 0.000001, 1.0, 59.5, 1800.0, HOUR, 4 * HOUR, 9 * HOUR, 45 * HOUR, 400 * HOUR]


@pytest.mark.parametrize("name", list(INVARIANT_CALENDARS))
def test_add_then_elapsed_round_trips(name: str) -> None:
    calendar = INVARIANT_CALENDARS[name]
    for start in STARTS:
        previous = start
        for seconds in AMOUNTS:
            due = calendar.add(start, seconds)
            assert due.tzinfo is UTC
            assert abs(calendar.elapsed(start, due) - seconds) <= 1e-6, (start, seconds)
            assert due >= previous, (start, seconds)  # monotonic in the amount
            previous = due
            if seconds > 0:
                # The due time is inside an open interval or exactly at its close.
                assert calendar.is_open(due - timedelta(microseconds=1)), (start, seconds)
                assert calendar.elapsed(due, calendar.add(due, 0)) == 0
        assert calendar.add(start, 0) == calendar.next_open(start)
        assert calendar.is_open(calendar.next_open(start))


@pytest.mark.parametrize("name", list(INVARIANT_CALENDARS))
def test_elapsed_is_additive_and_bounded(name: str) -> None:
    calendar = INVARIANT_CALENDARS[name]
    for first, second, third in zip(STARTS, STARTS[7:], STARTS[40:], strict=False):
        whole = calendar.elapsed(first, third)
        assert whole == pytest.approx(
            calendar.elapsed(first, second) + calendar.elapsed(second, third), abs=1e-6
        )
        assert 0 <= whole <= (third - first).total_seconds()
        assert calendar.elapsed(third, first) == 0.0
