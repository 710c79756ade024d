"""Headline figures against last period and the four before, and the plain-language notes a
manager reads first. Pure: metrics in, structured figures and notes out (wording is notify's).

A figure's arrow compares it with last period: ↑ or ↓ when it moved by at least `STEADY` of
last period's value (or by any amount from zero), → otherwise. Whether that is good depends on
the figure: fewer breaches are better, more closed tickets are better, opened is neither.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from maild.metrics import Metrics
from maild.topics import Cluster, HotTopic

STEADY = 0.05  # relative change below which a figure is "about the same"
NOTABLE = 0.10  # relative change from which a figure earns a note
_ROUNDING = 1e-9  # 0.9 → 0.81 is a 10 % change, though floating point makes it 9.99…
MIN_COUNT_MOVE = 2  # a count must move by at least this much to earn a note
CONCENTRATED = 0.5  # breaches "were mostly in X" from this share, with at least 3 breaches


@dataclass(frozen=True)
class Headline:
    """How one figure is read: its unit and which direction is good."""

    key: str
    unit: str  # "count", "seconds", "ratio" or "score"
    better: str  # "up", "down" or "none"


HEADLINES = (
    Headline("opened", "count", "none"),
    Headline("closed", "count", "up"),
    Headline("backlog", "count", "down"),
    Headline("first_response_median_s", "seconds", "down"),
    Headline("first_response_p90_s", "seconds", "down"),
    Headline("resolution_median_s", "seconds", "down"),
    Headline("sla_compliance", "ratio", "up"),
    Headline("breaches", "count", "down"),
    Headline("reopened", "count", "down"),
    Headline("satisfaction_mean", "score", "up"),
)


@dataclass(frozen=True)
class Figure:
    headline: Headline
    value: float | None
    last: float | None
    average: float | None  # mean of the previous periods that have a value

    @property
    def direction(self) -> str:
        """ "up", "down" or "same" against last period; "" when either is missing."""
        if self.value is None or self.last is None:
            return ""
        if self.last == 0:
            return "same" if self.value == 0 else "up"
        change = (self.value - self.last) / abs(self.last)
        if abs(change) < STEADY - _ROUNDING:
            return "same"
        return "up" if change > 0 else "down"

    @property
    def arrow(self) -> str:
        return {"up": "↑", "down": "↓", "same": "→"}.get(self.direction, "")

    @property
    def verdict(self) -> str:
        """ "better", "worse" or "" (no change, no history, or a figure that is neither)."""
        if self.direction in ("", "same") or self.headline.better == "none":
            return ""
        return "better" if self.direction == self.headline.better else "worse"


@dataclass(frozen=True)
class Note:
    """One plain-language finding; `kind` picks the sentence, `values` fill it in."""

    kind: str  # "figure", "breaches_in", "topic", "cluster", "old_backlog"
    values: dict[str, Any] = field(default_factory=dict)


def value(metrics: Metrics, key: str) -> float | None:
    if key == "breaches":
        return len(metrics.breaches)
    found = getattr(metrics, key)
    return None if found is None else found


def figures(current: Metrics, history: Sequence[Metrics]) -> list[Figure]:
    """Each headline figure now, last period (history[0]) and averaged over `history`."""
    shown = []
    for headline in HEADLINES:
        before = [v for m in history if (v := value(m, headline.key)) is not None]
        shown.append(
            Figure(
                headline,
                value(current, headline.key),
                value(history[0], headline.key) if history else None,
                sum(before) / len(before) if before else None,
            )
        )
    return shown


def notes(
    current: Metrics,
    shown: Sequence[Figure],
    topics: Sequence[HotTopic],
    clusters: Sequence[Cluster],
) -> list[Note]:
    """What moved, in the order a manager asks: promises, speed, volume, then what about."""
    found = []
    for figure in shown:
        if figure.verdict and _notable(figure):
            found.append(
                Note(
                    "figure",
                    {
                        "key": figure.headline.key,
                        "unit": figure.headline.unit,
                        "direction": figure.direction,
                        "verdict": figure.verdict,
                        "before": figure.last,
                        "after": figure.value,
                    },
                )
            )
    found.sort(key=lambda note: note.values["verdict"] != "worse")  # bad news first, stable
    breaches = current.breaches
    if len(breaches) >= 3:
        for dimension in ("category", "team"):
            top, count = Counter(getattr(b, dimension) for b in breaches).most_common(1)[0]
            if top and count / len(breaches) >= CONCENTRATED:
                found.append(
                    Note(
                        "breaches_in",
                        {"count": count, "total": len(breaches), dimension: top, "by": dimension},
                    )
                )
                break
    old = current.backlog_age.get(">30d", 0)
    if old:
        found.append(Note("old_backlog", {"count": old}))
    if topics:
        top_topic = topics[0]
        found.append(
            Note(
                "topic",
                {"term": top_topic.term, "count": top_topic.count, "baseline": top_topic.baseline},
            )
        )
    if clusters:
        cluster = clusters[0]
        found.append(
            Note(
                "cluster",
                {
                    "label": cluster.label,
                    "tickets": len(cluster.tickets),
                    "customers": cluster.customers,
                },
            )
        )
    return found


def _notable(figure: Figure) -> bool:
    assert figure.value is not None and figure.last is not None
    moved = abs(figure.value - figure.last)
    if figure.headline.unit == "count" and moved < MIN_COUNT_MOVE:
        return False
    return figure.last == 0 or moved / abs(figure.last) >= NOTABLE - _ROUNDING
