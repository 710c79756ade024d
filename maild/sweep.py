"""The SLA sweep: warnings, escalations and customer updates that have fallen due.

Driven by each ticket's stored `next_check_at`, so a sweep after downtime catches up: every
notice that fell due while maild was down goes out once, oldest first. A notice is an event on
its ticket in the same commit as its mail in the outbox, so it is never sent twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from maild import workflow
from maild.clock import iso
from maild.config import Config
from maild.notify import wording
from maild.notify.notices import draft_alert, draft_update
from maild.notify.outbox import queue_mail
from maild.sla import DONE_STATUSES, Notice, clocks, next_update_at, plan
from maild.store import Store
from maild.tickets import event, record

log = logging.getLogger("maild.sweep")

HISTORY_LINES = 12
RETRY_AFTER = timedelta(minutes=15)  # a ticket whose notice failed (a bug) is tried again then


@dataclass
class SweepReport:
    checked: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # by kind: warning, escalation, update

    def count(self, kind: str) -> None:
        self.sent[kind] = self.sent.get(kind, 0) + 1


def policies_fingerprint(config: Config) -> str:
    """What the stored check times were computed from: policies, calendars, escalation and
    the lifecycle durations."""
    parts = []
    for name, policy in sorted(config.policies.items()):
        calendar = policy.calendar
        dates = [
            sorted(getattr(calendar, attr, ())) for attr in ("extra_holidays", "extra_workdays")
        ]
        parts.append((name, str(policy.first_response), str(policy.update_every),
                      str(policy.resolve), repr(calendar), dates))  # fmt: skip
    parts.append(repr(config.escalation))
    parts.append(repr(config.lifecycle))  # when resolved tickets close and closed ones archive
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def recheck_if_policies_changed(store: Store, config: Config, now: datetime) -> int:
    """After an admin changed the SLA config, every open ticket's next check is recomputed:
    one computed under the old policies could come too late. Returns how many were."""
    fingerprint = policies_fingerprint(config)
    if store.state("sla_fingerprint") == fingerprint:
        return 0
    with store.batch():
        open_tickets = [t for t in store.tickets() if t.get("next_check_at") or
                        t["status"] not in DONE_STATUSES]  # fmt: skip
        for ticket in open_tickets:
            record(store, config, ticket, [], now)
        store.set_state("sla_fingerprint", fingerprint)
    if open_tickets:
        log.info(
            "SLA settings changed: next checks of %d open tickets recomputed", len(open_tickets)
        )
    return len(open_tickets)


def sweep(store: Store, config: Config, now: datetime) -> SweepReport:
    """Send everything due by `now`, in the order it fell due, as one commit."""
    report = SweepReport()
    work: list[tuple[datetime, int, int, Notice]] = []
    tickets: dict[int, dict[str, Any]] = {}
    lifecycle: list[dict[str, Any]] = []
    for ticket in store.tickets_to_check(iso(now)):
        report.checked += 1
        if ticket["status"] in DONE_STATUSES:
            lifecycle.append(ticket)  # resolved and waiting for the customer, or closed
            continue
        tickets[ticket["number"]] = ticket
        policy = config.policy_for(ticket["priority"], ticket["category"])
        found = plan(ticket["events"], policy, config.escalation, now, updates=ticket["updates"])
        work.extend((n.at, n.level, ticket["number"], n) for n in found.due)
    if not tickets and not lifecycle:
        return report
    work.sort(key=lambda item: item[:3])
    sent: dict[int, list[dict[str, Any]]] = {number: [] for number in tickets}
    failed: set[int] = set()
    with store.batch():
        for _, _, number, notice in work:
            if number in failed:
                continue
            ticket = tickets[number]
            try:
                done = _send(store, config, {**ticket, "events": ticket["events"] + sent[number]},
                             notice, now)  # fmt: skip
            except Exception:
                log.exception("%s: %s failed; the ticket is tried again later", ticket["id"],
                              notice.key)  # fmt: skip
                failed.add(number)
                continue
            sent[number].append(done)
            report.count(notice.kind)
        for number, ticket in tickets.items():
            if number in failed:  # what it did send stays recorded; the rest waits a while
                store.update_ticket(number, {"events": ticket["events"] + sent[number],
                                             "next_check_at": iso(now + RETRY_AFTER)})  # fmt: skip
            else:
                record(store, config, ticket, sent[number], now)  # and the next check
        for ticket in lifecycle:
            try:
                done = workflow.advance(store, config, ticket, now)
            except Exception:
                log.exception("%s: closing or archiving failed; tried again later", ticket["id"])
                store.update_ticket(ticket["number"], {"next_check_at": iso(now + RETRY_AFTER)})
                continue
            if done:
                report.count(done)
            else:
                record(store, config, ticket, [], now)  # not yet: look again when it is
    if work:
        log.info("sweep: %d tickets looked at, sent %s", report.checked, report.sent)
    return report


def _send(
    store: Store, config: Config, ticket: dict[str, Any], notice: Notice, now: datetime
) -> dict[str, Any]:
    """Queue one notice's mail; returns the event that records it on the ticket."""
    policy = config.policy_for(ticket["priority"], ticket["category"])
    if notice.kind == "update":
        state = clocks(ticket["events"], policy, now)
        first, resolve = state["first_response"], state["resolve"]
        sent_at = event(now, "maild", "update_sent")
        draft = draft_update(
            config,
            ticket,
            policy,
            first_response_due=first.due_at if first.running and not first.breached else None,
            resolve_due=resolve.due_at if resolve.running and not resolve.breached else None,
            late=(first.running and first.breached) or (resolve.running and resolve.breached),
            next_update=next_update_at([*ticket["events"], sent_at], policy, now) or now,
            now=now,
        )
        queue_mail(store, draft, ticket=ticket["number"], kind="update", automatic=True, now=now)
        log.info("%s: progress update to %s", ticket["id"], ticket["customer"])
        return sent_at

    to = recipients(config, ticket, notice)
    detail: dict[str, Any] = {"key": notice.key, "due": iso(notice.at), "to": to}
    if to:
        clock = clocks(ticket["events"], policy, now)[notice.commitment]
        draft = draft_alert(
            config,
            ticket,
            policy,
            notice,
            clock,
            to=to,
            history=history(ticket, config),
            now=now,
        )
        queue_mail(store, draft, ticket=ticket["number"], kind=notice.kind, automatic=True, now=now)
        log.info("%s: %s %s to %s", ticket["id"], notice.kind, notice.key, ", ".join(to))
    else:
        log.warning(
            "%s: %s %s has nobody to go to: set [teams] and [escalation] levels",
            ticket["id"],
            notice.kind,
            notice.key,
        )
    return event(now, "maild", "notice", **detail)


def recipients(config: Config, ticket: dict[str, Any], notice: Notice) -> list[str]:
    """A warning goes to the ticket's agent, or its team while nobody has it; escalation level 1
    to the team lead and level 1's list; further levels to their own lists."""
    team = config.team(ticket.get("team"))
    agent = config.agent(ticket.get("assignee"))
    if notice.kind == "warning":
        found = [agent.address] if agent else list(team.recipients) if team else []
    else:
        level = config.escalation.levels[notice.level - 1] if config.escalation.levels else None
        found = list(level.to) if level else []
        if notice.level == 1 and team and team.lead:
            found.insert(0, team.lead)
    return list(dict.fromkeys(found))


def history(ticket: dict[str, Any], config: Config) -> list[str]:
    """The ticket's story in brief, for an escalation: the last events, one line each."""
    zone = config.support.timezone
    lines = []
    for e in ticket["events"][-HISTORY_LINES:]:
        when = wording.moment(datetime.fromisoformat(e["at"]), zone)
        detail = e.get("detail") or {}
        what = e["action"].replace("_", " ")
        if "from" in detail and "to" in detail:
            what += f" {detail['from']} -> {detail['to']}"
        elif "key" in detail:
            what += f" {detail['key'].replace(':', ' ')}"
        lines.append(f"{when}  {what} ({e['actor']})")
    return lines


def sla_view(ticket: dict[str, Any], config: Config, now: datetime) -> dict[str, Any]:
    """The ticket's commitments as of `now`, for `tickets show` and its JSON."""
    policy = config.policy_for(ticket["priority"], ticket["category"])
    shown = []
    for commitment, clock in clocks(ticket["events"], policy, now).items():
        if clock.stopped_at is not None:
            state = "missed" if clock.breached else "met"
        else:
            state = "running" if clock.running else "paused"
        due = clock.due_at
        shown.append(
            {
                "commitment": commitment,
                "target_s": clock.target,
                "due_at": iso(due) if due else None,
                "remaining_s": round(clock.target - clock.consumed),
                "state": state,
                "stopped_at": iso(clock.stopped_at) if clock.stopped_at else None,
            }
        )
    update = None
    if ticket.get("updates"):
        update = next_update_at(ticket["events"], policy, now)
    return {
        "policy": policy.name,
        "calendar": policy.calendar.name,
        "clocks": shown,
        "next_update_at": iso(update) if update else None,
    }
