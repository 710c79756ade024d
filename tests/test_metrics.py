"""The digest's figures, worked out by hand from the definitions in maild/metrics.py.

Times are Asia/Shanghai (+08:00, no DST) unless said otherwise. The week under test is
2026-W47: Monday 2026-11-16 00:00 to Monday 2026-11-23 00:00 local. Most tickets use 24x7
policies, so counted time is wall-clock time: general 8h first response / 5d (120 h) resolution,
urgent 2h / 1d (24 h), important 4h / 3d; updates every 24 h on general.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from maild.clock import iso
from maild.config import Config, parse_config
from maild.metrics import (
    AgentLoad,
    Complainant,
    Compliance,
    LowScore,
    Metrics,
    age_bucket,
    measure,
    percentile,
    relevant,
)
from maild.periods import parse_period
from maild.tickets import event

SHANGHAI = ZoneInfo("Asia/Shanghai")
W46 = parse_period("2026-W46", SHANGHAI)  # 2026-11-09 .. 2026-11-16
W47 = parse_period("2026-W47", SHANGHAI)  # 2026-11-16 .. 2026-11-23
W48 = parse_period("2026-W48", SHANGHAI)  # 2026-11-23 .. 2026-11-30
HOUR = 3600.0

CUSTOMER = "customer@example.com"
ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@old.example.com"  # replied once, no longer in [agents]
SUPPORT_POLICIES = {
    "urgent": {"first_response": "2h", "update_every": "2h", "resolve": "1d", "calendar": "24x7"},
    "important": {
        "first_response": "4h",
        "update_every": "4h",
        "resolve": "3d",
        "calendar": "24x7",
    },
    "general": {
        "first_response": "8h",
        "update_every": "24h",
        "resolve": "5d",
        "calendar": "24x7",
    },
}


def make_config(**general: str) -> Config:
    """24x7 policies; `general` overrides keys of [sla.general] (e.g. calendar="office")."""
    return parse_config(
        {
            "support": {"address": "support@example.com", "timezone": "Asia/Shanghai"},
            "store": {"path": "/nonexistent/maild-metrics-test"},
            "intake": {"mode": "smtp", "listen": "127.0.0.1:2525"},
            "smtp": {"host": "localhost"},
            "calendars": {
                "office": {"timezone": "Asia/Shanghai", "days": "mon-fri", "hours": "09:00-18:00"}
            },
            "sla": {**SUPPORT_POLICIES, "general": {**SUPPORT_POLICIES["general"], **general}},
            "teams": {
                "billing": {"address": "billing@example.com", "categories": ["billing"]},
                "support": {"address": "help@example.com"},
            },
            "agents": {
                "alice": {"address": ALICE, "name": "Alice"},
                "bob": {"address": BOB, "name": "Bob"},
            },
            "security": {"trust_agent_mail": "always"},
        }
    )


CONFIG = make_config()


# --- building histories -----------------------------------------------------------------------


def at(text: str) -> datetime:
    """A local Shanghai time, "2026-11-16T10:00"; with an offset, that offset."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)


def ev(when: str, actor: str, action: str, **detail: Any) -> dict[str, Any]:
    return event(at(when), actor, action, **detail)


def status(when: str, before: str, after: str, actor: str = ALICE) -> dict[str, Any]:
    return ev(when, actor, "status", **{"from": before, "to": after})


def reply(when: str, agent: str = ALICE) -> dict[str, Any]:
    return ev(when, agent, "agent_reply", message_id=f"<{when}@{agent}>")


def first_reply(when: str, agent: str = ALICE, key: str | None = None) -> list[dict[str, Any]]:
    """What workflow.reply records the first time: the reply, new -> open, and the assignment."""
    events = [reply(when, agent), status(when, "new", "open", agent)]
    if key is not None:
        events.append(ev(when, agent, "assign", **{"from": None, "to": key}))
    return events


def notice(when: str, key: str) -> dict[str, Any]:
    return ev(when, "maild", "notice", key=key, due=iso(at(when)), to=["lead@example.com"])


def ticket(
    number: int,
    created: str,
    priority: str = "general",
    *events: dict[str, Any] | list[dict[str, Any]],
    category: str = "general",
    team: str | None = "support",
    until: str | None = None,
) -> dict[str, Any]:
    """A ticket dict as the store holds it: opened at `created`, then `events` (lists flatten);
    its fields are the values after its last event. `until` drops the events from that moment
    on, giving the ticket as it was then."""
    flat = [ev(created, CUSTOMER, "opened", rules=[])]
    for item in events:
        flat.extend(item if isinstance(item, list) else [item])
    times = [e["at"] for e in flat]
    assert times == sorted(times), f"ticket {number}: events out of order"
    if until is not None:
        flat = [e for e in flat if e["at"] < iso(at(until))]
    fields: dict[str, Any] = {
        "status": "new",
        "priority": priority,
        "category": category,
        "team": team,
        "assignee": None,
        "merged_into": None,
    }
    for e in flat:
        action, detail = e["action"], e["detail"]
        if action in ("status", "priority", "category"):
            fields[action] = detail["to"]
        elif action == "assign":
            fields["assignee"] = detail["to"]
        elif action == "merged" and "into" in detail:
            fields["merged_into"] = int(detail["into"].removeprefix("MD-"))
        if action == "category" and "team" in detail:
            fields["team"] = detail["team"]
    return {
        "number": number,
        "id": f"MD-{number}",
        "customer": CUSTOMER,
        "created_at": flat[0]["at"],
        "events": flat,
        **fields,
    }


def resolve(when: str, before: str = "open", actor: str = ALICE) -> dict[str, Any]:
    return status(when, before, "resolved", actor)


# --- percentiles and buckets ------------------------------------------------------------------


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 50) == percentile([7.0], 90) == 7.0
    ten = [float(n) for n in range(1, 11)]
    random.Random(4).shuffle(ten)
    # Nearest rank: the ceil(p/100 * n)-th smallest. 10 samples: median the 5th, p90 the 9th.
    assert percentile(ten, 50) == 5.0
    assert percentile(ten, 90) == 9.0
    # 11 samples: ceil(9.9) = 10th for p90, ceil(5.5) = 6th for the median.
    eleven = [float(n) for n in range(11, 0, -1)]
    assert (percentile(eleven, 50), percentile(eleven, 90)) == (6.0, 10.0)
    # An even count's median is the lower middle sample, never an average of two.
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 100) == 4.0


def test_age_buckets_are_half_open() -> None:
    day = 24 * HOUR
    assert age_bucket(0) == "<1d"
    assert age_bucket(day - 1) == "<1d"
    assert age_bucket(day) == "1-3d"
    assert age_bucket(3 * day) == "3-7d"
    assert age_bucket(7 * day) == "7-30d"
    assert age_bucket(30 * day - 1) == "7-30d"
    assert age_bucket(30 * day) == ">30d"


def test_an_empty_period_has_no_rates() -> None:
    empty = measure([], CONFIG, W47)
    assert (empty.opened, empty.backlog, empty.breaches, empty.agents) == (0, 0, [], [])
    assert empty.first_response_median_s is None and empty.resolution_p90_s is None
    assert empty.sla_compliance is None
    assert empty.reopen_rate is None
    assert empty.satisfaction_mean is None
    assert empty.satisfaction_distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert empty.compliance == {"first_response": Compliance(), "resolve": Compliance()}
    assert empty.compliance_by_priority == {}


# --- opened -----------------------------------------------------------------------------------


def test_opened_from_monday_midnight_inclusive_to_next_monday_exclusive() -> None:
    tickets = [
        ticket(1001, "2026-11-15T23:59:59"),  # Sunday, week 46
        ticket(1002, "2026-11-16T00:00:00"),  # Monday 00:00 local: the first instant of W47
        ticket(1003, "2026-11-22T23:59:59"),  # the last second of W47
        ticket(1004, "2026-11-23T00:00:00"),  # next Monday 00:00: week 48
        # Sunday 17:00 UTC is Monday 01:00 in Shanghai: week 47 there.
        ticket(1005, "2026-11-15T17:00:00+00:00", "urgent", category="billing", team="billing"),
        # Monday 15:59:59 UTC 2026-11-16 is still Monday 23:59:59 local: W47 too.
        ticket(1006, "2026-11-16T15:59:59+00:00", "important", team=None),
    ]
    week = measure(tickets, CONFIG, W47)
    assert week.opened == 4  # 1002, 1003, 1005, 1006
    assert week.opened_by_priority == Counter(general=2, urgent=1, important=1)
    assert week.opened_by_category == Counter(general=3, billing=1)
    assert week.opened_by_team == Counter({"support": 2, "billing": 1, "-": 1})  # "-": no team
    # Every ticket is opened in exactly one week.
    assert measure(tickets, CONFIG, W46).opened == 1  # 1001
    assert measure(tickets, CONFIG, W48).opened == 1  # 1004


def test_classification_is_the_one_at_the_period_end() -> None:
    tickets = [
        # Moved to billing (and the billing team) during the week: counted as billing.
        ticket(
            1001,
            "2026-11-16T10:00",
            "general",
            ev(
                "2026-11-17T10:00",
                ALICE,
                "category",
                **{"from": "general", "to": "billing"},
                team="billing",
            ),
            ev("2026-11-17T10:05", ALICE, "priority", **{"from": "general", "to": "important"}),
        ),
        # Moved after the week: counted as what it was then, general on the support team.
        ticket(
            1002,
            "2026-11-16T10:00",
            "general",
            ev(
                "2026-11-24T10:00",
                ALICE,
                "category",
                **{"from": "general", "to": "billing"},
                team="billing",
            ),
            ev("2026-11-24T10:05", ALICE, "priority", **{"from": "general", "to": "urgent"}),
        ),
    ]
    assert tickets[1]["category"] == "billing" and tickets[1]["team"] == "billing"
    week = measure(tickets, CONFIG, W47)
    assert week.opened_by_category == Counter(billing=1, general=1)
    assert week.opened_by_team == Counter(billing=1, support=1)
    assert week.opened_by_priority == Counter(important=1, general=1)
    assert week.backlog_by_priority == Counter(important=1, general=1)


# --- closed, resolved, reopened, closes by kind -----------------------------------------------


def test_closed_resolved_reopened_once_each() -> None:
    tickets = [
        # Resolved, reopened, resolved, closed, reopened, closed: all in W47.
        ticket(
            1001,
            "2026-11-10T10:00",
            "general",
            first_reply("2026-11-10T11:00"),
            resolve("2026-11-17T10:00"),
            ev("2026-11-18T10:00", CUSTOMER, "reopened"),
            status("2026-11-18T10:00", "resolved", "open", CUSTOMER),
            resolve("2026-11-19T10:00"),
            status("2026-11-20T10:00", "resolved", "closed"),
            ev("2026-11-21T10:00", CUSTOMER, "reopened"),
            status("2026-11-21T10:00", "closed", "open", CUSTOMER),
            status("2026-11-22T10:00", "open", "closed"),
        ),
        # Resolved in W46, closed by silence in W47: closed only.
        ticket(
            1002,
            "2026-11-09T10:00",
            "general",
            first_reply("2026-11-09T11:00"),
            resolve("2026-11-13T10:00"),
            status("2026-11-18T10:00", "resolved", "closed", "maild"),
        ),
        # Resolved and confirmed by the customer in W47.
        ticket(
            1003,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T11:00"),
            resolve("2026-11-17T10:00"),
            ev("2026-11-17T12:00", CUSTOMER, "confirmed"),
            status("2026-11-17T12:00", "resolved", "closed", CUSTOMER),
        ),
        # Resolved in W47, closed by silence only in W48.
        ticket(
            1004,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T11:00"),
            resolve("2026-11-22T10:00"),
            status("2026-11-27T10:00", "resolved", "closed", "maild"),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert (week.closed, week.resolved, week.reopened) == (3, 3, 1)  # closed 1001-1003
    assert week.reopen_rate == 1 / 3
    assert week.closes == Counter(agent=1, silence=1, confirmed=1)
    before = measure(tickets, CONFIG, W46)
    assert (before.closed, before.resolved, before.reopened) == (0, 1, 0)  # 1002 resolved
    after = measure(tickets, CONFIG, W48)
    assert (after.closed, after.resolved, after.reopened) == (1, 0, 0)  # 1004 by silence
    assert after.closes == Counter(silence=1)
    assert after.reopen_rate == 0.0


def test_closes_by_kind() -> None:
    def closed(number: int, *how: dict[str, Any]) -> dict[str, Any]:
        opened = "2026-11-16T10:00"
        return ticket(
            number,
            opened,
            "general",
            first_reply("2026-11-16T11:00"),
            resolve("2026-11-17T10:00"),
            *how,
        )

    tickets = [
        closed(
            1001,
            ev("2026-11-18T10:00", CUSTOMER, "confirmed"),
            status("2026-11-18T10:00", "resolved", "closed", CUSTOMER),
        ),
        closed(1002, status("2026-11-22T10:00", "resolved", "closed", "maild")),
        closed(1003, status("2026-11-18T10:00", "resolved", "closed", BOB)),
        closed(1004, status("2026-11-18T10:00", "resolved", "closed", ALICE)),
        # Confirmed and closed, reopened, then closed by silence: the last close is the one
        # that stands (and the ticket is closed once).
        closed(
            1005,
            ev("2026-11-17T12:00", CUSTOMER, "confirmed"),
            status("2026-11-17T12:00", "resolved", "closed", CUSTOMER),
            ev("2026-11-18T10:00", CUSTOMER, "reopened"),
            status("2026-11-18T10:00", "closed", "open", CUSTOMER),
            resolve("2026-11-18T12:00"),
            status("2026-11-22T12:00", "resolved", "closed", "maild"),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert week.closed == 5
    assert week.closes == Counter(confirmed=1, silence=2, agent=2)


# --- backlog ----------------------------------------------------------------------------------


def test_backlog_at_the_period_end_by_age_and_priority() -> None:
    # W47 ends 2026-11-23 00:00; ages are wall-clock from opening to then.
    tickets = [
        ticket(1001, "2026-11-22T12:00", "urgent"),  # 12 h: <1d
        ticket(1002, "2026-11-22T00:00"),  # exactly 1 day: 1-3d
        ticket(  # 3 days, waiting on the customer: still backlog, 3-7d
            1003, "2026-11-20T00:00", "general", status("2026-11-21T10:00", "new", "pending")
        ),
        ticket(1004, "2026-11-10T00:00", "important"),  # 13 days: 7-30d
        ticket(  # 53 days, resolved only after the week: backlog for W47, >30d
            1005, "2026-10-01T00:00", "general", resolve("2026-11-25T10:00", "new")
        ),
        ticket(1006, "2026-11-17T00:00", "general", resolve("2026-11-18T10:00", "new")),
        ticket(1007, "2026-10-20T00:00", "general", status("2026-11-01T10:00", "new", "closed")),
        ticket(  # merged: nowhere but opened and merged
            1008,
            "2026-11-16T00:00",
            "general",
            ev("2026-11-18T10:00", ALICE, "merged", into="MD-1002"),
            status("2026-11-18T10:00", "new", "closed"),
        ),
        ticket(1009, "2026-11-23T00:00"),  # not yet opened at the end
        ticket(  # resolved, then reopened: open at the end, 6 d 14 h old: 3-7d
            1010,
            "2026-11-16T10:00",
            "urgent",
            resolve("2026-11-19T10:00", "new"),
            ev("2026-11-21T10:00", CUSTOMER, "reopened"),
            status("2026-11-21T10:00", "resolved", "open", CUSTOMER),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert week.backlog == 6  # 1001-1005, 1010
    assert week.backlog_by_priority == Counter(urgent=2, general=3, important=1)
    assert week.backlog_age == {"<1d": 1, "1-3d": 1, "3-7d": 2, "7-30d": 1, ">30d": 1}
    # A week later (2026-11-30 00:00) 1005 is resolved and 1009 has joined; all six are
    # 7 to 30 days old (1009 exactly 7 days, 1001 7.5 days, 1004 20 days).
    later = measure(tickets, CONFIG, W48)
    assert later.backlog == 6  # 1001-1004, 1009, 1010
    assert later.backlog_age == {"<1d": 0, "1-3d": 0, "3-7d": 0, "7-30d": 6, ">30d": 0}


# --- merged -----------------------------------------------------------------------------------


def test_merged_tickets_count_as_opened_and_merged_only() -> None:
    tickets = [
        ticket(  # replied to, then merged into 1002 in W47
            1001,
            "2026-11-17T10:00",
            "general",
            first_reply("2026-11-17T11:00"),
            ev("2026-11-18T10:00", ALICE, "merged", into="MD-1002"),
            status("2026-11-18T10:00", "open", "closed"),
        ),
        ticket(  # the ticket the work continues on
            1002,
            "2026-11-17T09:00",
            "general",
            first_reply("2026-11-17T09:30"),
            ev("2026-11-18T10:00", ALICE, "merged", **{"from": "MD-1001"}),
            resolve("2026-11-19T09:30"),
        ),
        ticket(  # merged in W46: nothing in W47
            1003,
            "2026-11-10T10:00",
            "general",
            ev("2026-11-12T10:00", ALICE, "merged", into="MD-1002"),
            status("2026-11-12T10:00", "new", "closed"),
        ),
        ticket(  # merged only in W48: an ordinary open ticket in W47 (4 h, undecided)
            1004,
            "2026-11-22T20:00",
            "general",
            ev("2026-11-24T10:00", ALICE, "merged", into="MD-1002"),
            status("2026-11-24T10:00", "new", "closed"),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert (week.opened, week.merged) == (3, 1)  # 1001, 1002, 1004; 1001 merged
    assert (week.closed, week.resolved, week.backlog) == (0, 1, 1)  # 1002 resolved; 1004 open
    # 1002: first reply 30 min, resolved after 48 h 30 min; 1001's reply is not a sample.
    assert week.first_response_s == [0.5 * HOUR]
    assert week.resolution_s == [48.5 * HOUR]
    assert week.compliance == {
        "first_response": Compliance(met=1),
        "resolve": Compliance(met=1),
    }
    assert [(a.agent, a.handled, a.replies) for a in week.agents] == [("alice", 1, 1)]
    assert week.breaches == []
    before = measure(tickets, CONFIG, W46)
    assert (before.opened, before.merged, before.closed, before.backlog) == (1, 1, 0, 0)
    after = measure(tickets, CONFIG, W48)
    assert (after.opened, after.merged, after.closed, after.backlog) == (0, 1, 0, 0)


# --- response and resolution times ----------------------------------------------------------


def test_samples_percentiles_and_compliance_on_24x7() -> None:
    # Ten tickets opened Monday 08:00; ticket k is first answered after k hours and resolved
    # after 10k hours (at most 100 h, inside the week and under the 120 h target).
    opened = at("2026-11-16T08:00")
    tickets = []
    for k in range(1, 11):
        answered = (opened + timedelta(hours=k)).isoformat()
        resolved = (opened + timedelta(hours=10 * k)).isoformat()
        tickets.append(
            ticket(
                1000 + k, opened.isoformat(), "general", first_reply(answered), resolve(resolved)
            )
        )
    tickets.reverse()  # the order tickets come in does not matter
    week = measure(tickets, CONFIG, W47)
    assert sorted(week.first_response_s) == [k * HOUR for k in range(1, 11)]
    assert sorted(week.resolution_s) == [10 * k * HOUR for k in range(1, 11)]
    assert week.first_response_median_s == 5 * HOUR  # the 5th of 10
    assert week.first_response_p90_s == 9 * HOUR  # the 9th of 10
    assert week.resolution_median_s == 50 * HOUR
    assert week.resolution_p90_s == 90 * HOUR
    # Target 8 h: a reply after exactly 8 h reached it, so it is missed (with no overrun);
    # 9 h and 10 h overran by 1 h and 2 h, stopped.
    assert week.compliance == {
        "first_response": Compliance(met=7, missed=3),
        "resolve": Compliance(met=10, missed=0),
    }
    assert week.compliance_by_priority == {"general": Compliance(met=17, missed=3)}
    assert week.sla_compliance == 17 / 20
    assert [(b.ticket_id, b.overrun_s, b.still_open) for b in week.breaches] == [
        ("MD-1010", 2 * HOUR, False),
        ("MD-1009", 1 * HOUR, False),
        ("MD-1008", 0.0, False),
    ]
    assert week.breaches[0].breached_at == at("2026-11-16T16:00")
    assert week.breaches[0].target_s == 8 * HOUR


def test_pending_pauses_both_clocks() -> None:
    tickets = [
        ticket(
            1001,
            "2026-11-16T10:00",
            "general",
            status("2026-11-16T12:00", "new", "pending"),  # runs 10:00-12:00: 2 h
            ev("2026-11-17T12:00", CUSTOMER, "customer_message"),
            status("2026-11-17T12:00", "pending", "open", CUSTOMER),  # runs again
            reply("2026-11-17T15:00"),  # first response: 2 h + 3 h
            status("2026-11-17T15:00", "open", "pending"),  # paused again
            status("2026-11-18T09:00", "pending", "open", CUSTOMER),
            resolve("2026-11-18T12:00"),  # resolution: 2 h + 3 h + 3 h
        )
    ]
    week = measure(tickets, CONFIG, W47)
    assert week.first_response_s == [5 * HOUR]  # 29 h of wall-clock time
    assert week.resolution_s == [8 * HOUR]  # 50 h of wall-clock time
    assert week.compliance == {"first_response": Compliance(met=1), "resolve": Compliance(met=1)}


def test_first_response_in_working_hours_on_a_business_calendar() -> None:
    office = make_config(calendar="office")  # Asia/Shanghai, Mon-Fri 09:00-18:00: 1d = 9 h
    tickets = [
        ticket(  # Friday 17:00 to Monday 10:00: 1 h Friday + 1 h Monday
            1001,
            "2026-11-20T17:00",
            "general",
            first_reply("2026-11-23T10:00"),
            resolve("2026-11-24T12:00"),  # 1 h Friday + 9 h Monday + 3 h Tuesday
        ),
        ticket(1002, "2026-11-23T09:00"),  # never answered
    ]
    # W47 ends Monday 00:00: 1001 has counted 1 h of each clock, nothing decided.
    first = measure(tickets, office, W47)
    assert first.first_response_s == [] and first.breaches == []
    assert first.sla_compliance is None
    week = measure(tickets, office, W48)
    assert week.first_response_s == [2 * HOUR]  # 65 h of wall-clock time
    assert week.resolution_s == [13 * HOUR]
    # 1002: 8 working hours reached Monday 17:00; by the end of W48 the clock has counted
    # Monday to Friday, 5 x 9 h = 45 h: 37 h over. The 5d = 45 h resolution target is reached
    # exactly at Friday 18:00: missed, with no overrun yet, still running.
    assert week.compliance == {
        "first_response": Compliance(met=1, missed=1),
        "resolve": Compliance(met=1, missed=1),
    }
    assert [
        (b.commitment, b.overrun_s, b.target_s, b.breached_at, b.still_open) for b in week.breaches
    ] == [
        ("first_response", 37 * HOUR, 8 * HOUR, at("2026-11-23T17:00"), True),
        ("resolve", 0.0, 45 * HOUR, at("2026-11-27T18:00"), True),
    ]


def test_priority_change_before_the_end_changes_the_policy_after_does_not() -> None:
    tickets = [
        ticket(  # urgent from 10:30: 2 h first response, answered after 3 h
            1001,
            "2026-11-16T10:00",
            "general",
            ev("2026-11-16T10:30", ALICE, "priority", **{"from": "general", "to": "urgent"}),
            first_reply("2026-11-16T13:00"),
            resolve("2026-11-16T14:00"),  # 4 h of urgent's 24 h
        ),
        ticket(  # urgent only from W48: W47 judges it as general (8 h, met)
            1002,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T13:00"),
            resolve("2026-11-16T14:00"),
            ev("2026-11-24T10:00", ALICE, "priority", **{"from": "general", "to": "urgent"}),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert week.compliance == {
        "first_response": Compliance(met=1, missed=1),
        "resolve": Compliance(met=2),
    }
    assert week.compliance_by_priority == {
        "urgent": Compliance(met=1, missed=1),
        "general": Compliance(met=2),
    }
    assert len(week.breaches) == 1
    breach = week.breaches[0]
    assert (breach.ticket_id, breach.commitment, breach.priority) == (
        "MD-1001",
        "first_response",
        "urgent",
    )
    assert (breach.target_s, breach.overrun_s, breach.still_open) == (2 * HOUR, HOUR, False)
    assert breach.breached_at == at("2026-11-16T12:00")
    # In W48 1002 is urgent and its 3 h reply is over urgent's 2 h, but that commitment was
    # decided in W47: nothing is decided again.
    after = measure(tickets, CONFIG, W48)
    assert after.sla.decided == 0 and after.breaches == []


def test_a_breach_still_running_at_the_end_then_decided_only_once() -> None:
    tickets = [
        ticket(
            1001,
            "2026-11-20T18:00",
            "general",
            ev("2026-11-20T18:00", "maild", "acknowledged"),
            first_reply("2026-11-24T10:00", ALICE, "alice"),  # after W47
            resolve("2026-11-24T12:00"),
        )
    ]
    week = measure(tickets, CONFIG, W47)
    # 8 h target reached Saturday 02:00; by the end (Monday 00:00) 54 h counted: 46 h over.
    assert week.compliance["first_response"] == Compliance(missed=1)
    assert week.compliance["resolve"] == Compliance()  # 54 h of 120 h: undecided
    assert week.compliance_by_priority == {"general": Compliance(missed=1)}
    assert len(week.breaches) == 1
    breach = week.breaches[0]
    assert (breach.commitment, breach.overrun_s, breach.still_open) == (
        "first_response",
        46 * HOUR,
        True,
    )
    assert breach.breached_at == at("2026-11-21T02:00")
    assert breach.assignee is None  # assigned only in W48
    assert week.first_response_s == [] and week.agents == []
    # W48: the reply at 88 h stops the clock. The breach was W47's and is not counted again,
    # but the 88 h is this week's first-response sample (and Alice's); resolved at 90 h, met.
    after = measure(tickets, CONFIG, W48)
    assert after.breaches == []
    assert after.compliance == {"first_response": Compliance(), "resolve": Compliance(met=1)}
    assert after.first_response_s == [88 * HOUR]
    assert after.resolution_s == [90 * HOUR]
    assert after.first_response_p90_s == 88 * HOUR
    assert [(a.agent, a.first_responses, a.first_response_median_s) for a in after.agents] == [
        ("alice", 1, 88 * HOUR)
    ]


# --- notices and updates ----------------------------------------------------------------------


def test_warnings_and_escalations_by_level_in_the_period() -> None:
    tickets = [
        ticket(
            1001,
            "2026-11-10T10:00",
            "general",
            notice("2026-11-10T16:00", "first_response:warning"),  # W46
            notice("2026-11-10T18:00", "first_response:level:1"),  # W46
            notice("2026-11-16T09:00", "first_response:level:2"),
            notice("2026-11-17T10:00", "resolve:warning"),
            notice("2026-11-19T10:00", "resolve:level:1"),
            notice("2026-11-24T10:00", "resolve:level:2"),  # W48
        ),
        ticket(
            1002,
            "2026-11-16T10:00",
            "general",
            notice("2026-11-16T16:00", "first_response:warning"),
            notice("2026-11-16T18:00", "first_response:level:1"),
            notice("2026-11-16T20:00", "first_response:level:3"),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert week.warnings == 2
    assert week.escalations == Counter({1: 2, 2: 1, 3: 1})
    before = measure(tickets, CONFIG, W46)
    assert (before.warnings, before.escalations) == (1, Counter({1: 1}))


def test_customer_updates_on_time_and_late() -> None:
    tickets = [
        ticket(  # general: an update falls due 24 h after the customer last heard from us
            1001,
            "2026-11-16T10:00",
            "general",
            ev("2026-11-16T10:00", "maild", "acknowledged"),
            first_reply("2026-11-16T11:00"),
            ev("2026-11-17T11:00", "maild", "update_sent"),  # due 11:00: on time
            ev("2026-11-18T13:00", "maild", "update_sent"),  # due 11-18 11:00: 2 h late
            ev("2026-11-19T13:10", "maild", "update_sent"),  # due 13:00: 10 min, on time
            ev("2026-11-20T13:26", "maild", "update_sent"),  # due 13:10: 16 min, late
            ev("2026-11-24T13:26", "maild", "update_sent"),  # W48
        ),
        ticket(  # waiting on the customer from Monday noon to Wednesday 09:00
            1002,
            "2026-11-16T10:00",
            "general",
            ev("2026-11-16T10:00", "maild", "acknowledged"),
            status("2026-11-16T12:00", "new", "pending"),
            status("2026-11-18T09:00", "pending", "open", CUSTOMER),
            # Due 24 h after work resumed (not after the acknowledgement): 5 min, on time.
            ev("2026-11-19T09:05", "maild", "update_sent"),
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    assert (week.updates_sent, week.updates_on_time) == (5, 3)


# --- satisfaction and complaints --------------------------------------------------------------


def test_satisfaction_first_score_per_ticket_in_the_period() -> None:
    script = "<script>alert('x')</script> too slow & rude"

    def rated(when: str, score: int, comment: str = "") -> dict[str, Any]:
        return ev(when, CUSTOMER, "rated", score=score, comment=comment)

    def done(number: int, created: str, closed: str, *later: dict[str, Any]) -> dict[str, Any]:
        return ticket(
            number,
            created,
            "general",
            first_reply(created[:11] + "23:00"),
            status(closed, "open", "closed"),
            *later,
        )

    tickets = [
        done(1001, "2026-11-16T10:00", "2026-11-17T12:00", rated("2026-11-17T13:00", 5, "ok")),
        done(
            1002,
            "2026-11-16T10:00",
            "2026-11-18T12:00",
            rated("2026-11-18T13:00", 2, script),
            rated("2026-11-19T13:00", 5),
        ),
        # First rated in W45: its later score in W47 changes nothing.
        done(
            1003,
            "2026-11-02T10:00",
            "2026-11-05T12:00",
            rated("2026-11-06T10:00", 1, "awful"),
            rated("2026-11-18T10:00", 4),
        ),
        # Closed in W46, rated in W47: counted in W47.
        done(1004, "2026-11-09T10:00", "2026-11-13T12:00", rated("2026-11-16T09:00", 1, "none")),
        # Rated at the first instant of W48.
        done(1005, "2026-11-16T10:00", "2026-11-20T12:00", rated("2026-11-23T00:00", 3)),
    ]
    week = measure(tickets, CONFIG, W47)
    assert sorted(week.scores) == [1, 2, 5]
    assert week.satisfaction_mean == 8 / 3
    assert week.satisfaction_distribution == {1: 1, 2: 1, 3: 0, 4: 0, 5: 1}
    # The comment verbatim: escaping is the renderer's job.
    assert sorted(week.low_scores, key=lambda s: s.ticket_id) == [
        LowScore("MD-1002", 2, script),
        LowScore("MD-1004", 1, "none"),
    ]
    assert measure(tickets, CONFIG, W48).scores == [3]


def test_repeated_complainants_deduplicated_by_who() -> None:
    def alert(when: str, who: str, *numbers: int) -> dict[str, Any]:
        return ev(when, "maild", "complaints_alert", who=who, tickets=list(numbers), to=[])

    tickets = [
        ticket(
            1000, "2026-11-09T10:00", "general", alert("2026-11-09T10:00", "old@x.example", 1000)
        ),
        ticket(1001, "2026-11-16T09:00"),
        ticket(
            1002,
            "2026-11-16T10:00",
            "general",
            alert("2026-11-16T10:00", "angry@example.com", 1001, 1002),
        ),
        ticket(
            1003,
            "2026-11-18T10:00",
            "general",
            alert("2026-11-18T10:00", "angry@example.com", 1002, 1003),
        ),
        ticket(
            1004,
            "2026-11-19T10:00",
            "general",
            alert("2026-11-19T10:00", "example.org", 1004, 1001),
        ),
        ticket(
            1005, "2026-11-20T10:00", "general", alert("2026-11-23T10:00", "late@example.com", 1005)
        ),
    ]
    week = measure(tickets, CONFIG, W47)
    # Two alerts about the same customer: one entry, with the union of their tickets, by id.
    assert week.complainants == [
        Complainant("angry@example.com", ("MD-1001", "MD-1002", "MD-1003")),
        Complainant("example.org", ("MD-1001", "MD-1004")),
    ]


# --- agents -----------------------------------------------------------------------------------


def agent_tickets(until: str | None = None) -> list[dict[str, Any]]:
    return [
        ticket(  # Alice first (1 h), then Bob, then Alice again; open
            1001,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T11:00", ALICE, "alice"),
            reply("2026-11-17T10:00", BOB),
            reply("2026-11-18T10:00", ALICE),
            until=until,
        ),
        ticket(  # Alice first (3 h); open
            1002,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T13:00", ALICE, "alice"),
            until=until,
        ),
        ticket(  # Bob first (2 h); resolved
            1003,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T12:00", BOB, "bob"),
            resolve("2026-11-17T10:00"),
            until=until,
        ),
        ticket(  # someone no longer configured (4 h); open
            1004,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-16T14:00", CAROL),
            until=until,
        ),
        ticket(  # answered and assigned to Alice only in W48
            1005,
            "2026-11-16T10:00",
            "general",
            first_reply("2026-11-24T10:00", ALICE, "alice"),
            until=until,
        ),
        ticket(  # Bob's since W46, open, untouched in W47
            1006,
            "2026-11-09T10:00",
            "general",
            first_reply("2026-11-09T11:00", BOB, "bob"),
            until=until,
        ),
    ]


def test_agent_load() -> None:
    week = measure(agent_tickets(), CONFIG, W47)
    assert week.agents == [
        # 1001 and 1002: 3 replies, both first responses (1 h, 3 h: nearest-rank median 1 h);
        # open and hers at the end: 1001, 1002 (not 1005, assigned to her after the week).
        AgentLoad("alice", "Alice", 2, 3, 2, 1 * HOUR, 2),
        # 1001 and 1003: 2 replies, one first response (1003, 2 h); open and his: 1006.
        AgentLoad("bob", "Bob", 2, 2, 1, 2 * HOUR, 1),
        AgentLoad(CAROL, CAROL, 1, 1, 1, 4 * HOUR, 0),
    ]
    assert sorted(week.first_response_s) == [1 * HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR]


# --- nothing after the end counts -------------------------------------------------------------


def busy_history(until: str | None = None) -> list[dict[str, Any]]:
    """Tickets with plenty happening in W48, after the week under test."""
    return [
        *agent_tickets(until),
        ticket(  # breached in W47 and still running; answered, rated, reassigned in W48
            2001,
            "2026-11-20T18:00",
            "general",
            ev("2026-11-20T18:00", "maild", "acknowledged"),
            ev("2026-11-21T00:00", ALICE, "assign", **{"from": None, "to": "alice"}),
            notice("2026-11-21T02:00", "first_response:level:1"),
            ev("2026-11-23T01:00", ALICE, "assign", **{"from": "alice", "to": "bob"}),
            ev("2026-11-23T02:00", ALICE, "priority", **{"from": "general", "to": "urgent"}),
            first_reply("2026-11-23T03:00", BOB),
            ev("2026-11-23T04:00", "maild", "update_sent"),
            notice("2026-11-23T05:00", "resolve:level:1"),
            resolve("2026-11-23T06:00"),
            ev("2026-11-23T07:00", CUSTOMER, "confirmed"),
            status("2026-11-23T07:00", "resolved", "closed", CUSTOMER),
            ev("2026-11-23T08:00", CUSTOMER, "rated", score=1, comment="late"),
            ev("2026-11-23T09:00", "maild", "complaints_alert", who=CUSTOMER, tickets=[2001]),
            ev("2026-11-24T10:00", CUSTOMER, "reopened"),
            status("2026-11-24T10:00", "closed", "open", CUSTOMER),
            until=until,
        ),
        ticket(  # pending over the end; the customer answers in W48; merged in W48
            2002,
            "2026-11-22T10:00",
            "important",
            first_reply("2026-11-22T11:00", ALICE, "alice"),
            status("2026-11-22T12:00", "open", "pending"),
            status("2026-11-23T09:00", "pending", "open", CUSTOMER),
            ev(
                "2026-11-23T10:00",
                ALICE,
                "category",
                **{"from": "general", "to": "billing"},
                team="billing",
            ),
            ev("2026-11-23T11:00", ALICE, "merged", into="MD-1001"),
            status("2026-11-23T11:00", "open", "closed"),
            until=until,
        ),
    ]


def test_events_after_the_period_end_never_count() -> None:
    full = measure(busy_history(), CONFIG, W47)
    # The same tickets as they were when W47 ended: nothing about W47 may differ.
    assert full == measure(busy_history(until="2026-11-23T00:00"), CONFIG, W47)
    # And by hand, for 2001 and 2002: both open, general and important, at the end.
    assert (full.opened, full.closed, full.resolved, full.reopened, full.merged) == (7, 0, 1, 0, 0)
    assert full.backlog == 7  # all but 1003 (resolved)
    assert full.backlog_by_priority == Counter(general=6, important=1)
    assert full.opened_by_category == Counter(general=7)
    assert full.scores == [] and full.complainants == [] and full.updates_sent == 0
    assert full.escalations == Counter({1: 1}) and full.closes == Counter()
    breach = next(b for b in full.breaches if b.ticket_id == "MD-2001")
    # General, 8 h from Friday 18:00: due Saturday 02:00, 54 - 8 = 46 h over, Alice's then.
    assert (breach.priority, breach.overrun_s, breach.assignee, breach.still_open) == (
        "general",
        46 * HOUR,
        "alice",
        True,
    )
    alice = next(a for a in full.agents if a.agent == "alice")
    assert alice.open_assigned == 4  # 1001, 1002, 2001, 2002


def test_measure_accepts_any_iterable() -> None:
    tickets = busy_history()
    assert measure(iter(tickets), CONFIG, W47) == measure(tickets, CONFIG, W47)
    assert measure((t for t in tickets), CONFIG, W48) == measure(tickets, CONFIG, W48)


def test_relevant_skips_only_tickets_finished_before_and_untouched_since() -> None:
    tickets = [
        ticket(1001, "2026-10-01T10:00", "general", status("2026-11-05T10:00", "new", "closed")),
        ticket(
            1002,
            "2026-10-01T10:00",
            "general",
            status("2026-11-05T10:00", "new", "closed"),
            ev("2026-11-09T00:00", CUSTOMER, "rated", score=4, comment=""),
        ),
        ticket(1003, "2026-10-01T10:00"),  # open since October
        ticket(1004, "2026-10-01T10:00", "general", resolve("2026-11-08T23:59:59", "new")),
    ]
    kept = relevant(tickets, W46.start)  # 2026-11-09 00:00
    assert [t["number"] for t in kept] == [1002, 1003]
    for period in (W46, W47):
        assert measure(kept, CONFIG, period) == measure(tickets, CONFIG, period)


def test_metrics_is_a_plain_record() -> None:
    # Percentile properties read the samples, so a Metrics built by hand works too.
    built = Metrics(W47, first_response_s=[3.0, 1.0, 2.0], resolution_s=[10.0])
    assert (built.first_response_median_s, built.first_response_p90_s) == (2.0, 3.0)
    assert (built.resolution_median_s, built.resolution_p90_s) == (10.0, 10.0)


def test_trend_only_measures_the_headline_figures_alike() -> None:
    from maild.trends import HEADLINES, value

    tickets = busy_history()
    for period in (W47, W48):
        full, trend = (
            measure(tickets, CONFIG, period),
            measure(tickets, CONFIG, period, trend_only=True),
        )
        for headline in HEADLINES:
            assert value(trend, headline.key) == value(full, headline.key), headline.key
    trend = measure(tickets, CONFIG, W48, trend_only=True)
    assert (trend.updates_sent, trend.warnings, trend.agents, trend.complainants) == (0, 0, [], [])
    assert measure(tickets, CONFIG, W48).updates_sent == 1  # left out, not absent
