"""Trend arrows, verdicts, averages and the plain-language notes, on Metrics built by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from maild.metrics import Breach, Compliance, Metrics
from maild.periods import parse_period
from maild.topics import Cluster, HotTopic
from maild.trends import HEADLINES, Figure, Headline, Note, figures, notes

PERIOD = parse_period("2026-W47", ZoneInfo("Asia/Shanghai"))
HEADLINE = {h.key: h for h in HEADLINES}


def week(**fields: Any) -> Metrics:
    return Metrics(PERIOD, **fields)


def breach(category: str = "general", team: str | None = "support") -> Breach:
    return Breach(
        ticket_id="MD-1001",
        commitment="first_response",
        priority="general",
        category=category,
        team=team,
        assignee=None,
        target_s=8 * 3600.0,
        overrun_s=3600.0,
        breached_at=datetime(2026, 11, 17, tzinfo=UTC),
        still_open=False,
    )


def figure(key: str, value: float | None, last: float | None) -> Figure:
    return Figure(HEADLINE[key], value, last, None)


def by_key(shown: list[Figure]) -> dict[str, Figure]:
    return {f.headline.key: f for f in shown}


# --- arrows and verdicts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "last", "direction", "arrow"),
    [
        (100, 100, "same", "→"),
        (104.9, 100, "same", "→"),  # 4.9 %: steady
        (105, 100, "up", "↑"),  # exactly 5 % is a move
        (95, 100, "down", "↓"),
        (95.1, 100, "same", "→"),
        (0, 0, "same", "→"),
        (1, 0, "up", "↑"),  # any amount from zero
        (0, 1, "down", "↓"),
        (None, 3, "", ""),  # nothing to compare
        (3, None, "", ""),
    ],
)
def test_direction_and_arrow(
    value: float | None, last: float | None, direction: str, arrow: str
) -> None:
    shown = figure("closed", value, last)
    assert (shown.direction, shown.arrow) == (direction, arrow)


@pytest.mark.parametrize(
    ("key", "value", "last", "verdict"),
    [
        ("closed", 12, 10, "better"),  # more closed is better
        ("closed", 8, 10, "worse"),
        ("breaches", 6, 3, "worse"),  # more breaches is worse
        ("breaches", 1, 3, "better"),
        ("backlog", 40, 50, "better"),
        ("first_response_median_s", 7200, 3600, "worse"),  # slower
        ("sla_compliance", 0.80, 0.95, "worse"),
        ("satisfaction_mean", 4.5, 4.0, "better"),
        ("reopened", 5, 2, "worse"),
        ("opened", 30, 10, ""),  # neither good nor bad
        ("opened", 5, 10, ""),
        ("breaches", 3, 3, ""),  # no change
        ("breaches", 3, None, ""),  # no history
    ],
)
def test_verdict(key: str, value: float, last: float | None, verdict: str) -> None:
    assert figure(key, value, last).verdict == verdict


# --- figures ----------------------------------------------------------------------------------


def test_figures_compare_with_last_period_and_average_the_history() -> None:
    current = week(opened=12, first_response_s=[1800.0], breaches=[breach()] * 2)
    history = [  # most recent first
        week(opened=10, first_response_s=[3600.0], compliance={"resolve": Compliance(9, 1)}),
        week(opened=8),  # no first responses, nothing decided: no value
        week(opened=12, first_response_s=[7200.0], breaches=[breach()] * 4),
        week(opened=10, first_response_s=[5400.0], compliance={"resolve": Compliance(1, 1)}),
    ]
    shown = by_key(figures(current, history))
    assert [f.headline.key for f in figures(current, history)] == [h.key for h in HEADLINES]
    opened = shown["opened"]
    # 12 against 10 (+20 %), average (10 + 8 + 12 + 10) / 4 = 10; opened is neither way good.
    assert (opened.value, opened.last, opened.average) == (12, 10, 10)
    assert (opened.arrow, opened.verdict) == ("↑", "")
    speed = shown["first_response_median_s"]
    # The week without first responses is left out: (3600 + 7200 + 5400) / 3 = 5400.
    assert (speed.value, speed.last, speed.average) == (1800, 3600, 5400)
    assert (speed.arrow, speed.verdict) == ("↓", "better")
    breaches = shown["breaches"]
    assert (breaches.value, breaches.last, breaches.average) == (2, 0, 1.0)  # (0+0+4+0)/4
    assert (breaches.arrow, breaches.verdict) == ("↑", "worse")
    sla = shown["sla_compliance"]
    # Nothing decided this week; last week 9/10; average of 0.9 and 0.5 (two weeks without).
    assert (sla.value, sla.last) == (None, 0.9)
    assert sla.average == pytest.approx(0.7)
    assert sla.arrow == ""
    satisfaction = shown["satisfaction_mean"]
    assert (satisfaction.value, satisfaction.last, satisfaction.average) == (None, None, None)


def test_figures_without_history() -> None:
    shown = by_key(figures(week(opened=3), []))
    assert (shown["opened"].value, shown["opened"].last, shown["opened"].average) == (3, None, None)
    assert shown["opened"].arrow == "" and shown["opened"].verdict == ""


def test_last_period_without_a_value_gives_no_arrow_but_an_average() -> None:
    history = [week(), week(first_response_s=[600.0])]
    speed = by_key(figures(week(first_response_s=[900.0]), history))["first_response_median_s"]
    assert (speed.last, speed.average, speed.arrow) == (None, 600.0, "")


# --- notes ------------------------------------------------------------------------------------


def test_no_notes_when_nothing_moved() -> None:
    same = dict(opened=10, closed=9, backlog=20, first_response_s=[3600.0], reopened=1)
    current, history = week(**same), [week(**same) for _ in range(4)]
    assert notes(current, figures(current, history), [], []) == []


def test_worse_figures_first_then_better() -> None:
    last = week(closed=10, first_response_s=[3600.0], breaches=[breach()] * 2)
    # Closed 10 -> 15 (better), first response 1 h -> 2 h (worse), breaches 2 -> 5 (worse).
    current = week(closed=15, first_response_s=[7200.0], breaches=[breach()] * 5)
    found = [n for n in notes(current, figures(current, [last]), [], []) if n.kind == "figure"]
    assert [(n.values["key"], n.values["verdict"]) for n in found] == [
        ("first_response_median_s", "worse"),  # worse ones in headline order
        ("first_response_p90_s", "worse"),
        ("breaches", "worse"),
        ("closed", "better"),
    ]
    assert found[0].values == {
        "key": "first_response_median_s",
        "unit": "seconds",
        "direction": "up",
        "verdict": "worse",
        "before": 3600.0,
        "after": 7200.0,
    }
    assert found[-1].values["before"] == 10 and found[-1].values["after"] == 15


def test_small_moves_earn_an_arrow_but_no_note() -> None:
    last = week(reopened=2, compliance={"resolve": Compliance(90, 10)}, scores=[4] * 10)
    current = week(
        reopened=3,  # +50 %, but a count must move by at least 2
        compliance={"resolve": Compliance(85, 15)},  # 0.90 -> 0.85: -5.6 %, under 10 %
        scores=[4] * 7 + [5] * 3,  # 4.0 -> 4.3: +7.5 %
    )
    shown = figures(current, [last])
    moved = by_key(shown)
    assert (moved["reopened"].arrow, moved["reopened"].verdict) == ("↑", "worse")
    assert (moved["sla_compliance"].arrow, moved["sla_compliance"].verdict) == ("↓", "worse")
    assert (moved["satisfaction_mean"].arrow, moved["satisfaction_mean"].verdict) == (
        "↑",
        "better",
    )
    assert notes(current, shown, [], []) == []
    # A count moving by 2 from zero is notable; a ratio moving by over 10 % is too (0.9 -> 0.8).
    current = week(reopened=2, compliance={"resolve": Compliance(80, 20)})
    found = notes(
        current, figures(current, [week(compliance={"resolve": Compliance(90, 10)})]), [], []
    )
    assert [n.values["key"] for n in found] == ["sla_compliance", "reopened"]


def test_breaches_concentrated_in_one_category() -> None:
    # 6 of 9 breaches in billing: at least half.
    breaches = [breach("billing", "billing")] * 6 + [breach("login", "support")] * 3
    current = week(breaches=breaches)
    found = [n for n in notes(current, figures(current, []), [], []) if n.kind == "breaches_in"]
    assert found == [
        Note("breaches_in", {"count": 6, "total": 9, "category": "billing", "by": "category"})
    ]


def test_exactly_half_is_concentrated() -> None:
    # 3 of 6 in billing, spread over teams a-f.
    breaches = [
        breach(c, t) for c, t in zip(["billing"] * 3 + ["x", "y", "z"], "abcdef", strict=True)
    ]
    current = week(breaches=breaches)
    found = [n for n in notes(current, [], [], []) if n.kind == "breaches_in"]
    assert found == [
        Note("breaches_in", {"count": 3, "total": 6, "category": "billing", "by": "category"})
    ]


def test_breaches_concentrated_in_a_team_when_categories_are_spread() -> None:
    breaches = [
        breach("billing", "finance"),
        breach("refunds", "finance"),
        breach("invoices", "finance"),
        breach("login", "support"),
    ]
    current = week(breaches=breaches)
    found = [n for n in notes(current, figures(current, []), [], []) if n.kind == "breaches_in"]
    assert found == [Note("breaches_in", {"count": 3, "total": 4, "team": "finance", "by": "team"})]


@pytest.mark.parametrize(
    "categories",
    [
        ["billing", "billing"],  # fewer than 3 breaches: no pattern to speak of
        ["billing", "billing", "login", "login", "refunds"],  # 2 of 5: under half
    ],
)
def test_no_concentration_note(categories: list[str]) -> None:
    teams = ["a", "b", "c", "d", "e"]
    current = week(breaches=[breach(c, t) for c, t in zip(categories, teams, strict=False)])
    assert [n for n in notes(current, [], [], []) if n.kind == "breaches_in"] == []


def test_no_concentration_note_for_breaches_without_a_team() -> None:
    breaches = [breach("a", None), breach("b", None), breach("c", None), breach("d", "x")]
    assert notes(week(breaches=breaches), [], [], []) == []


def test_every_kind_of_note_in_order() -> None:
    last = week(backlog=10, breaches=[breach()] * 3)
    current = week(
        backlog=20,  # worse
        breaches=[breach("billing")] * 6 + [breach("login")] * 3,  # 3 -> 9: worse
        backlog_age={"<1d": 0, "1-3d": 0, "3-7d": 0, "7-30d": 18, ">30d": 2},
    )
    topics = [
        HotTopic("refund", 7, 1.5, 5.5, ("MD-1001", "MD-1002")),
        HotTopic("login", 4, 1.0, 3.0, ("MD-1003",)),
    ]
    clusters = [
        Cluster("Payment page shows error 500", ("MD-1001", "MD-1004", "MD-1007"), 3),
        Cluster("Cannot log in", ("MD-1003", "MD-1005"), 2),
    ]
    found = notes(current, figures(current, [last]), topics, clusters)
    assert [n.kind for n in found] == [
        "figure",
        "figure",
        "breaches_in",
        "old_backlog",
        "topic",
        "cluster",
    ]
    assert [n.values["key"] for n in found[:2]] == ["backlog", "breaches"]
    assert found[2].values == {"count": 6, "total": 9, "category": "billing", "by": "category"}
    assert found[3] == Note("old_backlog", {"count": 2})
    # Only the top topic and the largest cluster (the first given) earn a note.
    assert found[4] == Note("topic", {"term": "refund", "count": 7, "baseline": 1.5})
    assert found[5] == Note(
        "cluster", {"label": "Payment page shows error 500", "tickets": 3, "customers": 3}
    )


def test_headlines_say_which_way_is_good() -> None:
    assert HEADLINE["opened"] == Headline("opened", "count", "none")
    assert HEADLINE["breaches"].better == "down"
    assert HEADLINE["closed"].better == "up"
    assert HEADLINE["sla_compliance"].unit == "ratio"
