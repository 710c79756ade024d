"""SLA clocks and the notices they call for: pure functions over a ticket's event history.

A clock counts time on its policy's calendar while it runs. Every threshold is a point on that
counted time: the warning at `warn_at` × target, the breach at the target, escalation level N at
the target plus its delay. So a pause (waiting on the customer) or a closed night moves every
threshold with it, and "when is X due" is one question: when does counted time reach x?

The history decides everything; nothing here reads a wall clock or the store, so the same
events and the same `now` always give the same answer (and `maild once --now` can replay time).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from maild.calendar import Calendar
from maild.clock import iso, parse_iso
from maild.durations import Duration

OPEN_STATUSES = ("new", "open")  # being worked: every clock runs
WAITING_STATUS = "pending"  # waiting on the customer: every clock pauses
DONE_STATUSES = ("resolved", "closed")  # no clock runs
COMMITMENTS = ("first_response", "resolve")  # the promises that can be broken
POLICY_CHANGES = ("priority", "category")  # events after which the policy may differ
CONTACTS = ("acknowledged", "agent_reply", "update_sent")  # the customer heard from us
CLOCK_ACTIONS = ("status", "agent_reply")  # with the first event, all that moves a clock
UPDATE_ACTIONS = (*CONTACTS, "status")
UPDATE_GRACE_SECONDS = 60.0  # one sweep: how late after closing a due update may still go


@dataclass(frozen=True)
class Policy:
    """One [sla.NAME] table: the commitments and the calendar they are counted on."""

    name: str
    first_response: Duration
    update_every: Duration
    resolve: Duration
    calendar: Calendar

    def seconds(self, duration: Duration) -> float:
        return duration.seconds(self.calendar.day_seconds)

    def target(self, commitment: str) -> float:
        return self.seconds(getattr(self, commitment))


@dataclass(frozen=True)
class EscalationLevel:
    after: Duration  # counted from the breach, on the policy's calendar
    to: tuple[str, ...]


@dataclass(frozen=True)
class Escalation:
    warn_at: float
    levels: tuple[EscalationLevel, ...]


@dataclass(frozen=True)
class SlaClock:
    """One commitment of one ticket, as of `now`."""

    commitment: str
    target: float  # counted seconds
    consumed: float  # counted seconds so far
    running: bool  # counting right now
    stopped_at: datetime | None  # the commitment was fulfilled (or the ticket closed) then
    intervals: tuple[tuple[datetime, datetime | None], ...]  # when it ran; None: still running
    calendar: Calendar

    @property
    def breached(self) -> bool:
        return self.consumed >= self.target

    @property
    def due_at(self) -> datetime | None:
        """When the target is (or was) reached; None while paused short of it."""
        return self.moment_at(self.target)

    def moment_at(self, counted: float) -> datetime | None:
        """When counted time reaches `counted`: in the past, ahead while running, else None."""
        before = 0.0
        for start, end in self.intervals:
            span = self.calendar.elapsed(start, end) if end is not None else None
            if span is None or before + span >= counted:
                return self.calendar.add(start, max(counted - before, 0.0))
            before += span
        return None


@dataclass(frozen=True)
class Notice:
    """A mail the clocks call for: a warning, an escalation level, or a customer update."""

    key: str  # unique on the ticket: "first_response:warning", "resolve:level:2", "update"
    kind: str  # "warning", "escalation" or "update"
    commitment: str  # "first_response", "resolve" or "update"
    level: int  # escalation level, from 1; 0 for the others
    at: datetime  # when it fell or falls due


@dataclass(frozen=True)
class Plan:
    due: tuple[Notice, ...]  # due now and not yet sent, oldest first
    next_check: datetime | None  # when the next notice falls due, if a clock is running


def clocks(events: Sequence[Mapping], policy: Policy, now: datetime) -> dict[str, SlaClock]:
    """Both commitments' clocks from the history, as of `now`."""
    moves = list(_relevant(events, CLOCK_ACTIONS, now))  # parsed once for both clocks
    return {c: _clock(c, moves, policy, now) for c in COMMITMENTS}


def _relevant(
    events: Sequence[Mapping], actions: tuple[str, ...], now: datetime
) -> Iterator[tuple[datetime, Mapping]]:
    """The first event and those with these actions, up to `now`, with their times parsed.

    Only these can move a clock; skipping the rest before parsing their times is most of the
    sweep's speed (times are ISO strings in UTC, so comparing the strings compares the times).
    """
    cutoff = iso(now)
    for index, event in enumerate(events):
        if event["at"] > cutoff:
            return
        if index == 0 or event["action"] in actions:
            yield parse_iso(event["at"]), event


def _clock(
    commitment: str, moves: Sequence[tuple[datetime, Mapping]], policy: Policy, now: datetime
) -> SlaClock:
    """One commitment's clock from the events that can move it (see `_relevant`)."""
    status, answered = "new", False
    intervals: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    stopped_at: datetime | None = None
    for at, event in moves:
        action = event["action"]
        if action == "status":
            status = event["detail"]["to"]
        elif action == "agent_reply":
            answered = True
        finished = status in DONE_STATUSES or (commitment == "first_response" and answered)
        runs = status in OPEN_STATUSES and not finished
        if runs and started is None:
            started = at
        elif not runs and started is not None:
            intervals.append((started, at))
            started = None
        # Stopped when it finishes, even if it was paused then (a reply or resolve while
        # pending); a reopen (or any status that is not finished) clears it.
        if not finished:
            stopped_at = None
        elif stopped_at is None:
            stopped_at = at
    if started is not None:
        intervals.append((started, None))
    calendar = policy.calendar
    consumed = sum(calendar.elapsed(s, e if e is not None else now) for s, e in intervals)
    return SlaClock(
        commitment=commitment,
        target=policy.target(commitment),
        consumed=consumed,
        running=started is not None,
        stopped_at=stopped_at,
        intervals=tuple(intervals),
        calendar=calendar,
    )


def next_update_at(events: Sequence[Mapping], policy: Policy, now: datetime) -> datetime | None:
    """When the customer is next owed word from us; None while nothing is being worked on.

    The interval runs from the last time they heard from us (acknowledgement, an agent's reply,
    an automatic update) or from when work resumed after waiting on them, whichever is later.
    On a business calendar the sum lands inside working hours: never at the customer's night.
    """
    status, since = "new", None
    for at, event in _relevant(events, UPDATE_ACTIONS, now):
        status, since = _owed_since(status, since, at, event)
    if status not in OPEN_STATUSES or since is None:
        return None
    return policy.calendar.add(since, policy.seconds(policy.update_every))


def update_deadlines(
    events: Sequence[Mapping], policy: Policy, now: datetime
) -> Iterator[tuple[datetime, datetime | None]]:
    """Each automatic update sent by `now`, with when it had fallen due (None: it was not owed,
    e.g. sent as the ticket went pending); one pass, for reports on punctuality."""
    status, since = "new", None
    interval = policy.seconds(policy.update_every)
    for at, event in _relevant(events, UPDATE_ACTIONS, now):
        if event["action"] == "update_sent":
            owed = status in OPEN_STATUSES and since is not None
            yield at, policy.calendar.add(since, interval) if owed else None
        status, since = _owed_since(status, since, at, event)


def _owed_since(
    status: str, since: datetime | None, at: datetime, event: Mapping
) -> tuple[str, datetime | None]:
    """One step of "since when is the customer owed word": the status after `event`, and the
    later of their last contact and the moment work resumed after waiting on them."""
    if event["action"] in CONTACTS:
        return status, at if since is None else max(since, at)
    if event["action"] == "status":
        resumed = status not in OPEN_STATUSES and event["detail"]["to"] in OPEN_STATUSES
        if resumed and since is not None:
            since = max(since, at)
        return event["detail"]["to"], since
    return status, since


def plan(
    events: Sequence[Mapping],
    policy: Policy,
    escalation: Escalation,
    now: datetime,
    *,
    updates: bool = True,
    grace: float = UPDATE_GRACE_SECONDS,
) -> Plan:
    """The notices due by `now` and not yet sent, and when to look at this ticket again.

    `updates` is False for customers maild does not write to automatically. A customer update
    never goes out while a business calendar is closed: one due at closing time may go up to
    `grace` seconds late (a sweep's granularity); past that it waits for the next opening.
    """
    sent = _sent_keys(events, policy, escalation)
    due: list[Notice] = []
    upcoming: list[datetime] = []
    for commitment, clock in clocks(events, policy, now).items():
        if clock.stopped_at is not None:
            continue  # kept (or missed) and done with: a warning now would only be noise
        for notice in _thresholds(commitment, clock, escalation, skip=sent):
            if notice.at > now:
                if clock.running:
                    upcoming.append(notice.at)
                break  # thresholds come in order: the rest are later still
            due.append(notice)
    if updates:
        update_at = next_update_at(events, policy, now)
        if update_at is not None:
            calendar = policy.calendar
            if update_at > now:
                upcoming.append(update_at)
            elif calendar.is_open(now) or (now - update_at).total_seconds() <= grace:
                due.append(Notice("update", "update", "update", 0, update_at))
            else:
                upcoming.append(calendar.next_open(now))
    due.sort(key=lambda n: (n.at, n.level))
    return Plan(tuple(due), min(upcoming) if upcoming else None)


def _thresholds(
    commitment: str, clock: SlaClock, escalation: Escalation, skip: set[str] = frozenset()
) -> Iterator[Notice]:
    """The clock's warning and escalation points in order, each with its moment.

    Points in `skip` are passed over without computing their moment (the costly part); the
    points after the first one not yet reached have no moment while the clock is paused.
    """
    points = [(f"{commitment}:warning", "warning", 0, escalation.warn_at * clock.target)]
    for level, step in enumerate(escalation.levels, start=1):
        after = step.after.seconds(clock.calendar.day_seconds)
        points.append((f"{commitment}:level:{level}", "escalation", level, clock.target + after))
    # In counted-time order whatever the config's order: callers stop at the first one ahead.
    points.sort(key=lambda point: (point[3], point[2]))
    for key, kind, level, counted in points:
        if key in skip:
            continue
        at = clock.moment_at(counted)
        if at is None:
            return
        yield Notice(key, kind, commitment, level, at)


def _sent_keys(events: Sequence[Mapping], policy: Policy, escalation: Escalation) -> set[str]:
    """Notices already sent for the commitments now in force.

    A priority or category change is a new commitment: notices from before it count only when,
    under the new policy too, they had fallen due by the change (the same breach continues).
    """
    last_change = max((e["at"] for e in events if e["action"] in POLICY_CHANGES), default=None)
    sent: set[str] = set()
    earlier: set[str] = set()
    for event in events:
        if event["action"] == "notice":
            late = last_change is None or event["at"] >= last_change
            (sent if late else earlier).add(event["detail"]["key"])
    if earlier and last_change is not None:
        sent |= earlier & _reached_keys(events, policy, escalation, parse_iso(last_change))
    return sent


def _reached_keys(
    events: Sequence[Mapping], policy: Policy, escalation: Escalation, moment: datetime
) -> set[str]:
    """Keys of the warning and escalation points reached by `moment` under `policy`."""
    return {
        notice.key
        for commitment, clock in clocks(events, policy, moment).items()
        for notice in _thresholds(commitment, clock, escalation)
        if notice.at <= moment
    }
