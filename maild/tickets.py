"""Changes to a ticket as events: who did what, when, and what the SLA clocks make of it.

Every change appends an event (the clocks read nothing else) and stores `next_check_at`, the
moment the sweep must look at the ticket again, so a sweep over 100,000 open tickets only
compares strings until something is actually due.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from maild.calendar import AlwaysOpen
from maild.classify import PRIORITIES, team_for
from maild.clock import iso, parse_iso
from maild.config import Config
from maild.durations import Duration
from maild.notify.notices import draft_page
from maild.notify.outbox import queue_mail
from maild.sla import DONE_STATUSES, plan
from maild.store import Store

log = logging.getLogger("maild.tickets")


class ChangeError(Exception):
    """A change that cannot be made; the message says why, for the agent who asked."""


def event(now: datetime, actor: str, action: str, **detail: Any) -> dict[str, Any]:
    return {"at": iso(now), "actor": actor, "action": action, "detail": detail}


_DAY = AlwaysOpen().day_seconds


def wall(duration: Duration) -> timedelta:
    """A [lifecycle] duration in wall-clock time ("5d" is five calendar days)."""
    return timedelta(seconds=duration.seconds(_DAY))


def lifecycle_due(ticket: dict[str, Any], config: Config) -> datetime | None:
    """When a resolved ticket closes by silence, or a closed one is archived."""
    if ticket["status"] == "resolved" and ticket.get("resolved_at"):
        return parse_iso(ticket["resolved_at"]) + wall(config.lifecycle.autoclose_after)
    if ticket["status"] == "closed" and ticket.get("closed_at") and not ticket.get("archived_at"):
        return parse_iso(ticket["closed_at"]) + wall(config.lifecycle.archive_after)
    return None


def next_check_at(ticket: dict[str, Any], config: Config, now: datetime) -> str | None:
    """When the sweep should next look at this ticket: now if something is due already."""
    if ticket["status"] in DONE_STATUSES:
        due = lifecycle_due(ticket, config)
        return iso(max(due, now)) if due is not None else None
    policy = config.policy_for(ticket["priority"], ticket["category"])
    found = plan(ticket["events"], policy, config.escalation, now, updates=ticket["updates"])
    if found.due:
        return iso(now)
    return iso(found.next_check) if found.next_check else None


def record(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    events: list[dict[str, Any]],
    now: datetime,
    **fields: Any,
) -> dict[str, Any]:
    """Append events and set fields in one update; returns the ticket as it now is."""
    updated = {**ticket, **fields, "events": [*ticket["events"], *events]}
    updated["next_check_at"] = next_check_at(updated, config, now)
    store.update_ticket(
        ticket["number"],
        {**fields, "events": updated["events"], "next_check_at": updated["next_check_at"]},
    )
    return updated


def page_if_due(
    store: Store, config: Config, ticket: dict[str, Any], *, text: str, now: datetime
) -> dict[str, Any] | None:
    """The paging event for a ticket of a paged priority not paged before, with its mail queued."""
    paging = config.paging
    if not paging.to or ticket["priority"] not in paging.priorities:
        return None
    if any(e["action"] == "paged" for e in ticket["events"]):
        return None
    policy = config.policy_for(ticket["priority"], ticket["category"])
    due = policy.calendar.add(now, policy.seconds(policy.first_response))
    draft = draft_page(config, ticket, text=text, first_response_due=due, now=now)
    queue_mail(store, draft, ticket=ticket["number"], kind="page", automatic=True, now=now)
    log.info("%s: paged %s", ticket["id"], ", ".join(paging.to))
    return event(now, "maild", "paged", to=list(paging.to))


def change(
    store: Store, config: Config, number: int, what: str, value: str, *, actor: str, now: datetime
) -> str:
    """An agent's override of priority or category; the SLA follows the new values."""
    if what == "priority" and value not in PRIORITIES:
        raise ChangeError(f"{value!r} is not a priority: use one of {', '.join(PRIORITIES)}")
    if what == "category" and not value.strip():
        raise ChangeError("a category needs a name")
    ticket = store.ticket(number)
    if ticket is None:
        raise ChangeError(f"no ticket {number}")
    old = ticket[what]
    if old == value:
        return f"{ticket['id']}: {what} is already {value}"
    fields: dict[str, Any] = {what: value, "updated_at": iso(now)}
    detail: dict[str, Any] = {"from": old, "to": value}
    if what == "category":
        team = team_for(value, config.teams)
        if team != ticket.get("team"):
            fields["team"] = detail["team"] = team
    events = [event(now, actor, what, **detail)]
    paged = page_if_due(
        store, config, {**ticket, **fields}, text=_first_text(store, ticket), now=now
    )
    if paged:
        events.append(paged)
    record(store, config, ticket, events, now, **fields)
    policy = config.policy_for(fields.get("priority", ticket["priority"]),
                               fields.get("category", ticket["category"]))  # fmt: skip
    log.info("%s: %s %s -> %s by %s", ticket["id"], what, old, value, actor)
    return f"{ticket['id']}: {what} {old} -> {value}; SLA policy {policy.name}"


def _first_text(store: Store, ticket: dict[str, Any]) -> str:
    """The customer's first message, quoted in a page."""
    first = ticket.get("first_message_id")
    for message in store.messages(ticket["number"]):
        if message["message_id"] == first:
            return str(message["text"])
    return ""
