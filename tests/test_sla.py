"""SLA clocks and notice plans: hand-computed histories on a 24x7 and on business calendars."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.calendar import AlwaysOpen, BusinessCalendar, Calendar, parse_days, parse_hours
from maild.durations import parse_duration
from maild.sla import (
    Escalation,
    EscalationLevel,
    Notice,
    Plan,
    Policy,
    clocks,
    next_update_at,
    plan,
)
from maild.tickets import event

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600.0
MINUTE = 60.0

ALWAYS = AlwaysOpen()
CN_OFFICE = BusinessCalendar(
    "cn-office", SHANGHAI, parse_days("mon-fri"), parse_hours("09:00-18:00"), "CN"
)
NY_OFFICE = BusinessCalendar(
    "ny-office", NEW_YORK, parse_days("mon-fri"), parse_hours("09:00-18:00"), "US"
)
NY_ALL_HOURS = BusinessCalendar(
    "ny-always", NEW_YORK, parse_days("mon-sun"), parse_hours("00:00-24:00")
)


def policy(
    calendar: Calendar,
    first: str = "2h",
    update: str = "1h",
    resolve: str = "8h",
    name: str = "urgent",
) -> Policy:
    return Policy(
        name=name,
        first_response=parse_duration(first),
        update_every=parse_duration(update),
        resolve=parse_duration(resolve),
        calendar=calendar,
    )


URGENT = policy(ALWAYS)  # first response 2h, updates every 1h, resolve 8h
GENERAL = policy(ALWAYS, first="8h", update="4h", resolve="5d", name="general")
ESCALATION = Escalation(
    warn_at=0.75,
    levels=(
        EscalationLevel(parse_duration("0m"), ("lead@example.com",)),
        EscalationLevel(parse_duration("2h"), ("manager@example.com",)),
        EscalationLevel(parse_duration("8h"), ("director@example.com",)),
    ),
)

T0 = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def h(hours: float) -> datetime:
    """T0 plus some hours (24x7 tests)."""
    return T0 + timedelta(hours=hours)


def sh(text: str) -> datetime:
    """A Shanghai wall-clock time as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- events, as maild records them ---------------------------------------------------------


def opened(at: datetime) -> dict:
    return event(at, "customer@example.com", "opened", rules=[])


def ack(at: datetime) -> dict:
    return event(at, "maild", "acknowledged")


def reply(at: datetime) -> dict:
    return event(at, "alice@support.example.com", "agent_reply")


def update_sent(at: datetime) -> dict:
    return event(at, "maild", "update_sent")


def status(at: datetime, old: str, new: str) -> dict:
    return event(at, "alice@support.example.com", "status", **{"from": old, "to": new})


def customer_wrote(at: datetime, waiting: bool = True) -> list[dict]:
    """A customer's message, as ingest records it: it resumes the clocks if we were waiting."""
    found = [event(at, "customer@example.com", "customer_message", message_id="<m@x>")]
    if waiting:
        found.append(status(at, "pending", "open"))
    return found


def change(at: datetime, what: str, old: str, new: str) -> dict:
    return event(at, "alice@support.example.com", what, **{"from": old, "to": new})


def notice(at: datetime, key: str) -> dict:
    return event(at, "maild", "notice", key=key, due=at.isoformat(), to=["lead@example.com"])


def keys(found: Plan) -> list[tuple[str, datetime]]:
    return [(n.key, n.at) for n in found.due]


# --- first response on 24x7 ----------------------------------------------------------------


def test_first_response_due_two_hours_after_opening_on_24x7() -> None:
    events = [opened(T0), ack(T0)]
    state = clocks(events, URGENT, h(0.5))
    first = state["first_response"]
    assert first.commitment == "first_response"
    assert first.target == 2 * HOUR
    assert first.consumed == 30 * MINUTE
    assert first.running is True
    assert first.stopped_at is None
    assert first.breached is False
    assert first.due_at == h(2)
    assert first.intervals == ((T0, None),)
    assert first.moment_at(1.5 * HOUR) == h(1.5)
    resolve = state["resolve"]
    assert resolve.target == 8 * HOUR
    assert resolve.consumed == 30 * MINUTE
    assert resolve.due_at == h(8)


def test_breach_begins_exactly_at_the_target() -> None:
    events = [opened(T0)]
    assert clocks(events, URGENT, h(2) - timedelta(seconds=1))["first_response"].breached is False
    at_target = clocks(events, URGENT, h(2))["first_response"]
    assert at_target.consumed == 2 * HOUR
    assert at_target.breached is True
    assert at_target.running is True  # breached, but still owed
    assert clocks(events, URGENT, h(30))["first_response"].consumed == 30 * HOUR


def test_events_after_now_are_ignored() -> None:
    events = [opened(T0), reply(h(1)), status(h(2), "open", "resolved")]
    state = clocks(events, URGENT, h(0.5))
    assert state["first_response"].running is True
    assert state["first_response"].stopped_at is None
    assert state["resolve"].running is True


# --- first response on business calendars --------------------------------------------------


def test_business_opened_friday_afternoon_is_due_monday_morning() -> None:
    office = policy(CN_OFFICE)
    start = sh("2026-05-15 17:00")  # Friday
    first = clocks([opened(start)], office, start)["first_response"]
    assert first.due_at == sh("2026-05-18 10:00")  # 1 h on Friday, 1 h on Monday
    assert first.due_at == utc("2026-05-18 02:00")
    # Over the weekend nothing is counted: still 1 h consumed on Sunday night.
    sunday = clocks([opened(start)], office, sh("2026-05-17 23:00"))["first_response"]
    assert sunday.consumed == 1 * HOUR
    assert sunday.running is True
    assert sunday.breached is False


def test_business_opened_on_saturday_counts_from_monday_nine() -> None:
    office = policy(CN_OFFICE)
    start = sh("2026-05-16 10:00")  # Saturday
    first = clocks([opened(start)], office, sh("2026-05-18 09:30"))["first_response"]
    assert first.due_at == sh("2026-05-18 11:00")
    assert first.consumed == 30 * MINUTE


def test_business_golden_week_is_skipped_and_make_up_saturday_counts() -> None:
    # National Day 2026: 1-7 October off, Saturday 10 October a make-up working day (调休).
    assert [CN_OFFICE.is_working_day(date(2026, 10, d)) for d in range(1, 11)] == [
        False, False, False, False, False, False, False, True, True, True,
    ]  # fmt: skip
    assert date(2026, 10, 10).weekday() == 5  # a Saturday
    start = sh("2026-09-30 17:00")  # Wednesday, the last working day before the holiday
    # 8 h: 1 h on 30 September, then 7 h on Thursday 8 October.
    office = policy(CN_OFFICE, first="8h", resolve="3d")
    state = clocks([opened(start)], office, start)
    assert state["first_response"].due_at == sh("2026-10-08 16:00")
    # 3 working days = 27 h: 1 h (30 Sep) + 9 h (8 Oct) + 9 h (9 Oct) + 8 h on Saturday 10 Oct.
    assert state["resolve"].target == 27 * HOUR
    assert state["resolve"].due_at == sh("2026-10-10 17:00")
    assert CN_OFFICE.elapsed(start, state["resolve"].due_at) == 27 * HOUR
    # A ticket opened on the make-up Saturday is counted from that Saturday.
    saturday = sh("2026-10-10 09:00")
    assert clocks([opened(saturday)], office, saturday)["first_response"].due_at == sh(
        "2026-10-10 17:00"
    )


# --- pausing while waiting on the customer -------------------------------------------------


def test_pending_pauses_both_clocks_on_24x7_and_a_reply_resumes_them() -> None:
    events = [opened(T0), ack(T0), status(h(0.5), "new", "pending")]
    paused = clocks(events, URGENT, h(2))
    for clock in paused.values():
        assert clock.running is False
        assert clock.consumed == 30 * MINUTE
        assert clock.stopped_at is None  # paused, not stopped
        assert clock.breached is False
        assert clock.due_at is None  # paused short of the target: no due moment
        assert clock.intervals == ((T0, h(0.5)),)
    assert paused["first_response"].moment_at(20 * MINUTE) == h(1 / 3)  # reached before the pause
    events += customer_wrote(h(3.5))  # 3 h of waiting
    resumed = clocks(events, URGENT, h(4))
    first = resumed["first_response"]
    assert first.running is True
    assert first.consumed == 1 * HOUR
    assert first.intervals == ((T0, h(0.5)), (h(3.5), None))
    assert first.due_at == h(5)  # 2 h + 3 h
    assert resumed["resolve"].due_at == h(11)  # 8 h + 3 h


def test_customer_message_without_status_change_does_not_resume() -> None:
    events = [opened(T0), status(h(0.5), "new", "pending"), *customer_wrote(h(1), waiting=False)]
    first = clocks(events, URGENT, h(4))["first_response"]
    assert first.running is False
    assert first.consumed == 30 * MINUTE


def test_pending_on_business_calendar_moves_due_by_the_business_time_between() -> None:
    office = policy(CN_OFFICE)
    start = sh("2026-05-18 10:00")  # Monday; due 12:00 if nothing happens
    assert clocks([opened(start)], office, start)["first_response"].due_at == sh("2026-05-18 12:00")
    paused_at, resumed_at = sh("2026-05-18 11:00"), sh("2026-05-19 10:00")
    events = [opened(start), status(paused_at, "new", "pending"), *customer_wrote(resumed_at)]
    first = clocks(events, office, sh("2026-05-19 10:30"))["first_response"]
    assert first.consumed == 1.5 * HOUR
    # 23 h on the wall, but only 8 business hours (Mon 11-18, Tue 9-10): due Tue 11:00.
    assert CN_OFFICE.elapsed(paused_at, resumed_at) == 8 * HOUR
    assert first.due_at == sh("2026-05-19 11:00")
    assert CN_OFFICE.elapsed(sh("2026-05-18 12:00"), first.due_at) == 8 * HOUR


def test_pending_during_closed_hours_moves_nothing_on_business_calendar() -> None:
    office = policy(CN_OFFICE)
    start = sh("2026-05-15 17:00")  # Friday
    events = [
        opened(start),
        status(sh("2026-05-15 18:30"), "new", "pending"),  # after closing
        *customer_wrote(sh("2026-05-16 12:00")),  # Saturday
    ]
    first = clocks(events, office, sh("2026-05-18 09:00"))["first_response"]
    assert first.consumed == 1 * HOUR
    assert first.due_at == sh("2026-05-18 10:00")  # as if it had never paused
    # Paused at 17:30 instead, the half hour to closing is lost to the pause.
    events[1] = status(sh("2026-05-15 17:30"), "new", "pending")
    assert clocks(events, office, sh("2026-05-18 09:00"))["first_response"].due_at == sh(
        "2026-05-18 10:30"
    )


# --- agent reply, resolve, reopen ----------------------------------------------------------


def test_agent_reply_in_time_stops_first_response_for_good() -> None:
    events = [opened(T0), ack(T0), reply(h(1.5)), status(h(1.5), "new", "open")]
    state = clocks(events, URGENT, h(5))
    first = state["first_response"]
    assert first.running is False
    assert first.stopped_at == h(1.5)
    assert first.consumed == 1.5 * HOUR
    assert first.breached is False
    assert first.due_at is None  # never reached
    resolve = state["resolve"]
    assert resolve.running is True
    assert resolve.stopped_at is None
    assert resolve.consumed == 5 * HOUR
    # Later pauses and resumes do not start it again.
    events += [status(h(6), "open", "pending"), *customer_wrote(h(7))]
    later = clocks(events, URGENT, h(8))
    assert later["first_response"].running is False
    assert later["first_response"].stopped_at == h(1.5)
    assert later["first_response"].consumed == 1.5 * HOUR
    assert later["resolve"].consumed == 7 * HOUR


def test_agent_reply_after_the_target_is_a_breach() -> None:
    first = clocks([opened(T0), reply(h(3))], URGENT, h(5))["first_response"]
    assert first.running is False
    assert first.stopped_at == h(3)
    assert first.consumed == 3 * HOUR
    assert first.breached is True
    assert first.due_at == h(2)


def test_agent_reply_while_pending_fulfils_first_response() -> None:
    events = [opened(T0), status(h(0.5), "new", "pending"), reply(h(1))]
    first = clocks(events, URGENT, h(2))["first_response"]
    assert first.running is False
    assert first.stopped_at == h(1)  # fulfilled by the reply, though the clock was paused
    assert first.consumed == 30 * MINUTE
    events += customer_wrote(h(3))
    resumed = clocks(events, URGENT, h(4))
    assert resumed["first_response"].running is False
    assert resumed["first_response"].stopped_at == h(1)
    assert resumed["resolve"].running is True


def test_resolved_stops_resolve_and_reopen_resumes_with_time_kept() -> None:
    events = [opened(T0), reply(h(1)), status(h(3), "open", "resolved")]
    done = clocks(events, URGENT, h(10))["resolve"]
    assert done.running is False
    assert done.stopped_at == h(3)
    assert done.consumed == 3 * HOUR
    assert done.breached is False
    assert done.due_at is None
    events.append(status(h(20), "resolved", "open"))  # reopened
    again = clocks(events, URGENT, h(22))
    resolve = again["resolve"]
    assert resolve.running is True
    assert resolve.stopped_at is None
    assert resolve.consumed == 5 * HOUR
    assert resolve.intervals == ((T0, h(3)), (h(20), None))
    assert resolve.due_at == h(25)  # 3 h before the resolve, the other 5 h after the reopen
    assert again["first_response"].running is False  # the reply still counts
    assert again["first_response"].stopped_at == h(1)


def test_resolved_without_reply_stops_first_response_too() -> None:
    events = [opened(T0), status(h(3), "new", "resolved")]
    first = clocks(events, URGENT, h(10))["first_response"]
    assert first.running is False
    assert first.stopped_at == h(3)
    assert first.breached is True
    events.append(status(h(5), "resolved", "open"))
    reopened = clocks(events, URGENT, h(6))["first_response"]
    assert reopened.running is True
    assert reopened.stopped_at is None
    assert reopened.consumed == 4 * HOUR


def test_resolved_while_pending_is_stopped_not_paused() -> None:
    events = [opened(T0), status(h(1), "new", "pending"), status(h(5), "pending", "resolved")]
    resolve = clocks(events, URGENT, h(10))["resolve"]
    assert resolve.running is False
    assert resolve.consumed == 1 * HOUR
    assert resolve.stopped_at == h(5)


def test_closed_after_resolved_keeps_the_first_stop() -> None:
    events = [
        opened(T0),
        reply(h(1)),
        status(h(3), "open", "resolved"),
        status(h(30), "resolved", "closed"),
    ]
    resolve = clocks(events, URGENT, h(40))["resolve"]
    assert resolve.stopped_at == h(3)
    assert resolve.consumed == 3 * HOUR


# --- plan: warnings and escalations --------------------------------------------------------


def test_warning_falls_due_at_exactly_three_quarters_of_the_target() -> None:
    events = [opened(T0)]
    before = plan(events, URGENT, ESCALATION, h(1.5) - timedelta(seconds=1))
    assert before.due == ()
    assert before.next_check == h(1.5)
    found = plan(events, URGENT, ESCALATION, h(1.5))
    assert found.due == (Notice("first_response:warning", "warning", "first_response", 0, h(1.5)),)
    assert found.next_check == h(2)  # level 1, at the breach


def test_escalation_levels_at_breach_plus_two_and_plus_eight_hours() -> None:
    events = [opened(T0)]
    assert plan(events, URGENT, ESCALATION, h(2)).due[-1] == Notice(
        "first_response:level:1", "escalation", "first_response", 1, h(2)
    )
    assert plan(events, URGENT, ESCALATION, h(4)).due[-1] == Notice(
        "first_response:level:2", "escalation", "first_response", 2, h(4)
    )
    assert plan(events, URGENT, ESCALATION, h(10)).due[-1] == Notice(
        "first_response:level:3", "escalation", "first_response", 3, h(10)
    )
    # Simulate a sweep that sends everything the moment it falls due.
    sent: list[tuple[str, datetime]] = []
    now: datetime | None = T0
    for _ in range(20):  # bounded: a next_check that did not move on would loop forever
        if now is None:
            break
        found = plan(events, URGENT, ESCALATION, now)
        for n in found.due:
            sent.append((n.key, n.at))
            events.append(notice(now, n.key))
        assert plan(events, URGENT, ESCALATION, now).due == ()  # nothing is due twice
        now = found.next_check
    assert sent == [
        ("first_response:warning", h(1.5)),
        ("first_response:level:1", h(2)),
        ("first_response:level:2", h(4)),
        ("resolve:warning", h(6)),
        ("resolve:level:1", h(8)),
        ("resolve:level:2", h(10)),  # same moment as the next: lower level first
        ("first_response:level:3", h(10)),
        ("resolve:level:3", h(16)),
    ]
    assert now is None  # all sent: nothing left to check


def test_catch_up_returns_every_missed_notice_in_order() -> None:
    events = [opened(T0), ack(T0)]
    found = plan(events, URGENT, ESCALATION, h(11), updates=False)
    assert keys(found) == [
        ("first_response:warning", h(1.5)),
        ("first_response:level:1", h(2)),
        ("first_response:level:2", h(4)),
        ("resolve:warning", h(6)),
        ("resolve:level:1", h(8)),
        ("resolve:level:2", h(10)),
        ("first_response:level:3", h(10)),
    ]
    kinds = ["warning", "escalation", "escalation", "warning", "escalation", "escalation"]
    assert [n.kind for n in found.due] == [*kinds, "escalation"]
    assert [n.level for n in found.due] == [0, 1, 2, 0, 1, 2, 3]
    assert found.next_check == h(16)  # resolve level 3


def test_notices_already_sent_are_not_due_again() -> None:
    events = [
        opened(T0),
        notice(h(1.5), "first_response:warning"),
        notice(h(2), "first_response:level:1"),
        notice(h(6), "resolve:warning"),
    ]
    found = plan(events, URGENT, ESCALATION, h(11))
    assert keys(found) == [
        ("first_response:level:2", h(4)),
        ("resolve:level:1", h(8)),
        ("resolve:level:2", h(10)),
        ("first_response:level:3", h(10)),
    ]
    assert found.next_check == h(16)


def test_a_paused_clock_has_no_next_check() -> None:
    events = [opened(T0), ack(T0), status(h(1), "new", "pending")]
    found = plan(events, URGENT, ESCALATION, h(5))
    assert found == Plan((), None)
    # Paused after the warning point: the warning is still due, but nothing comes next.
    late = [opened(T0), ack(T0), status(h(1.75), "new", "pending")]
    found = plan(late, URGENT, ESCALATION, h(5))
    assert keys(found) == [("first_response:warning", h(1.5))]
    assert found.next_check is None
    # Resumed: the thresholds come back, moved by the pause.
    late += customer_wrote(h(5))
    found = plan([*late, notice(h(5), "first_response:warning")], URGENT, ESCALATION, h(5))
    assert found.due == ()
    assert found.next_check == h(5.25)  # level 1: 15 min of the 2 h left; update due h(6)


def test_a_stopped_clock_sends_nothing_more() -> None:
    # Replied between the warning and the breach, and the warning was never sent (maild was
    # down): once the commitment is kept, a late warning or escalation would only be noise.
    events = [opened(T0), reply(h(1.75))]
    found = plan(events, URGENT, ESCALATION, h(30), updates=False)
    assert keys(found) == [
        ("resolve:warning", h(6)),
        ("resolve:level:1", h(8)),
        ("resolve:level:2", h(10)),
        ("resolve:level:3", h(16)),
    ]
    # Resolved (no reply) after 3 h: both clocks stopped, nothing due, nothing to check later.
    events = [opened(T0), status(h(3), "new", "resolved")]
    found = plan(events, URGENT, ESCALATION, h(40))
    assert keys(found) == []
    assert found.next_check is None
    # Replied one second before the breach: the warning only.
    events = [
        opened(T0),
        notice(h(1.5), "first_response:warning"),
        reply(h(2) - timedelta(seconds=1)),
    ]
    found = plan(events, URGENT, ESCALATION, h(3), updates=False)
    assert all(n.commitment != "first_response" for n in found.due)
    assert found.next_check == h(6)  # resolve warning


def test_business_thresholds_skip_nights_and_weekends() -> None:
    office = policy(CN_OFFICE, first="2h", resolve="3d")
    start = sh("2026-05-15 17:00")  # Friday
    found = plan([opened(start)], office, ESCALATION, sh("2026-05-18 13:00"), updates=False)
    assert keys(found) == [
        ("first_response:warning", sh("2026-05-18 09:30")),
        ("first_response:level:1", sh("2026-05-18 10:00")),
        ("first_response:level:2", sh("2026-05-18 12:00")),
    ]
    # Level 3 is 8 business hours after the breach: Monday 10:00 + 8 h = 18:00, the close.
    # (The resolve warning, 20.25 h of 27 h, is not until Wednesday 10:15.)
    assert found.next_check == sh("2026-05-18 18:00")
    found = plan([opened(start)], office, ESCALATION, sh("2026-05-19 09:00"), updates=False)
    assert keys(found)[-1] == ("first_response:level:3", sh("2026-05-18 18:00"))
    assert found.next_check == sh("2026-05-20 10:15")


# --- plan: progress updates ----------------------------------------------------------------


def test_update_due_one_interval_after_the_acknowledgement() -> None:
    events = [opened(T0), ack(T0)]
    assert next_update_at(events, URGENT, h(0.5)) == h(1)
    early = plan(events, URGENT, ESCALATION, h(0.5))
    assert early == Plan((), h(1))  # the update comes before the warning at 1h30
    found = plan(events, URGENT, ESCALATION, h(1))
    assert found.due == (Notice("update", "update", "update", 0, h(1)),)
    assert found.next_check == h(1.5)
    # Catching up later: one update (not one per missed hour), in time order with the rest.
    late = plan(events, URGENT, ESCALATION, h(2.5))
    assert keys(late) == [
        ("update", h(1)),
        ("first_response:warning", h(1.5)),
        ("first_response:level:1", h(2)),
    ]


def test_contact_since_pushes_the_update() -> None:
    events = [opened(T0), ack(T0), reply(h(0.75))]
    assert next_update_at(events, URGENT, h(1)) == h(1.75)
    events.append(update_sent(h(1.75)))
    assert next_update_at(events, URGENT, h(2)) == h(2.75)
    found = plan(events, URGENT, ESCALATION, h(2), updates=True)
    assert found.due == ()
    assert found.next_check == h(2.75)  # first response is answered; resolve warning at 6 h


def test_no_updates_while_pending_or_resolved() -> None:
    events = [opened(T0), ack(T0), status(h(0.25), "new", "pending")]
    assert next_update_at(events, URGENT, h(5)) is None
    assert plan(events, URGENT, ESCALATION, h(5)) == Plan((), None)
    events += customer_wrote(h(3))  # resumed: the interval counts from the resumption
    assert next_update_at(events, URGENT, h(3)) == h(4)
    resolved = [opened(T0), ack(T0), reply(h(0.5)), status(h(0.5), "new", "resolved")]
    assert next_update_at(resolved, URGENT, h(5)) is None
    assert plan(resolved, URGENT, ESCALATION, h(5)) == Plan((), None)
    resolved.append(status(h(10), "resolved", "open"))  # reopened
    assert next_update_at(resolved, URGENT, h(10)) == h(11)


def test_contact_while_pending_counts_only_from_the_resumption() -> None:
    events = [
        opened(T0),
        ack(T0),
        status(h(0.5), "new", "pending"),
        reply(h(2)),
        *customer_wrote(h(2.5)),
    ]
    assert next_update_at(events, URGENT, h(2.5)) == h(3.5)


def test_no_updates_before_any_contact() -> None:
    assert next_update_at([opened(T0)], URGENT, h(5)) is None


def test_updates_false_gives_no_update_and_no_update_check() -> None:
    events = [opened(T0), ack(T0), reply(h(0.25))]
    assert plan(events, URGENT, ESCALATION, h(0.5), updates=True).next_check == h(1.25)
    quiet = plan(events, URGENT, ESCALATION, h(0.5), updates=False)
    assert quiet == Plan((), h(6))  # resolve warning
    assert all(
        n.kind != "update" for n in plan(events, URGENT, ESCALATION, h(7), updates=False).due
    )


@pytest.mark.parametrize("every", ["4h", "1d", "30m"])
def test_business_updates_never_fall_at_night_or_on_a_weekend(every: str) -> None:
    office = policy(CN_OFFICE, update=every)
    interval = office.seconds(office.update_every)
    # Every 37 minutes through two weeks that include Golden Week and its make-up Saturday.
    start = sh("2026-09-28 00:00")
    for step in range(0, 14 * 24 * 60, 37):
        contact = start + timedelta(minutes=step)
        update = next_update_at([opened(contact), ack(contact)], office, contact)
        assert update is not None
        local = update.astimezone(SHANGHAI)
        assert CN_OFFICE.is_working_day(local.date()), (contact, local)
        assert time(9) < local.time() <= time(18), (contact, local)
        assert CN_OFFICE.elapsed(contact, update) == interval


def test_business_update_after_friday_evening_ack_is_monday() -> None:
    office = policy(CN_OFFICE, update="4h")
    contact = sh("2026-05-15 16:00")  # Friday
    assert next_update_at([opened(contact), ack(contact)], office, contact) == sh(
        "2026-05-18 11:00"
    )


# --- policy changes ------------------------------------------------------------------------


def test_general_to_urgent_after_three_hours_makes_level_one_due_at_once() -> None:
    events = [opened(T0), change(h(3), "priority", "general", "urgent")]
    assert plan(events[:1], GENERAL, ESCALATION, h(3)) == Plan((), h(6))  # general warning
    found = plan(events, URGENT, ESCALATION, h(3))
    assert keys(found) == [
        ("first_response:warning", h(1.5)),
        ("first_response:level:1", h(2)),
    ]
    assert found.next_check == h(4)  # level 2 under urgent


def test_general_to_urgent_keeps_a_warning_the_urgent_policy_had_reached() -> None:
    events = [
        opened(T0),
        notice(h(6), "first_response:warning"),  # general's warning: 6 h of 8 h
        change(h(7), "priority", "general", "urgent"),
    ]
    found = plan(events, URGENT, ESCALATION, h(7))
    assert keys(found) == [
        ("first_response:level:1", h(2)),
        ("first_response:level:2", h(4)),
        ("resolve:warning", h(6)),
    ]
    assert found.next_check == h(8)  # urgent resolve level 1, before first-response level 3


def test_urgent_to_general_forgets_the_escalation_and_fires_again_on_the_new_breach() -> None:
    events = [
        opened(T0),
        notice(h(1.5), "first_response:warning"),
        notice(h(2), "first_response:level:1"),
        change(h(3), "priority", "urgent", "general"),
    ]
    found = plan(events, GENERAL, ESCALATION, h(3))
    assert found == Plan((), h(6))
    found = plan(events, GENERAL, ESCALATION, h(6))
    assert keys(found) == [("first_response:warning", h(6))]
    events.append(notice(h(6), "first_response:warning"))
    assert plan(events, GENERAL, ESCALATION, h(7)) == Plan((), h(8))
    found = plan(events, GENERAL, ESCALATION, h(8))
    assert found.due == (Notice("first_response:level:1", "escalation", "first_response", 1, h(8)),)
    assert found.next_check == h(10)


def test_category_change_keeps_notices_reached_under_the_new_policy() -> None:
    events = [
        opened(T0),
        notice(h(1.5), "first_response:warning"),
        notice(h(2), "first_response:level:1"),
        change(h(3), "category", "general", "billing"),  # same (urgent) policy
    ]
    found = plan(events, URGENT, ESCALATION, h(3))
    assert found == Plan((), h(4))


def test_changing_back_remembers_what_the_restored_policy_had_reached() -> None:
    events = [
        opened(T0),
        notice(h(2), "first_response:warning"),
        notice(h(2), "first_response:level:1"),
        change(h(3), "priority", "urgent", "general"),
        change(h(4), "priority", "general", "urgent"),
    ]
    found = plan(events, URGENT, ESCALATION, h(4))
    assert keys(found) == [("first_response:level:2", h(4))]


# --- DST ---------------------------------------------------------------------------------


def test_new_york_business_ticket_across_spring_forward() -> None:
    office = policy(NY_OFFICE, update="4h", resolve="3d")
    start = ny("2026-03-06 17:00")  # Friday, EST (UTC-5)
    assert start == utc("2026-03-06 22:00")
    # 2026-03-08: clocks go forward; Monday 9 March is EDT (UTC-4).
    first = clocks([opened(start), ack(start)], office, start)["first_response"]
    assert first.due_at == ny("2026-03-09 10:00")
    assert first.due_at == utc("2026-03-09 14:00")  # not 15:00: the offset changed
    found = plan([opened(start), ack(start)], office, ESCALATION, ny("2026-03-09 12:30"))
    assert keys(found) == [
        ("first_response:warning", utc("2026-03-09 13:30")),  # 09:30 EDT
        ("first_response:level:1", utc("2026-03-09 14:00")),
        ("update", utc("2026-03-09 16:00")),  # 4 h after Friday 17:00: Monday 12:00 EDT
        ("first_response:level:2", utc("2026-03-09 16:00")),
    ]
    assert found.next_check == ny("2026-03-09 18:00")  # level 3: Mon 10:00 + 8 h business
    assert found.next_check == utc("2026-03-09 22:00")


def test_counted_time_is_real_time_across_the_spring_forward_gap() -> None:
    office = policy(NY_ALL_HOURS, resolve="8h")
    start = ny("2026-03-08 00:00")  # the night the clocks skip 02:00-03:00
    resolve = clocks([opened(start)], office, start)["resolve"]
    assert resolve.due_at == utc("2026-03-08 13:00")  # 8 real hours: 09:00 EDT, not 08:00
    assert resolve.due_at == ny("2026-03-08 09:00")


def test_an_update_due_at_closing_time_goes_within_one_sweep_or_next_morning() -> None:
    """Opened Monday 09:00 with updates every working day: due Monday 18:00, the closing
    instant. A sweep within a minute sends it; later than that it waits for Tuesday 09:00."""
    office = policy(CN_OFFICE, first="8h", update="1d", resolve="5d", name="general")
    opened = sh("2026-05-11 09:00")
    events = [event(opened, "c@example.com", "opened"), event(opened, "maild", "acknowledged")]
    assert next_update_at(events, office, opened) == sh("2026-05-11 18:00")
    nobody = Escalation(0.75, ())

    def update_due(now: datetime) -> bool:
        return any(n.kind == "update" for n in plan(events, office, nobody, now).due)

    assert update_due(sh("2026-05-11 18:00")) and update_due(sh("2026-05-11 18:01"))
    late = plan(events, office, nobody, sh("2026-05-11 18:05"))
    assert [n.kind for n in late.due] == ["warning"]  # staff are warned whatever the hour
    assert late.next_check == sh("2026-05-12 09:00")
    assert update_due(sh("2026-05-12 09:00"))
