"""The persistent outbox: every outgoing mail is stored first, then delivered with retries.

A mail is queued in the same commit as the ticket change that caused it, keeps one Message-ID
for all its attempts, and is marked sent only after the server accepted it. A customer's mail
given up for good is told to the people who work its ticket.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from maild.clock import iso, parse_iso
from maild.config import Config
from maild.notify.compose import Draft, to_mime
from maild.notify.notices import draft_delivery_failed
from maild.notify.sender import DeliveryError, Transport
from maild.store import Store

log = logging.getLogger("maild.outbox")

GIVE_UP_AFTER = timedelta(days=2)
_FIRST_RETRY = timedelta(minutes=1)
_LONGEST_WAIT = timedelta(hours=1)
DELIVERY_FAILED = "delivery_failed"  # the ticket event, and the kind of the notice about it


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most an hour."""
    return min(_FIRST_RETRY * 2 ** max(attempts - 1, 0), _LONGEST_WAIT)


def queue_mail(
    store: Store,
    draft: Draft,
    *,
    ticket: int | None,
    kind: str,
    automatic: bool,
    now: datetime,
) -> str:
    """Stage a mail in the outbox and on its ticket; it goes out at the next flush."""
    mail_id = uuid.uuid4().hex
    stamp = iso(now)
    store.add_outgoing(
        {
            "id": mail_id,
            "message_id": draft.message_id,
            "ticket": ticket,
            "kind": kind,
            "automatic": automatic,
            "envelope_from": draft.sender,
            "recipients": list(draft.to),
            "draft": draft.to_stored(),
            "status": "pending",
            "attempts": 0,
            "created_at": stamp,
            "next_attempt_at": stamp,
            "last_error": None,
            "sent_at": None,
        }
    )
    store.add_message(
        {
            "message_id": draft.message_id,
            "ticket": ticket,
            "direction": "out",
            "kind": kind,
            "from": draft.sender,
            "from_name": draft.sender_name,
            "to": list(draft.to),
            "cc": [],
            "subject": draft.subject,
            "date": draft.date,
            "received_at": stamp,
            "in_reply_to": [draft.in_reply_to] if draft.in_reply_to else [],
            "references": list(draft.references),
            "text": draft.body,
            "attachments": [],
            "outbox_id": mail_id,
        }
    )
    return mail_id


@dataclass
class FlushReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    unreachable: bool = False  # the server could not be reached: the round stopped early


def flush(store: Store, transport: Transport, now: datetime, config: Config) -> FlushReport:
    """Try every due mail once; results are journalled one by one as they happen.

    `config` says who works each ticket: a customer's mail given up for good becomes an event on
    its ticket and a notice to them.
    """
    report = FlushReport()
    cutoff = iso(now)
    due = [m for m in store.outgoing("pending") if m["next_attempt_at"] <= cutoff]
    if not due:
        return report
    with transport:
        for mail in sorted(due, key=lambda m: m["created_at"]):
            if not _attempt(store, transport, mail, now, report, config):
                report.unreachable = True
                break
    return report


def _attempt(
    store: Store,
    transport: Transport,
    mail: dict[str, Any],
    now: datetime,
    report: FlushReport,
    config: Config,
) -> bool:
    """One delivery attempt; False when the server is unreachable and the round should stop."""
    attempts = mail["attempts"] + 1
    try:
        transport.send(mail["envelope_from"], mail["recipients"], _render(mail, store))
    except DeliveryError as e:
        gave_up = e.permanent or now - parse_iso(mail["created_at"]) >= GIVE_UP_AFTER
        fields = {"attempts": attempts, "last_error": str(e)}
        if gave_up:
            fields["status"] = "failed"
            report.failed += 1
            log.error(
                "outbox: giving up on %s to %s: %s", mail["message_id"], mail["recipients"], e
            )
            _tell_staff(store, config, {**mail, **fields}, now)
        else:
            fields["next_attempt_at"] = iso(now + retry_delay(attempts))
            report.deferred += 1
            log.warning("outbox: %s deferred (attempt %d): %s", mail["message_id"], attempts, e)
        store.record_delivery(mail["id"], fields)
        return not e.unreachable
    store.record_delivery(mail["id"], {"status": "sent", "attempts": attempts, "sent_at": iso(now)})
    report.sent += 1
    log.info("outbox: sent %s %s to %s", mail["kind"], mail["message_id"], mail["recipients"])
    return True


def _tell_staff(store: Store, config: Config, mail: dict[str, Any], now: datetime) -> None:
    """A customer's mail of a ticket failed for good: record it on the ticket and tell whoever
    works it. Committed before the failure is journalled, so a crash in between repeats the
    attempt, and the event found on the ticket keeps the notice from going twice."""
    ticket = store.ticket(mail["ticket"]) if mail["ticket"] is not None else None
    if ticket is None or mail["kind"] == DELIVERY_FAILED or not _to_customer(mail, ticket):
        return  # staff mail, or a notice about a failure: telling about those could loop
    if any(_same_failure(e, mail) for e in ticket["events"]):
        return
    detail = {"to": ", ".join(mail["recipients"]), "reply": mail["last_error"],
              "kind": mail["kind"], "mail": mail["id"], "attempt": mail["attempts"]}  # fmt: skip
    failed = {"at": iso(now), "actor": "maild", "action": DELIVERY_FAILED, "detail": detail}
    store.update_ticket(ticket["number"], {"events": [*ticket["events"], failed]})
    staff = _who_works(config, ticket)
    if staff:
        draft = draft_delivery_failed(config, ticket, mail, to=staff, now=now)
        queue_mail(store, draft, ticket=ticket["number"], kind=DELIVERY_FAILED, automatic=True,
                   now=now)  # fmt: skip
        log.warning("%s: %s to the customer failed; told %s", ticket["id"], mail["kind"], staff)
    else:
        log.error("%s: %s to the customer failed; no assignee, team or [admin] address to tell",
                  ticket["id"], mail["kind"])  # fmt: skip
    store.commit()


def _to_customer(mail: dict[str, Any], ticket: dict[str, Any]) -> bool:
    return ticket["customer"].lower() in (r.lower() for r in mail["recipients"])


def _same_failure(event: dict[str, Any], mail: dict[str, Any]) -> bool:
    """This attempt's failure, already recorded before a crash (a later retry is news)."""
    detail = event["detail"]
    return (
        event["action"] == DELIVERY_FAILED
        and detail.get("mail") == mail["id"]
        and detail.get("attempt") == mail["attempts"]
    )


def _who_works(config: Config, ticket: dict[str, Any]) -> tuple[str, ...]:
    """The assignee, else the ticket's team, else the admin: someone who can act on it."""
    agent = config.agent(ticket.get("assignee"))
    if agent is not None:
        return (agent.address,)
    team = config.team(ticket.get("team"))
    if team is not None and team.recipients:
        return team.recipients
    return (config.admin.address,) if config.admin.address else ()


def _render(mail: dict, store: Store) -> bytes:
    """The mail's bytes, the same on every attempt; a draft that makes no mail fails for good."""
    try:
        return to_mime(Draft.from_stored(mail["draft"]), store.read_file)
    except (ValueError, TypeError, KeyError, OSError) as e:
        raise DeliveryError(f"cannot compose this mail: {e}", permanent=True) from e
