"""Report periods and the digest's schedule: answers worked out by hand from a calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.periods import (
    Period,
    month_of,
    parse_period,
    reported_at,
    slot_after,
    slot_before,
    week_of,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY, TUESDAY = 0, 1


def local(text: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def hours(period: Period) -> float:
    """Real (UTC) length: subtracting two times of the same zone would give wall-clock time."""
    return (period.end.astimezone(UTC) - period.start.astimezone(UTC)).total_seconds() / 3600


# --- weeks ------------------------------------------------------------------------------------


def test_week_is_monday_midnight_to_next_monday_midnight_local() -> None:
    # 2026-11-18 is a Wednesday in ISO week 47, whose Monday is 2026-11-16.
    week = week_of(local("2026-11-18T15:00"), SHANGHAI)
    assert week.kind == "week"
    assert week.label == "2026-W47"
    assert week.start == local("2026-11-16T00:00")
    assert week.end == local("2026-11-23T00:00")
    assert week.start.utcoffset() == timedelta(hours=8)


def test_week_boundaries_are_read_in_the_zone() -> None:
    # Sunday 2026-11-15 16:00 UTC is Monday 00:00 in Shanghai: already week 47 there,
    # though still week 46 in UTC; one second earlier is Sunday 23:59:59 local, week 46.
    monday_midnight = datetime(2026, 11, 15, 16, 0, tzinfo=UTC)
    assert week_of(monday_midnight, SHANGHAI).label == "2026-W47"
    assert week_of(monday_midnight - timedelta(seconds=1), SHANGHAI).label == "2026-W46"
    assert week_of(monday_midnight, ZoneInfo("UTC")).label == "2026-W46"
    # The next Monday 00:00 local belongs to the next week (the end is exclusive).
    assert week_of(local("2026-11-23T00:00"), SHANGHAI).label == "2026-W48"
    assert week_of(local("2026-11-22T23:59:59"), SHANGHAI).label == "2026-W47"


def test_2026_has_53_iso_weeks_and_w53_runs_into_2027() -> None:
    # A year has 53 ISO weeks when 28 December falls in week 53; 2026-12-31 is a Thursday.
    assert date(2026, 12, 28).isocalendar()[:2] == (2026, 53)
    week = week_of(local("2027-01-02T12:00"), SHANGHAI)  # a Saturday in 2027
    assert week.label == "2026-W53"  # labelled by the ISO year, not the calendar year
    assert week.start == local("2026-12-28T00:00")
    assert week.end == local("2027-01-04T00:00")
    following = week_of(week.end, SHANGHAI)
    assert following.label == "2027-W01"
    assert following.previous() == week
    assert parse_period("2026-W53", SHANGHAI) == week


def test_week_01_can_start_in_the_previous_calendar_year() -> None:
    # 2026-01-01 is a Thursday, so ISO week 1 of 2026 starts Monday 2025-12-29.
    week = week_of(local("2025-12-30T10:00"), SHANGHAI)
    assert week.label == "2026-W01"
    assert week.start == local("2025-12-29T00:00")
    assert week.previous().label == "2025-W52"


def test_week_lengths_across_daylight_saving_time() -> None:
    # New York springs forward on Sunday 2026-03-08 (that week is an hour short) and falls
    # back on Sunday 2026-11-01 (an hour long); Shanghai has no DST: always 168 h.
    spring = week_of(local("2026-03-04T12:00", NEW_YORK), NEW_YORK)
    assert (spring.label, spring.start, spring.end) == (
        "2026-W10",
        local("2026-03-02T00:00", NEW_YORK),
        local("2026-03-09T00:00", NEW_YORK),
    )
    assert hours(spring) == 167
    autumn = week_of(local("2026-10-28T12:00", NEW_YORK), NEW_YORK)
    assert autumn.label == "2026-W44"
    assert hours(autumn) == 169
    assert autumn.end.astimezone(UTC) == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # EST, -5
    assert autumn.start.astimezone(UTC) == datetime(2026, 10, 26, 4, 0, tzinfo=UTC)  # EDT, -4
    for moment in ("2026-03-04T12:00", "2026-10-28T12:00"):
        assert hours(week_of(local(moment), SHANGHAI)) == 168


def test_previous_week_across_dst_is_still_midnight_to_midnight() -> None:
    after = parse_period("2026-W11", NEW_YORK)  # 2026-03-09 .. 2026-03-16, all EDT
    before = after.previous()
    assert before.label == "2026-W10"
    assert before.start == local("2026-03-02T00:00", NEW_YORK)
    assert before.end == after.start
    assert [p.label for p in after.history(3)] == ["2026-W10", "2026-W09", "2026-W08"]


# --- months -----------------------------------------------------------------------------------


def test_month_boundaries() -> None:
    november = month_of(local("2026-11-30T23:59:59"), SHANGHAI)
    assert november.kind == "month"
    assert november.label == "2026-11"
    assert (november.start, november.end) == (local("2026-11-01T00:00"), local("2026-12-01T00:00"))
    assert month_of(local("2026-12-01T00:00"), SHANGHAI).label == "2026-12"
    # 2026-11-30 16:00 UTC is 2026-12-01 00:00 in Shanghai.
    assert month_of(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), SHANGHAI).label == "2026-12"
    assert month_of(datetime(2026, 11, 30, 15, 59, tzinfo=UTC), SHANGHAI).label == "2026-11"
    february = month_of(local("2028-02-10T00:00"), SHANGHAI)  # 2028 is a leap year
    assert february.end == local("2028-03-01T00:00")
    assert hours(february) == 29 * 24


def test_previous_months_cross_the_year_boundary() -> None:
    january = parse_period("2027-01", SHANGHAI)
    assert january.previous().label == "2026-12"
    assert january.previous(13).label == "2025-12"
    assert [p.label for p in january.history(4)] == ["2026-12", "2026-11", "2026-10", "2026-09"]
    assert january.previous().end == january.start


def test_month_length_in_new_york_dst() -> None:
    # March 2026 in New York loses an hour (31 days - 1 h); November gains one.
    assert hours(parse_period("2026-03", NEW_YORK)) == 31 * 24 - 1
    assert hours(parse_period("2026-11", NEW_YORK)) == 30 * 24 + 1


# --- labels -----------------------------------------------------------------------------------


def test_parse_period_labels() -> None:
    week = parse_period(" 2026-W47 ", SHANGHAI)
    assert week == week_of(local("2026-11-16T00:00"), SHANGHAI)
    month = parse_period("2026-11", SHANGHAI)
    assert (month.kind, month.start) == ("month", local("2026-11-01T00:00"))


@pytest.mark.parametrize(
    ("label", "says"),
    [
        ("2025-W53", "2025 has no ISO week 53"),  # 2025 has 52 weeks
        ("2026-W00", "no ISO week 0"),
        ("2026-13", "is not a week like 2026-W47"),
        ("2026-00", "is not a week like 2026-W47"),
        ("2026-W7", "is not a week like 2026-W47"),
        ("last week", "is not a week like 2026-W47"),
    ],
)
def test_parse_period_rejects(label: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_period(label, SHANGHAI)


# --- the schedule -----------------------------------------------------------------------------


def test_weekly_slot_on_and_around_monday_nine() -> None:
    slot = local("2026-11-23T09:00")  # a Monday
    # Exactly at the slot: that is the slot before (at or before) and the next is a week on.
    assert slot_before("week", slot, MONDAY, 9, SHANGHAI) == slot
    assert slot_after("week", slot, MONDAY, 9, SHANGHAI) == local("2026-11-30T09:00")
    # A second earlier: the slot before is last Monday's, the slot after is this one.
    earlier = slot - timedelta(seconds=1)
    assert slot_before("week", earlier, MONDAY, 9, SHANGHAI) == local("2026-11-16T09:00")
    assert slot_after("week", earlier, MONDAY, 9, SHANGHAI) == slot
    # Midweek, and given in UTC (Wednesday 2026-11-25 02:00 UTC is 10:00 local).
    wednesday = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
    assert slot_before("week", wednesday, MONDAY, 9, SHANGHAI) == slot
    assert slot_after("week", wednesday, MONDAY, 9, SHANGHAI) == local("2026-11-30T09:00")
    # Monday 01:00 UTC is 09:00 Shanghai: exactly the slot, whatever zone `now` is given in.
    assert slot_before("week", datetime(2026, 11, 23, 1, 0, tzinfo=UTC), MONDAY, 9, SHANGHAI) == (
        slot
    )


def test_weekly_slot_on_another_weekday() -> None:
    # Tuesday 08:00 slots; on Monday 2026-11-23 the last one was Tuesday 2026-11-17.
    now = local("2026-11-23T12:00")
    assert slot_before("week", now, TUESDAY, 8, SHANGHAI) == local("2026-11-17T08:00")
    assert slot_after("week", now, TUESDAY, 8, SHANGHAI) == local("2026-11-24T08:00")


def test_monthly_slot_on_and_around_the_first() -> None:
    slot = local("2026-12-01T09:00")
    assert slot_before("month", slot, MONDAY, 9, SHANGHAI) == slot
    assert slot_after("month", slot, MONDAY, 9, SHANGHAI) == local("2027-01-01T09:00")
    earlier = local("2026-12-01T08:59:59")
    assert slot_before("month", earlier, MONDAY, 9, SHANGHAI) == local("2026-11-01T09:00")
    assert slot_after("month", earlier, MONDAY, 9, SHANGHAI) == slot
    # Early January: the slot before is 1 January, before that 1 December of the last year.
    assert slot_before("month", local("2027-01-01T08:00"), MONDAY, 9, SHANGHAI) == slot
    assert slot_after("month", local("2027-01-15T08:00"), MONDAY, 9, SHANGHAI) == (
        local("2027-02-01T09:00")
    )


def test_weekly_slot_across_new_york_dst_keeps_local_hour() -> None:
    # From a Thursday in EST (2026-03-05) the next Monday 09:00 is in EDT (2026-03-09).
    now = local("2026-03-05T12:00", NEW_YORK)
    after = slot_after("week", now, MONDAY, 9, NEW_YORK)
    assert after == local("2026-03-09T09:00", NEW_YORK)
    assert after.astimezone(UTC) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)  # EDT, -4
    assert slot_before("week", now, MONDAY, 9, NEW_YORK).astimezone(UTC) == datetime(
        2026, 3, 2, 14, 0, tzinfo=UTC
    )  # EST, -5


def test_weekly_edition_reports_the_week_that_ended_before_it() -> None:
    # Monday 2026-11-23 09:00 reports week 47 (16-23 November), which ended 9 hours earlier.
    week = reported_at("week", local("2026-11-23T09:00"), SHANGHAI)
    assert week.label == "2026-W47"
    assert week.end == local("2026-11-23T00:00")
    # A slot exactly at Monday 00:00 reports the week that ends at that moment.
    assert reported_at("week", local("2026-11-23T00:00"), SHANGHAI).label == "2026-W47"
    # A Tuesday slot still reports the last complete week, not the one running.
    assert reported_at("week", local("2026-11-24T08:00"), SHANGHAI).label == "2026-W47"
    # Monday 2027-01-04 09:00 reports 2026-W53.
    assert reported_at("week", local("2027-01-04T09:00"), SHANGHAI).label == "2026-W53"


def test_monthly_edition_reports_the_previous_month() -> None:
    assert reported_at("month", local("2026-12-01T09:00"), SHANGHAI).label == "2026-11"
    assert reported_at("month", local("2027-01-01T09:00"), SHANGHAI).label == "2026-12"
    # Given in UTC: 2026-12-01 01:00 UTC is 09:00 in Shanghai.
    november = reported_at("month", datetime(2026, 12, 1, 1, 0, tzinfo=UTC), SHANGHAI)
    assert (november.label, november.end) == ("2026-11", local("2026-12-01T00:00"))
