"""The digest's figures for one period: pure functions over tickets and their event histories.

Every figure reads only the events before the period's end, so a past week's digest is the same
whenever it is computed. Tickets merged into another count as opened (mail came in) and nowhere
else: their work continues on the ticket they were merged into. Priority, category and team are
the ticket's values at the period's end (changes are events), and its SLA policy follows them.

Definitions (the README repeats them):

- opened: tickets created in the period.
- closed / resolved: tickets whose status became closed / resolved in the period, once each.
- reopened: tickets reopened in the period, once each. Reopen rate: reopened ÷ closed.
- closes by kind: confirmed by the customer, closed after the customer's silence (by maild),
  or closed by an agent without confirmation.
- backlog: tickets not resolved or closed at the period's end; age is wall-clock time from
  opening to the period's end, in the buckets of `AGE_BUCKETS`.
- first-response time: for each ticket whose first-response clock stopped in the period (the
  first agent reply, or a resolve/close before any reply), the time the clock counted: on the
  policy's calendar (working time on a business calendar), paused while waiting on the customer.
- resolution time: likewise for the resolution clock, which stops at resolve or close; a
  reopened ticket's clock resumes, so it is counted again in the period it is resolved again.
- median and p90: nearest-rank percentiles of those samples (p90 of 10 samples is the 9th).
- SLA compliance, per commitment: a commitment is decided once, in the period where it is met
  (its clock stopped short of the target) or missed (its clock reached the target, stopped or
  not). Compliance is met ÷ (met + missed); None when nothing was decided.
- breach: a missed commitment, with its overrun: counted time beyond the target up to the
  period's end, or up to the clock's stop if it stopped; `still_open` while it has not
  stopped (running, or paused waiting on the customer). A reopened ticket's commitment can be
  decided again: its clock resumes where it stopped.
- warnings / escalations: warning and escalation-level notices sent in the period.
- customer updates on time: automatic progress updates sent in the period no later than
  `UPDATE_TOLERANCE` counted seconds after they fell due.
- satisfaction: the first score each ticket received (later ones change nothing), in the period;
  mean, distribution 1–5, and the comments of scores at or below `LOW_SCORE`.
- repeated complainants: the customers (or company domains) that raised a repeated-complaint
  alert in the period, with the tickets that triggered it.
- agent load, per agent who replied in the period: tickets replied to, replies, and the median
  first-response time of the tickets whose first reply was theirs in the period.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Any

from maild.classify import Team, team_for
from maild.clock import iso, parse_iso
from maild.config import Config
from maild.periods import Period
from maild.sla import COMMITMENTS, DONE_STATUSES, clocks, update_deadlines

AGE_BUCKETS = (("<1d", 1), ("1-3d", 3), ("3-7d", 7), ("7-30d", 30), (">30d", None))  # days
UPDATE_TOLERANCE = 15 * 60.0  # counted seconds: a sweep runs every minute; this is "late"
UNCOUNTED = ("archived",)  # events no figure reads
LOW_SCORE = 2
SCORES = (1, 2, 3, 4, 5)
PRIORITIES = ("urgent", "important", "general")


@dataclass(frozen=True)
class Compliance:
    met: int = 0
    missed: int = 0

    @property
    def decided(self) -> int:
        return self.met + self.missed

    @property
    def rate(self) -> float | None:
        return self.met / self.decided if self.decided else None

    def __add__(self, other: Compliance) -> Compliance:
        return Compliance(self.met + other.met, self.missed + other.missed)


@dataclass(frozen=True)
class Breach:
    ticket_id: str
    commitment: str  # "first_response" or "resolve"
    priority: str
    category: str
    team: str | None
    assignee: str | None
    target_s: float
    overrun_s: float
    breached_at: datetime
    still_open: bool


@dataclass(frozen=True)
class LowScore:
    ticket_id: str
    score: int
    comment: str


@dataclass(frozen=True)
class Complainant:
    who: str  # an address, or a domain when complaints are counted by domain
    tickets: tuple[str, ...]


@dataclass(frozen=True)
class AgentLoad:
    agent: str  # the [agents] key, or the address of an agent no longer configured
    name: str
    handled: int  # tickets replied to in the period
    replies: int
    first_responses: int
    first_response_median_s: float | None
    open_assigned: int  # backlog tickets assigned to them at the period's end


@dataclass
class Metrics:
    """One period's figures; samples are kept so percentiles are computed, not averaged."""

    period: Period
    opened: int = 0
    closed: int = 0
    resolved: int = 0
    reopened: int = 0
    merged: int = 0
    opened_by_priority: Counter[str] = field(default_factory=Counter)
    opened_by_category: Counter[str] = field(default_factory=Counter)
    opened_by_team: Counter[str] = field(default_factory=Counter)
    backlog: int = 0
    backlog_by_priority: Counter[str] = field(default_factory=Counter)
    backlog_age: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_BUCKET_NAMES, 0))
    first_response_s: list[float] = field(default_factory=list)
    resolution_s: list[float] = field(default_factory=list)
    compliance: dict[str, Compliance] = field(default_factory=dict)
    compliance_by_priority: dict[str, Compliance] = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    warnings: int = 0
    escalations: Counter[int] = field(default_factory=Counter)  # by level
    updates_sent: int = 0
    updates_on_time: int = 0
    closes: Counter[str] = field(default_factory=Counter)  # confirmed / silence / agent
    scores: list[int] = field(default_factory=list)
    low_scores: list[LowScore] = field(default_factory=list)
    complainants: list[Complainant] = field(default_factory=list)
    agents: list[AgentLoad] = field(default_factory=list)

    @property
    def first_response_median_s(self) -> float | None:
        return percentile(self.first_response_s, 50)

    @property
    def first_response_p90_s(self) -> float | None:
        return percentile(self.first_response_s, 90)

    @property
    def resolution_median_s(self) -> float | None:
        return percentile(self.resolution_s, 50)

    @property
    def resolution_p90_s(self) -> float | None:
        return percentile(self.resolution_s, 90)

    @property
    def sla(self) -> Compliance:
        return sum(self.compliance.values(), Compliance())

    @property
    def sla_compliance(self) -> float | None:
        return self.sla.rate

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.closed if self.closed else None

    @property
    def satisfaction_mean(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None

    @property
    def satisfaction_distribution(self) -> dict[int, int]:
        counted = Counter(self.scores)
        return {score: counted[score] for score in SCORES}


_BUCKET_NAMES = tuple(name for name, _ in AGE_BUCKETS)


def percentile(samples: Sequence[float], rank: float) -> float | None:
    """Nearest-rank percentile: the smallest sample with at least `rank` % at or below it."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(ceil(rank / 100 * len(ordered)), 1) - 1]


def age_bucket(age_s: float) -> str:
    days = age_s / 86400
    for name, below in AGE_BUCKETS:
        if below is None or days < below:
            return name
    raise AssertionError("the last bucket is open-ended")


def relevant(tickets: Iterable[Mapping[str, Any]], since: datetime) -> list[Mapping[str, Any]]:
    """The tickets any period from `since` on can count: those with an event since then, or
    not yet done. The rest finished before and changed nothing since, so skipping them is exact."""
    cutoff = iso(since)
    return [t for t in tickets if t["status"] not in DONE_STATUSES or _last_counted_at(t) >= cutoff]


def _last_counted_at(ticket: Mapping[str, Any]) -> str:
    """When the last event any figure reads happened ("" for none). Archiving, months after
    the close, changes no figure: most old tickets' last event is that."""
    for event in reversed(ticket["events"]):
        if event["action"] not in UNCOUNTED:
            return str(event["at"])
    return ""


def measure(
    tickets: Iterable[Mapping[str, Any]],
    config: Config,
    period: Period,
    *,
    trend_only: bool = False,
) -> Metrics:
    """Every figure of `period` from the tickets' histories (see the module's definitions).

    `trend_only` leaves out what only this period's own digest shows (notices, updates, agent
    load, complaints): the four periods before it are measured for their headline figures.
    """
    metrics = Metrics(period)
    start, end = iso(period.start), iso(period.end)
    tickets = list(tickets)  # read twice: the ids, then the figures (an iterator would be spent)
    ids = {t["number"]: t["id"] for t in tickets}
    compliance: dict[str, Compliance] = {c: Compliance() for c in COMMITMENTS}
    by_priority: dict[str, Compliance] = {p: Compliance() for p in PRIORITIES}
    replies: dict[str, Counter[str]] = defaultdict(Counter)  # agent -> ticket -> replies
    firsts: dict[str, list[float]] = defaultdict(list)
    assigned: Counter[str] = Counter()
    complaints: dict[str, set[int]] = {}
    for ticket in tickets:
        if ticket["created_at"] >= end:
            continue
        if ticket["status"] in DONE_STATUSES and _last_counted_at(ticket) < start:
            continue  # done before the period and untouched since: it counts for nothing
        events = [e for e in ticket["events"] if e["at"] < end]
        inside = events[_first_at_or_after(events, start) :]
        priority, category, team = _classification_at(ticket, events, config.teams)
        if ticket["created_at"] >= start:
            _count_opened(metrics, (priority, category, team))
        if ticket.get("merged_into") and _merged_by(events):
            metrics.merged += bool(inside and _merged_by(inside))
            continue
        status = _status_at(events)
        if status not in DONE_STATUSES:
            metrics.backlog += 1
            metrics.backlog_by_priority[priority] += 1
            age = (period.end - parse_iso(ticket["created_at"])).total_seconds()
            metrics.backlog_age[age_bucket(age)] += 1
            if assignee := _assignee_at(ticket, events):
                assigned[assignee] += 1
        elif not inside:
            continue  # done before the period and untouched in it: no clock can move
        policy = config.policy_for(priority, category)
        _count_events(metrics, ticket, events, inside, policy, complaints, trend_only)
        for reply in inside:
            if reply["action"] == "agent_reply" and not trend_only:
                replies[reply["actor"]][ticket["id"]] += 1
        for commitment, clock in clocks(events, policy, period.end).items():
            stopped = clock.stopped_at
            if clock.breached:
                due = clock.due_at
                # Decided in the period the target was reached: a breach of an earlier period
                # is not counted again, though its clock's stop is still this period's sample.
                if due is not None and period.start <= due < period.end:
                    compliance[commitment] += Compliance(missed=1)
                    by_priority[priority] += Compliance(missed=1)
                    metrics.breaches.append(
                        Breach(
                            ticket_id=ticket["id"],
                            commitment=commitment,
                            priority=priority,
                            category=category,
                            team=team,
                            assignee=_assignee_at(ticket, events),
                            target_s=clock.target,
                            overrun_s=clock.consumed - clock.target,
                            breached_at=due,
                            still_open=clock.stopped_at is None,
                        )
                    )
            elif stopped is not None and period.start <= stopped < period.end:
                compliance[commitment] += Compliance(met=1)
                by_priority[priority] += Compliance(met=1)
            if stopped is not None and period.start <= stopped < period.end:
                sample = metrics.first_response_s if commitment == "first_response" else None
                if sample is None:
                    metrics.resolution_s.append(clock.consumed)
                else:
                    sample.append(clock.consumed)
                    first = _first_reply(events)
                    if first is not None and first["at"] >= start:
                        firsts[first["actor"]].append(clock.consumed)
    metrics.compliance = compliance
    metrics.compliance_by_priority = {p: c for p, c in by_priority.items() if c.decided}
    metrics.breaches.sort(key=lambda b: (-b.overrun_s, b.ticket_id, b.commitment))
    metrics.complainants = [
        Complainant(who, tuple(ids.get(n, str(n)) for n in sorted(numbers)))
        for who, numbers in sorted(complaints.items())
    ]
    metrics.agents = [] if trend_only else _agent_load(config, replies, firsts, assigned)
    return metrics


def _count_opened(metrics: Metrics, classification: tuple[str, str, str | None]) -> None:
    metrics.opened += 1
    priority, category, team = classification
    metrics.opened_by_priority[priority] += 1
    metrics.opened_by_category[category] += 1
    metrics.opened_by_team[team or "-"] += 1


def _count_events(
    metrics: Metrics,
    ticket: Mapping[str, Any],
    events: Sequence[Mapping],
    inside: Sequence[Mapping],
    policy: Any,
    complaints: dict[str, set[int]],
    trend_only: bool,
) -> None:
    """The period's own events: closes, reopens, scores; unless `trend_only`, also notices,
    updates and complaints."""
    if not inside:
        return
    actions = {e["action"] for e in inside}
    confirmed_at = {e["at"] for e in inside if e["action"] == "confirmed"}
    statuses = [e["detail"]["to"] for e in inside if e["action"] == "status"]
    if "closed" in statuses:
        metrics.closed += 1
        close = next(e for e in reversed(inside) if _is_status(e, "closed"))
        kind = "confirmed" if close["at"] in confirmed_at else "silence"
        metrics.closes[kind if kind == "confirmed" or close["actor"] == "maild" else "agent"] += 1
    metrics.resolved += "resolved" in statuses
    metrics.reopened += "reopened" in actions
    rated = next((e for e in ticket["events"] if e["action"] == "rated"), None)
    if rated is not None and rated["at"] >= inside[0]["at"] and rated in inside:
        score = int(rated["detail"]["score"])
        metrics.scores.append(score)
        comment = (rated["detail"].get("comment") or "").strip()
        if score <= LOW_SCORE:
            metrics.low_scores.append(LowScore(ticket["id"], score, comment))
    if trend_only:
        return
    for event in inside:
        action = event["action"]
        if action == "notice":
            key = event["detail"]["key"]
            if key.endswith(":warning"):
                metrics.warnings += 1
            else:
                metrics.escalations[int(key.rpartition(":")[2])] += 1
        elif action == "complaints_alert":
            complaints.setdefault(event["detail"]["who"], set()).update(event["detail"]["tickets"])
    if "update_sent" in actions:
        for sent_at, due in update_deadlines(events, policy, parse_iso(events[-1]["at"])):
            if iso(sent_at) < inside[0]["at"]:
                continue  # an earlier period's
            metrics.updates_sent += 1
            late = due is not None and policy.calendar.elapsed(min(due, sent_at), sent_at)
            if not late or late <= UPDATE_TOLERANCE:
                metrics.updates_on_time += 1


def _first_at_or_after(events: Sequence[Mapping], moment: str) -> int:
    """Events are recorded in time order: the index of the first one at or after `moment`."""
    return next((i for i, e in enumerate(events) if e["at"] >= moment), len(events))


def _is_status(event: Mapping, to: str) -> bool:
    return event["action"] == "status" and event["detail"]["to"] == to


def _status_at(events: Sequence[Mapping]) -> str:
    return next((e["detail"]["to"] for e in reversed(events) if e["action"] == "status"), "new")


def _merged_by(events: Sequence[Mapping]) -> bool:
    """Merged into another ticket (not: another ticket merged into this one)."""
    return any(e["action"] == "merged" and "into" in e["detail"] for e in events)


def _classification_at(
    ticket: Mapping[str, Any], events: Sequence[Mapping], teams: Sequence[Team]
) -> tuple[str, str, str | None]:
    """Priority, category and team as of the last event given: later changes are undone.

    The team is the one the ticket was opened with; once a category change has moved it, the
    team that category routes to.
    """
    values = {"priority": ticket["priority"], "category": ticket["category"]}
    for event in reversed(ticket["events"][len(events) :]):
        if event["action"] in values:
            values[event["action"]] = event["detail"]["from"]
    moved = any(e["action"] == "category" and "team" in e["detail"] for e in ticket["events"])
    team = team_for(values["category"], teams) if moved else ticket.get("team")
    return values["priority"], values["category"], team


def _assignee_at(ticket: Mapping[str, Any], events: Sequence[Mapping]) -> str | None:
    """The assignee as of the last event given: the first later assignment says who had it
    before (the stored field is today's, and a ticket assigned only later had nobody)."""
    later = next((e for e in ticket["events"][len(events) :] if e["action"] == "assign"), None)
    return later["detail"]["from"] if later is not None else ticket.get("assignee")


def _first_reply(events: Sequence[Mapping]) -> Mapping | None:
    return next((e for e in events if e["action"] == "agent_reply"), None)


def _agent_load(
    config: Config,
    replies: Mapping[str, Counter[str]],
    firsts: Mapping[str, list[float]],
    assigned: Counter[str],
) -> list[AgentLoad]:
    """Per agent, by their [agents] key where the reply's address is still configured."""
    handled: dict[str, Counter[str]] = defaultdict(Counter)
    samples: dict[str, list[float]] = defaultdict(list)
    names: dict[str, str] = {}
    for address in set(replies) | set(firsts):
        agent = config.agent(address)
        key = agent.key if agent else address
        names[key] = agent.name if agent else address
        handled[key].update(replies.get(address, Counter()))
        samples[key].extend(firsts.get(address, []))
    loads = [
        AgentLoad(
            agent=key,
            name=names[key],
            handled=len(handled[key]),
            replies=sum(handled[key].values()),
            first_responses=len(samples[key]),
            first_response_median_s=percentile(samples[key], 50),
            open_assigned=assigned.get(key, 0),
        )
        for key in names
    ]
    return sorted(loads, key=lambda load: (-load.handled, load.agent))
