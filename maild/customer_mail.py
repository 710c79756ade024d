"""A customer's mail on a ticket they already have: what it means depends on where the ticket is.

Working on it: the words join the ticket and the clocks resume if we were waiting. Resolved: a
short "yes" (or a plain thank-you) confirms and closes; anything else reopens. Closed: a reply
to the survey with a score is a rating, a plain thank-you is politeness, anything else reopens
within `reopen_within`, and after that starts a new ticket linked to the old one (decided by
`continues`, before the message is stored). Mail that names a ticket by its token from someone
with no part in it starts a new linked ticket too (decided by `may_join`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence, Set
from datetime import datetime
from typing import Any

from maild import workflow
from maild.answers import confirms_resolution, only_thanks, read_survey_answer
from maild.clock import parse_iso
from maild.config import Config
from maild.notify import wording
from maild.notify.notices import customer_zone
from maild.sla import WAITING_STATUS, clocks
from maild.store import Store
from maild.tickets import event, lifecycle_due, record, wall

log = logging.getLogger("maild.customer_mail")


def continues(
    ticket: dict[str, Any],
    words: str,
    replying_to: Sequence[str],
    config: Config,
    now: datetime,
) -> bool:
    """Whether this mail belongs on the ticket, or (a closed ticket, long ago) on a new one."""
    if ticket["status"] != "closed" or _survey_answer(ticket, words, replying_to) is not None:
        return True
    closed_at = ticket.get("closed_at")
    if closed_at is None:
        return True
    return parse_iso(closed_at) + wall(config.lifecycle.reopen_within) > now


def may_join(
    ticket: dict[str, Any], sender: str, config: Config, parties: Callable[[], Set[str]]
) -> bool:
    """Whether mail naming this ticket by its token in the subject may add to it.

    Ticket numbers are sequential, so anyone can write "[#MD-1001]". Only the ticket's customer,
    an agent, or an address the ticket's mail already went between (`parties`: To and Cc of its
    messages in and out, and those who wrote on it; asked last, as it may cost a scan) may join.
    Anyone else, a colleague at the same domain included unless they were in Cc, gets a new
    ticket linked to this one. Mail that threads by In-Reply-To or References is not asked: it
    names a Message-ID, which only someone who saw the mail knows.
    """
    address = sender.lower()
    return (
        address == ticket["customer"].lower()
        or config.agent(address) is not None
        or address in parties()
    )


def handle(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    *,
    sender: str,
    message_id: str,
    words: str,
    replying_to: Sequence[str],
    now: datetime,
    fields: dict[str, Any],
) -> str:
    """Record the message on the ticket and do what it means; returns what that was.

    Only the ticket's customer confirms, rates or reopens: a colleague in Cc, or mail from an
    agent's address that could not be trusted, adds words and nothing more.
    """
    wrote = event(now, sender, "customer_message", message_id=message_id)
    if sender.lower() != ticket["customer"].lower():
        record(store, config, ticket, [wrote], now, **fields)
        return "added (from someone other than the customer)"
    fields = {**fields, "last_message_id": message_id}
    status = ticket["status"]
    if status == "resolved" and (confirms_resolution(words) or only_thanks(words)):
        ticket = record(store, config, ticket, [wrote], now, **fields)
        workflow.close(store, config, ticket, sender, now, confirmed=True)
        return "confirmed the resolution"
    score = _survey_answer(ticket, words, replying_to) if status == "closed" else None
    if score is not None:
        ticket = record(store, config, ticket, [wrote], now, **fields)
        workflow.rate(store, config, ticket, score[0], score[1], now)
        return f"rated {score[0]}"
    if status == "closed" and only_thanks(words):
        record(store, config, ticket, [wrote], now, **fields)
        return "thanked us"
    if status in ("resolved", "closed"):
        ticket = record(store, config, ticket, [wrote], now, **fields)
        workflow.reopen(store, config, ticket, sender, now)
        return "reopened"
    events = [wrote]
    if status == WAITING_STATUS:
        events.append(event(now, sender, "status", **{"from": WAITING_STATUS, "to": "open"}))
        fields["status"] = "open"
    record(store, config, ticket, events, now, **fields)
    return "added"


def _survey_answer(
    ticket: dict[str, Any], words: str, replying_to: Sequence[str]
) -> tuple[int, str] | None:
    """(score, comment) when this is a reply to the ticket's survey mail that gives a score:
    "1 more thing: it fails again" sent as a new mail is not a rating."""
    survey = ticket.get("survey_message_id")
    if survey is None or survey not in replying_to:
        return None
    answer = read_survey_answer(words)
    return None if answer.score is None else (answer.score, answer.comment)


def status_line(
    ticket: dict[str, Any], config: Config, now: datetime, language: str
) -> dict[str, str]:
    """One ticket in a status reply: status, the agent's first name, the next promised time."""
    policy = config.policy_for(ticket["priority"], ticket["category"])
    zone = customer_zone(policy, config)
    state = clocks(ticket["events"], policy, now)
    first, resolve = state["first_response"], state["resolve"]
    zh = language == "zh"
    if ticket["status"] == "resolved":
        closes = lifecycle_due(ticket, config)
        when = wording.moment(closes, zone) if closes else ""
        upcoming = (
            f"等待您确认；{when} 自动关闭" if zh else f"awaiting your confirmation; closes {when}"
        )
    elif ticket["status"] == WAITING_STATUS:
        upcoming = "等待您的回复" if zh else "waiting for your reply"
    elif first.running and not first.breached and first.due_at:
        due = wording.moment(first.due_at, zone)
        upcoming = f"{due} 前首次答复" if zh else f"first answer by {due}"
    elif resolve.running and not resolve.breached and resolve.due_at:
        due = wording.moment(resolve.due_at, zone)
        upcoming = f"预计 {due} 前解决" if zh else f"to be resolved by {due}"
    else:
        upcoming = "正在优先处理" if zh else "being worked on with priority"
    agent = config.agent(ticket.get("assignee"))
    return {
        "id": ticket["id"],
        "subject": ticket["subject"],
        "status": wording.STATUS_NAMES[language][ticket["status"]],
        "assignee": agent.name.split()[0] if agent else "",
        "next": upcoming,
    }
