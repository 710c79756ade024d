"""The persistent outbox: every outgoing mail is stored first, then delivered with retries.

A mail is queued in the same commit as the ticket change that caused it, keeps one Message-ID
for all its attempts, and is marked sent only after the server accepted it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.clock import iso, parse_iso
from maild.notify.compose import Draft, to_mime
from maild.notify.sender import DeliveryError, Transport
from maild.store import Store

log = logging.getLogger("maild.outbox")

GIVE_UP_AFTER = timedelta(days=2)
_FIRST_RETRY = timedelta(minutes=1)
_LONGEST_WAIT = timedelta(hours=1)


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


def flush(store: Store, transport: Transport, now: datetime) -> FlushReport:
    """Try every due mail once; results are journalled one by one as they happen."""
    report = FlushReport()
    cutoff = iso(now)
    due = [m for m in store.outgoing("pending") if m["next_attempt_at"] <= cutoff]
    if not due:
        return report
    with transport:
        for mail in sorted(due, key=lambda m: m["created_at"]):
            if not _attempt(store, transport, mail, now, report):
                report.unreachable = True
                break
    return report


def _attempt(
    store: Store, transport: Transport, mail: dict, now: datetime, report: FlushReport
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


def _render(mail: dict, store: Store) -> bytes:
    """The mail's bytes, the same on every attempt; a draft that makes no mail fails for good."""
    try:
        return to_mime(Draft.from_stored(mail["draft"]), store.read_file)
    except (ValueError, TypeError, KeyError, OSError) as e:
        raise DeliveryError(f"cannot compose this mail: {e}", permanent=True) from e
