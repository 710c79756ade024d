"""One digest's content, gathered from the store: the period's metrics, the four periods before
for the trend, hot topics and near-duplicate clusters. Rendering it is notify's job.

A period still running is reported up to `now` (a preview mid-week), never beyond: clocks are
not run into the future.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from maild.clock import iso
from maild.config import Config
from maild.metrics import Metrics, measure, relevant
from maild.periods import Period
from maild.store import Store
from maild.topics import Cluster, Document, HotTopic, clusters, hot_topics
from maild.trends import Figure, Note, figures, notes

HISTORY = 4  # periods the trend and the hot topics compare against
TOPICS = 10
BODY_CHARS = 1000  # of the customer's first message, for the hot topics


@dataclass(frozen=True)
class Report:
    period: Period
    complete: bool  # False: the period was still running at `generated_at`
    metrics: Metrics
    history: list[Metrics]  # the previous periods, most recent first
    figures: list[Figure]
    notes: list[Note]
    topics: list[HotTopic]
    clusters: list[Cluster]
    generated_at: datetime


def build(store: Store, config: Config, period: Period, now: datetime) -> Report:
    """Everything the digest for `period` says, from the store as it is at `now`."""
    complete = period.end <= now
    if not complete:
        period = replace(period, end=max(now, period.start))
    earlier = period.history(HISTORY)
    tickets = relevant(store.iter_tickets(), earlier[-1].start)
    current = measure(tickets, config, period)
    history = [measure(tickets, config, p, trend_only=True) for p in earlier]
    documents = _documents(store, tickets, [period, *earlier])
    topics = hot_topics(documents[0], documents[1:], limit=TOPICS)
    groups = clusters(documents[0])
    shown = figures(current, history)
    return Report(
        period=period,
        complete=complete,
        metrics=current,
        history=history,
        figures=shown,
        notes=notes(current, shown, topics, groups),
        topics=topics,
        clusters=groups,
        generated_at=now,
    )


def _documents(store: Store, tickets: list[Any], periods: list[Period]) -> list[list[Document]]:
    """Per period, the words of the tickets opened in it: subject and first message."""
    bounds = [(iso(p.start), iso(p.end)) for p in periods]
    opened: list[list[Any]] = [[] for _ in periods]
    for ticket in tickets:
        for index, (start, end) in enumerate(bounds):
            if start <= ticket["created_at"] < end:
                opened[index].append(ticket)
                break
    wanted = {t["first_message_id"] for group in opened for t in group}
    texts = {
        m["message_id"]: m.get("text") or ""
        for m in store.iter_messages()
        if m["message_id"] in wanted
    }
    return [
        [
            Document(
                ticket_id=t["id"],
                customer=t["customer"].lower(),
                subject=t.get("subject") or "",
                body=texts.get(t["first_message_id"], "")[:BODY_CHARS],
            )
            for t in sorted(group, key=lambda t: t["number"])
        ]
        for group in opened
    ]


def to_json(report: Report) -> dict[str, Any]:
    """The figures as plain data: `maild digest --json`, and what tests compare."""
    m = report.metrics
    return {
        "period": report.period.kind,
        report.period.kind: report.period.label,
        "start": iso(report.period.start),
        "end": iso(report.period.end),
        "complete": report.complete,
        "opened": m.opened,
        "closed": m.closed,
        "resolved": m.resolved,
        "reopened": m.reopened,
        "reopen_rate": m.reopen_rate,
        "merged": m.merged,
        "opened_by_priority": dict(m.opened_by_priority),
        "opened_by_category": dict(m.opened_by_category),
        "opened_by_team": dict(m.opened_by_team),
        "backlog": m.backlog,
        "backlog_by_priority": dict(m.backlog_by_priority),
        "backlog_age": m.backlog_age,
        "first_response_count": len(m.first_response_s),
        "first_response_median_s": m.first_response_median_s,
        "first_response_p90_s": m.first_response_p90_s,
        "resolution_count": len(m.resolution_s),
        "resolution_median_s": m.resolution_median_s,
        "resolution_p90_s": m.resolution_p90_s,
        "sla_compliance": m.sla_compliance,
        "sla": {
            commitment: {"met": c.met, "missed": c.missed, "compliance": c.rate}
            for commitment, c in m.compliance.items()
        },
        "sla_by_priority": {
            priority: {"met": c.met, "missed": c.missed, "compliance": c.rate}
            for priority, c in m.compliance_by_priority.items()
        },
        "breaches": [
            {
                "ticket": b.ticket_id,
                "commitment": b.commitment,
                "priority": b.priority,
                "category": b.category,
                "team": b.team,
                "assignee": b.assignee,
                "target_s": b.target_s,
                "overrun_s": round(b.overrun_s),
                "breached_at": iso(b.breached_at),
                "still_open": b.still_open,
            }
            for b in m.breaches
        ],
        "warnings": m.warnings,
        "escalations": {str(level): n for level, n in sorted(m.escalations.items())},
        "escalations_sent": sum(m.escalations.values()),
        "updates_sent": m.updates_sent,
        "updates_on_time": m.updates_on_time,
        "closes": {kind: m.closes[kind] for kind in ("confirmed", "silence", "agent")},
        "satisfaction_responses": len(m.scores),
        "satisfaction_mean": m.satisfaction_mean,
        "satisfaction_distribution": {str(k): v for k, v in m.satisfaction_distribution.items()},
        "low_scores": [
            {"ticket": s.ticket_id, "score": s.score, "comment": s.comment} for s in m.low_scores
        ],
        "repeated_complainants": [
            {"who": c.who, "tickets": list(c.tickets)} for c in m.complainants
        ],
        "agents": [
            {
                "agent": a.agent,
                "name": a.name,
                "handled": a.handled,
                "replies": a.replies,
                "first_responses": a.first_responses,
                "first_response_median_s": a.first_response_median_s,
                "open_assigned": a.open_assigned,
            }
            for a in m.agents
        ],
        "hot_topics": [
            {
                "term": t.term,
                "count": t.count,
                "baseline": t.baseline,
                "change": t.change,
                "examples": list(t.examples),
            }
            for t in report.topics
        ],
        "clusters": [
            {"label": c.label, "tickets": list(c.tickets), "customers": c.customers}
            for c in report.clusters
        ],
        "trend": {
            f.headline.key: {
                "value": f.value,
                "last": f.last,
                "average": f.average,
                "direction": f.direction,
                "verdict": f.verdict,
            }
            for f in report.figures
        },
        "notes": [{"kind": n.kind, **n.values} for n in report.notes],
    }
