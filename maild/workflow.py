"""What agents and customers do to a ticket: reply, assign, wait, resolve, confirm, close,
reopen, merge, comment, rate. One function per action, shared by mail and the command line.

Each action is events on the ticket (who, when, what) plus the mails it causes, in the caller's
store batch. Invalid requests raise ChangeError with a message for the person who asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from maild.clock import iso, parse_iso
from maild.config import Agent, Config
from maild.notify.notices import (
    draft_closed,
    draft_relay,
    draft_resolution,
    draft_review,
    draft_survey,
)
from maild.notify.outbox import queue_mail
from maild.sla import DONE_STATUSES, OPEN_STATUSES, WAITING_STATUS
from maild.store import Store
from maild.tickets import ChangeError, event, lifecycle_due, record, wall

log = logging.getLogger("maild.workflow")

LOW_SCORES = (1, 2)  # a score that opens a review


def ticket_or_error(store: Store, number: int) -> dict[str, Any]:
    ticket = store.ticket(number)
    if ticket is None:
        raise ChangeError(f"no ticket {number}")
    return ticket


def _status(ticket: dict[str, Any], to: str, actor: str, now: datetime) -> dict[str, Any]:
    return event(now, actor, "status", **{"from": ticket["status"], "to": to})


def reply(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    agent: Agent,
    text: str,
    now: datetime,
    attachments: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Relay an agent's words (and files) to the customer: the first one is the first response."""
    draft = draft_relay(config, ticket, agent, text, attachments=attachments, now=now)
    queue_mail(store, draft, ticket=ticket["number"], kind="reply", automatic=False, now=now)
    events = [event(now, agent.address, "agent_reply", message_id=draft.message_id)]
    fields: dict[str, Any] = {"updated_at": iso(now)}
    if ticket["status"] == "new":
        events.append(_status(ticket, "open", agent.address, now))
        fields["status"] = "open"
    if not ticket.get("assignee"):
        events.append(event(now, agent.address, "assign", **{"from": None, "to": agent.key}))
        fields["assignee"] = agent.key
    log.info("%s: %s replied to the customer", ticket["id"], agent.address)
    return record(store, config, ticket, events, now, **fields)


def assign(
    store: Store, config: Config, ticket: dict[str, Any], who: str, actor: str, now: datetime
) -> dict[str, Any]:
    agent = config.agent(who)
    if agent is None:
        known = ", ".join(a.key for a in config.agents) or "none configured"
        raise ChangeError(f"no agent {who!r} (agents: {known})")
    if ticket.get("assignee") == agent.key:
        return ticket
    detail = {"from": ticket.get("assignee"), "to": agent.key}
    return record(
        store, config, ticket, [event(now, actor, "assign", **detail)], now, assignee=agent.key
    )


def set_status(
    store: Store, config: Config, ticket: dict[str, Any], to: str, actor: str, now: datetime
) -> dict[str, Any]:
    """Waiting on the customer ("pending": the clocks pause) or back to work ("open")."""
    if to not in (WAITING_STATUS, "open"):
        raise ChangeError(f"status {to!r}: use pending or open (resolve and close have commands)")
    if ticket["status"] in DONE_STATUSES:
        raise ChangeError(f"{ticket['id']} is {ticket['status']}: reopen it first")
    if ticket["status"] == to:
        return ticket
    return record(
        store, config, ticket, [_status(ticket, to, actor, now)], now, status=to,
        updated_at=iso(now),
    )  # fmt: skip


def resolve(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    note: str,
    actor: str,
    now: datetime,
    *,
    attachments: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """Ask the customer to confirm the resolution by replying; silence closes it later."""
    if ticket["status"] in DONE_STATUSES:
        raise ChangeError(f"{ticket['id']} is already {ticket['status']}")
    autoclose_on = now + wall(config.lifecycle.autoclose_after)
    draft = draft_resolution(
        config, ticket, note, autoclose_on=autoclose_on, attachments=attachments, now=now
    )
    queue_mail(store, draft, ticket=ticket["number"], kind="resolution", automatic=False, now=now)
    events = [{**_status(ticket, "resolved", actor, now), "detail": {
        "from": ticket["status"], "to": "resolved", "note": note.strip()}}]  # fmt: skip
    log.info("%s: resolved by %s; the customer is asked to confirm", ticket["id"], actor)
    return record(
        store, config, ticket, events, now, status="resolved", resolved_at=iso(now),
        updated_at=iso(now),
    )  # fmt: skip


def close(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    actor: str,
    now: datetime,
    *,
    confirmed: bool = False,
    notify: bool = True,
) -> dict[str, Any]:
    """Close: with a closing note to the customer and, at most once per period, a survey."""
    if ticket["status"] == "closed":
        raise ChangeError(f"{ticket['id']} is already closed")
    events = [_status(ticket, "closed", actor, now)]
    if confirmed:
        events.insert(0, event(now, actor, "confirmed"))
    fields: dict[str, Any] = {"status": "closed", "closed_at": iso(now), "updated_at": iso(now)}
    fields["confirmed"] = confirmed
    closing = {**ticket, **fields}
    if notify and ticket.get("updates", True):
        how = "confirmed" if confirmed else "silence" if actor == "maild" else "closed"
        draft = draft_closed(config, closing, how=how, now=now)
        queue_mail(store, draft, ticket=ticket["number"], kind="closed", automatic=True, now=now)
        survey = _survey_if_due(store, config, closing, now)
        if survey:
            events.append(event(now, "maild", "survey_sent", message_id=survey))
            fields["survey_sent_at"] = iso(now)
            fields["survey_message_id"] = survey
    log.info("%s: closed by %s%s", ticket["id"], actor, " (confirmed)" if confirmed else "")
    return record(store, config, ticket, events, now, **fields)


def reopen(
    store: Store, config: Config, ticket: dict[str, Any], actor: str, now: datetime
) -> dict[str, Any]:
    """Back to work: the SLA clocks resume where they stopped; an archived ticket is back in
    the lists, and the old confirmation and survey no longer count."""
    if ticket["status"] in OPEN_STATUSES or ticket["status"] == WAITING_STATUS:
        raise ChangeError(f"{ticket['id']} is not resolved or closed")
    if ticket.get("merged_into"):
        raise ChangeError(f"{ticket['id']} was merged into {ticket['merged_into']}: reopen that")
    events = [event(now, actor, "reopened"), _status(ticket, "open", actor, now)]
    log.info("%s: reopened by %s", ticket["id"], actor)
    return record(
        store, config, ticket, events, now, status="open", resolved_at=None, closed_at=None,
        archived_at=None, confirmed=False, survey_message_id=None, updated_at=iso(now),
    )  # fmt: skip


def merge(
    store: Store, config: Config, ticket: dict[str, Any], into: int, actor: str, now: datetime
) -> dict[str, Any]:
    """The ticket continues in another (the same issue reported twice): closed silently, and
    mail that threads to it from now on joins the other."""
    target = ticket_or_error(store, into)
    if target["number"] == ticket["number"] or target.get("merged_into"):
        raise ChangeError(f"cannot merge {ticket['id']} into {target['id']}")
    if ticket.get("merged_into") or ticket["status"] == "closed":
        raise ChangeError(f"{ticket['id']} is closed already")
    if target["customer"].lower() != ticket["customer"].lower():
        raise ChangeError(
            f"{ticket['id']} and {target['id']} are different customers' tickets: "
            "answer each customer in their own"
        )
    record(
        store, config, target, [event(now, actor, "merged", **{"from": ticket["id"]})], now,
        updated_at=iso(now),
    )  # fmt: skip
    events = [event(now, actor, "merged", into=target["id"]), _status(ticket, "closed", actor, now)]
    log.info("%s: merged into %s by %s", ticket["id"], target["id"], actor)
    return record(
        store, config, ticket, events, now, status="closed", closed_at=iso(now),
        merged_into=target["number"], updated_at=iso(now),
    )  # fmt: skip


def comment(
    store: Store, config: Config, ticket: dict[str, Any], text: str, actor: str, now: datetime
) -> dict[str, Any]:
    """An internal note: on the ticket, never sent to the customer."""
    if not text.strip():
        raise ChangeError("#comment needs the note's text after it")
    return record(store, config, ticket, [event(now, actor, "comment", text=text.strip())], now)


def rate(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    score: int,
    remark: str,
    now: datetime,
) -> dict[str, Any]:
    """The customer's satisfaction score: kept once; 1 or 2 opens a review with the team lead."""
    if ticket.get("satisfaction") is not None:
        extra = event(now, ticket["customer"], "survey_repeated", score=score, comment=remark)
        return record(store, config, ticket, [extra], now)
    events = [event(now, ticket["customer"], "rated", score=score, comment=remark)]
    fields: dict[str, Any] = {"satisfaction": score, "satisfaction_comment": remark}
    if score in LOW_SCORES:
        fields["review"] = True
        team = config.team(ticket.get("team"))
        to = [team.lead] if team and team.lead else list(team.recipients) if team else []
        if to:
            draft = draft_review(config, ticket, to=to, score=score, comment=remark, now=now)
            queue_mail(
                store, draft, ticket=ticket["number"], kind="review", automatic=True, now=now
            )
        events.append(event(now, "maild", "review_opened", to=to))
    log.info("%s: rated %d by the customer", ticket["id"], score)
    return record(store, config, ticket, events, now, **fields)


def _survey_if_due(
    store: Store, config: Config, ticket: dict[str, Any], now: datetime
) -> str | None:
    """The survey's Message-ID, when one is due: a ticket somebody worked on, and one survey per
    customer per `survey_every` (the time of the last one is kept per address)."""
    worked = any(
        e["action"] == "agent_reply"
        or (e["action"] == "status" and e["detail"]["to"] == "resolved")
        for e in ticket["events"]
    )
    if not worked:  # spam or a duplicate closed at once: nothing to rate
        return None
    key = f"survey:{ticket['customer'].lower()}"
    last = store.state(key)
    if last is not None and parse_iso(last) > now - wall(config.lifecycle.survey_every):
        return None
    draft = draft_survey(config, ticket, now=now)
    queue_mail(store, draft, ticket=ticket["number"], kind="survey", automatic=True, now=now)
    store.set_state(key, iso(now))
    return draft.message_id


def advance(store: Store, config: Config, ticket: dict[str, Any], now: datetime) -> str | None:
    """The sweep's part: close a resolved ticket nobody answered; archive an old closed one."""
    due = lifecycle_due(ticket, config)
    if due is None or due > now:
        return None
    if ticket["status"] == "resolved":
        close(store, config, ticket, "maild", now)
        return "autoclosed"
    record(store, config, ticket, [event(now, "maild", "archived")], now, archived_at=iso(now))
    return "archived"
