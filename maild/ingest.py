"""Taking one raw message into the store: parse, dedupe, filter, thread, ticket, acknowledge.

Runs inside a store batch; the caller commits the batch before it tells the source (IMAP, the
spool) that the message is done. Nothing here sends mail: acknowledgements go to the outbox.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from maild import agent_mail, complaints, customer_mail, loops
from maild.agentmail import trim_reply
from maild.answers import is_status_request
from maild.calendar import AlwaysOpen
from maild.classify import classify
from maild.clock import iso
from maild.config import Agent, Config
from maild.intake.filters import automatic_reason
from maild.intake.parse import ParsedMessage, ParseError
from maild.intake.parse_pool import Parsed, ParserPool
from maild.language import detect_language
from maild.notify import wording
from maild.notify.compose import draft_acknowledgement
from maild.notify.notices import (
    customer_zone,
    draft_agent_lost,
    draft_loop,
    draft_new_ticket,
    draft_status,
    draft_untrusted,
)
from maild.notify.outbox import queue_mail
from maild.store import Store
from maild.threader import ThreadMatch, clean_subject, find_ticket, ticket_id, ticket_token
from maild.tickets import event, next_check_at, page_if_due, record

log = logging.getLogger("maild.ingest")

MAX_STORED_TEXT = 200_000
MAX_SUBJECT = 500  # a hostile megabyte of subject is not worth keeping twice
# An address maild answers automatically: printable ASCII, one @, a dotted domain. Stranger
# senders still get their ticket; a person decides whether and how to answer them.
_ANSWERABLE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_DAY = AlwaysOpen().day_seconds


@dataclass(frozen=True)
class Outcome:
    """What became of one message, for logs, the CLI and tests."""

    result: str  # "created", "added", "duplicate", "filtered", "looping" or "quarantined"
    message_id: str | None = None
    ticket: int | None = None
    reason: str = ""


def ingest(
    store: Store, raw: bytes, msg: Parsed, *, config: Config, now: datetime, source: str
) -> Outcome:
    """Take one parsed message in; never raises for anything the message contains."""
    if isinstance(msg, ParseError):
        return quarantine(store, raw, reason=str(msg), source=source, now=now)
    msg = _identified(store, msg)
    if store.has_message(msg.message_id):
        log.info("duplicate %s from %s ignored", msg.message_id, source)
        return Outcome("duplicate", msg.message_id, store.ticket_of_message(msg.message_id))
    if not msg.from_addr:
        return quarantine(store, raw, reason="no sender address", source=source, now=now)

    prefix = config.support.ticket_prefix
    match = find_ticket(
        msg.subject,
        msg.in_reply_to,
        msg.references,
        prefix=prefix,
        ticket_exists=lambda n: store.ticket(n) is not None,
        ticket_of_message=store.ticket_of_message,
    )
    automatic = _automatic(msg, config)
    ticket = _follow_merges(store, match.ticket)
    link = None
    if ticket is not None and match.how == "token" and not _party(store, config, msg, match):
        link, ticket = (ticket["number"], "not_a_party"), None
    if ticket is None and automatic:
        _store_message(store, msg, raw, ticket=None, kind="automatic", now=now, note=automatic)
        log.info("filtered %s from %s: %s", msg.message_id, msg.from_addr, automatic)
        return Outcome("filtered", msg.message_id, None, automatic)
    if ticket is not None and automatic:
        _store_message(store, msg, raw, ticket=ticket["number"], kind="automatic", now=now,
                       note=automatic)  # fmt: skip
        store.update_ticket(ticket["number"], _counted(ticket, now))
        log.info("automatic %s from %s kept on %s", msg.message_id, msg.from_addr, ticket["id"])
        return Outcome("added", msg.message_id, ticket["number"], automatic)

    words = trim_reply(msg.text)
    agent = config.agent(msg.from_addr)
    trusted, distrust = agent_mail.trusted(msg, config) if agent else (False, "")
    if agent is not None and trusted:
        if ticket is None:
            _store_message(store, msg, raw, ticket=None, kind="agent", now=now, note=None)
            draft = draft_agent_lost(config, agent, subject=msg.subject, now=now)
            queue_mail(store, draft, ticket=None, kind="receipt", automatic=True, now=now)
            log.info("agent %s wrote without a ticket token: told so", agent.key)
            return Outcome("filtered", msg.message_id, None, "agent mail without a ticket")
        stored = _store_message(store, msg, raw, ticket=ticket["number"], kind="agent", now=now,
                                note=None)  # fmt: skip
        store.update_ticket(ticket["number"], _counted(ticket, now))
        ticket = {**ticket, **_counted(ticket, now)}
        files = [a for a in stored if not a["inline"]]  # not a signature's logo
        agent_mail.handle(store, config, ticket, agent, words, now, attachments=files)
        return Outcome("added", msg.message_id, ticket["number"], "agent")
    if is_status_request(msg.subject, words):
        return _answer_status_request(store, msg, raw, config=config, ticket=ticket, now=now)
    replying_to = (*msg.in_reply_to, *msg.references)
    if ticket is not None and not customer_mail.continues(ticket, words, replying_to, config, now):
        link, ticket = (ticket["number"], "closed_long_ago"), None
    if ticket is None:
        outcome = _new_ticket(store, msg, raw, words, config=config, now=now, link=link)
        number = outcome.ticket
    else:
        number = ticket["number"]
        _store_message(store, msg, raw, ticket=number, kind="customer", now=now, note=None)
        did = customer_mail.handle(
            store,
            config,
            ticket,
            sender=msg.from_addr,
            message_id=msg.message_id,
            words=words,
            replying_to=replying_to,
            now=now,
            fields=_counted(ticket, now),
        )
        log.info("%s from %s on %s (by %s): %s", msg.message_id, msg.from_addr, ticket["id"],
                 match.how, did)  # fmt: skip
        outcome = Outcome("added", msg.message_id, number)
    if agent is not None and not trusted and number is not None:
        _tell_agent_untrusted(store, config, agent, number, distrust, now)
    return outcome


def _counted(ticket: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"updated_at": iso(now), "message_count": ticket["message_count"] + 1}


def _follow_merges(store: Store, number: int | None) -> dict[str, Any] | None:
    """The ticket a message belongs to, following merges (at most a few hops)."""
    chain = _merge_chain(store, number)
    return chain[-1] if chain else None


def _merge_chain(store: Store, number: int | None) -> list[dict[str, Any]]:
    """The ticket with this number and those it was merged into, in order (at most a few)."""
    ticket = store.ticket(number) if number is not None else None
    chain = []
    while ticket is not None and len(chain) < 11:
        chain.append(ticket)
        ticket = store.ticket(ticket["merged_into"]) if ticket.get("merged_into") else None
    return chain


def _party(store: Store, config: Config, msg: ParsedMessage, match: ThreadMatch) -> bool:
    """Whether the sender of mail naming a ticket by its token may write on it (see
    customer_mail.may_join); the parties of tickets merged into it count too."""
    chain = _merge_chain(store, match.ticket)

    def parties() -> frozenset[str]:
        return frozenset().union(*(store.ticket_parties(t["number"]) for t in chain))

    return customer_mail.may_join(chain[-1], msg.from_addr, config, parties)


def _identified(store: Store, msg: ParsedMessage) -> ParsedMessage:
    """The message under the id it is kept by. A different mail under a Message-ID already
    stored (two customers behind one web form) gets an id derived from its content, so it is
    kept, and In-Reply-To naming the original id still threads to the first. A true redelivery,
    or an id stored before fingerprints were kept, keeps its id: the caller sees a duplicate.

    Mail without a Message-ID gets one from its content, not its bytes, so that a redelivery
    with other trace headers is seen as one (unless stored under the bytes' id already)."""
    if msg.synthetic_id and not store.has_message(msg.message_id):
        return replace(msg, message_id=f"<{msg.fingerprint[:32]}@maild.invalid>")
    known = store.fingerprint_of_message(msg.message_id)
    if known is None:
        return msg
    if known == msg.fingerprint:
        return msg
    own = f"<{msg.fingerprint[:16]}.{msg.message_id.strip('<>')}>"
    log.warning("%s reused by a different message: kept as %s", msg.message_id, own)
    note = f"Message-ID {msg.message_id} was already used by a different message: kept as {own}"
    return replace(msg, message_id=own, notes=(*msg.notes, note))


def _tell_agent_untrusted(
    store: Store, config: Config, agent: Agent, number: int, reason: str, now: datetime
) -> None:
    """Mail from an agent's address that could not be trusted: kept as a customer's, and the
    agent hears why (if it was forged, the real agent learns that someone uses their address)."""
    ticket = store.ticket(number)
    assert ticket is not None
    draft = draft_untrusted(config, ticket, agent, reason=reason, now=now)
    queue_mail(store, draft, ticket=number, kind="untrusted", automatic=True, now=now)
    log.warning("%s: mail from agent address %s not trusted: %s", ticket["id"], agent.address,
                reason)  # fmt: skip


def _answer_status_request(
    store: Store,
    msg: ParsedMessage,
    raw: bytes,
    *,
    config: Config,
    ticket: dict[str, Any] | None,
    now: datetime,
) -> Outcome:
    """'状态' / 'status': the sender's open tickets, by sender address only; no new ticket."""
    number = ticket["number"] if ticket else None
    _store_message(store, msg, raw, ticket=number, kind="status_request", now=now, note=None)
    outcome = Outcome("added" if number else "filtered", msg.message_id, number, "status request")
    if not _ANSWERABLE.fullmatch(msg.from_addr) or _over_hourly_cap(store, config, msg, now):
        return outcome
    language = detect_language(msg.subject, msg.text, fallback=config.support.language)
    listed = [
        customer_mail.status_line(t, config, now, language)
        for t in store.tickets()
        if t["customer"] == msg.from_addr and t["status"] not in ("closed",)
    ]
    draft = draft_status(
        config,
        customer=msg.from_addr,
        name=msg.from_name,
        language=language,
        tickets=listed,
        in_reply_to=msg.message_id,
        now=now,
    )
    queue_mail(store, draft, ticket=number, kind="status", automatic=True, now=now)
    log.info("status of %d open tickets sent to %s", len(listed), msg.from_addr)
    return outcome


def ingest_batch(
    store: Store,
    items: list[tuple[bytes, str]],
    *,
    parser: ParserPool,
    config: Config,
    now: datetime,
) -> list[Outcome]:
    """Take in (raw, source) pairs as one commit; a bug on one message quarantines only it."""
    parsed = parser.submit([raw for raw, _ in items]).results()
    broken: dict[int, str] = {}
    while True:
        try:
            with store.batch():
                return [
                    quarantine(store, raw, reason=broken[i], source=source, now=now)
                    if i in broken
                    else ingest_checked(store, raw, msg, config=config, now=now, source=source)
                    for i, ((raw, source), msg) in enumerate(zip(items, parsed, strict=True))
                ]
        except IngestFailed as failed:
            broken[items.index((failed.raw, failed.source))] = failed.reason


class IngestFailed(Exception):
    """A bug in maild, not the message, stopped its ingest half-way.

    Whatever it staged is unknown, so the caller rolls the batch back and takes it again with
    this message quarantined: no half-made ticket or stray acknowledgement survives.
    """

    def __init__(self, raw: bytes, source: str, reason: str) -> None:
        super().__init__(reason)
        self.raw, self.source, self.reason = raw, source, reason


def ingest_checked(
    store: Store, raw: bytes, msg: Parsed, *, config: Config, now: datetime, source: str
) -> Outcome:
    """ingest(), with any internal error logged and raised as IngestFailed."""
    try:
        return ingest(store, raw, msg, config=config, now=now, source=source)
    except Exception as e:
        log.exception("internal error on a message from %s", source)
        raise IngestFailed(raw, source, f"internal error: {type(e).__name__}: {e}") from e


def quarantine(
    store: Store, raw: bytes | None, *, reason: str, source: str, now: datetime, size: int = 0
) -> Outcome:
    """Keep mail maild cannot take in, with the reason, for an operator to inspect."""
    record = {"reason": reason, "source": source, "received_at": iso(now)}
    qid = store.put_quarantined(raw, {**record, "size": len(raw) if raw is not None else size})
    log.warning("quarantined %s from %s: %s", qid, source, reason)
    return Outcome("quarantined", None, None, reason)


def _automatic(msg: ParsedMessage, config: Config) -> str | None:
    """Why a message must not be answered: a robot wrote it, or it is maild's own mail."""
    if msg.from_addr == config.support.address or "x-maild-ticket" in msg.headers:
        return "maild's own mail"
    return automatic_reason(msg)


def _new_ticket(
    store: Store,
    msg: ParsedMessage,
    raw: bytes,
    words: str,
    *,
    config: Config,
    now: datetime,
    link: tuple[int, str] | None,
) -> Outcome:
    """A new ticket, unless the mail is one more turn of a mail loop (see maild.loops): then it
    is kept on the loop's latest ticket, unanswered. The mail that makes a loop of this sender's
    unanswered look-alike tickets still opens its ticket, but is not acknowledged, and the admin
    is told once; the loop's state lives in the store, so a restart does not tell again."""
    key = f"loop:{msg.from_addr.lower()}"
    window = timedelta(seconds=config.limits.loop_window.seconds(_DAY))
    history = loops.History.from_state(store.state(key))
    body = loops.body_print(words)
    loop = loops.ongoing(history, body, now, window)
    if loop is not None:
        store.set_state(key, loops.after_loop_mail(history, now).to_state())
        return _keep_loop_mail(store, msg, raw, loop, now)
    alike = loops.unanswered_alike(history, body, now, window, lambda n: _answered(store, n))
    looping = loops.starts_loop(alike, config.limits.loop_tickets)
    outcome = _open_ticket(store, msg, raw, config=config, now=now, link=link,
                           acknowledge=not looping)  # fmt: skip
    assert outcome.ticket is not None
    history = loops.after_opening(history, outcome.ticket, body, now, window, loop=looping)
    store.set_state(key, history.to_state())
    if looping:
        _loop_found(store, config, msg.from_addr, [*alike, outcome.ticket], window, now)
    return outcome


def _answered(store: Store, number: int) -> bool:
    """Whether an agent ever answered on this ticket: then its mail is a conversation."""
    ticket = store.ticket(number)
    return ticket is None or any(e["action"] == "agent_reply" for e in ticket["events"])


def _keep_loop_mail(
    store: Store, msg: ParsedMessage, raw: bytes, loop: loops.Loop, now: datetime
) -> Outcome:
    """One more turn of a loop: kept on its latest ticket as automatic mail, nothing sent."""
    ticket = _follow_merges(store, loop.ticket)
    number = ticket["number"] if ticket else None
    note = f"mail loop: {msg.from_addr} sends this text again and again"
    _store_message(store, msg, raw, ticket=number, kind="automatic", now=now, note=note)
    if ticket is not None:
        store.update_ticket(ticket["number"], _counted(ticket, now))
    log.info("mail loop: %s from %s kept on %s, not answered", msg.message_id, msg.from_addr,
             ticket["id"] if ticket else "no ticket")  # fmt: skip
    return Outcome("looping", msg.message_id, number, note)


def _loop_found(
    store: Store,
    config: Config,
    sender: str,
    numbers: list[int],
    window: timedelta,
    now: datetime,
) -> None:
    """Mark the loop's tickets (no progress updates to a robot either) and tell the admin."""
    tickets = []
    for number in numbers:
        ticket = store.ticket(number)
        assert ticket is not None
        found = event(now, "maild", "mail_loop", sender=sender, tickets=numbers)
        tickets.append(record(store, config, ticket, [found], now, updates=False))
    log.warning("mail loop: %s opened %d look-alike tickets unanswered; no more answers to it",
                sender, len(numbers))  # fmt: skip
    if config.admin.address is None:
        log.warning("no [admin] address: nobody is told about the mail loop with %s", sender)
        return
    draft = draft_loop(config, tickets, sender=sender, window=window, now=now)
    queue_mail(store, draft, ticket=numbers[-1], kind="loop", automatic=True, now=now)


def _open_ticket(
    store: Store,
    msg: ParsedMessage,
    raw: bytes,
    *,
    config: Config,
    now: datetime,
    link: tuple[int, str] | None,
    acknowledge: bool,
) -> Outcome:
    """A new ticket: classified, acknowledged, announced to its team, paged if it must be.

    `link` is (ticket, why) when the mail named a ticket it cannot join: the new ticket is
    linked to that one, and that one's events say so."""
    support = config.support
    number = store.allocate_ticket_number()
    language = detect_language(msg.subject, msg.text, fallback=support.language)
    stamp = iso(now)
    subject = clean_subject(msg.subject, support.ticket_prefix)[:MAX_SUBJECT]
    found = classify(
        config.rules,
        config.teams,
        subject=msg.subject,
        body=msg.text,
        sender=msg.from_addr,
        recipients=[*msg.to, *msg.cc],
    )
    answerable = bool(_ANSWERABLE.fullmatch(msg.from_addr))
    ticket: dict[str, Any] = {
        "number": number,
        "id": ticket_id(support.ticket_prefix, number),
        "status": "new",
        "priority": found.priority,
        "category": found.category,
        "team": found.team,
        "rules": list(found.matched),
        "complaint": found.complaint,
        "customer": msg.from_addr,
        "customer_name": msg.from_name,
        "subject": subject or _no_subject(language),
        "language": language,
        "created_at": stamp,
        "updated_at": stamp,
        "message_count": 1,
        "first_message_id": msg.message_id,
        "last_message_id": msg.message_id,
        "updates": answerable,  # progress updates go only where acknowledgements may go
        "events": [event(now, msg.from_addr, "opened", rules=list(found.matched))],
        "assignee": None,
        "satisfaction": None,
        "confirmed": False,
        "linked_to": link[0] if link else None,
    }
    if link is not None:
        ticket["events"][0]["detail"].update(linked_to=link[0], why=link[1])
    _store_message(store, msg, raw, ticket=number, kind="customer", now=now, note=None)
    policy = config.policy_for(found.priority, found.category)
    due = policy.calendar.add(now, policy.seconds(policy.first_response))
    events = ticket["events"]
    acknowledged = answerable and acknowledge
    if acknowledged and _acknowledge(store, msg, config=config, ticket=ticket, due=due, now=now):
        events.append(event(now, "maild", "acknowledged"))
    team = config.team(found.team)
    if team is not None:
        draft = draft_new_ticket(
            config, ticket, team, policy, text=msg.text, first_response_due=due, now=now
        )
        queue_mail(store, draft, ticket=number, kind="new_ticket", automatic=True, now=now)
        events.append(event(now, "maild", "team_notified", team=team.name))
    paged = page_if_due(store, config, ticket, text=msg.text, now=now)
    if paged:
        events.append(paged)
    alerted = complaints.watch(store, config, ticket, now)
    if alerted:
        events.append(alerted)
    ticket["next_check_at"] = next_check_at(ticket, config, now)
    store.add_ticket(ticket)
    if link is not None:
        _note_link(store, config, link, ticket, now)
    log.info(
        "ticket %s opened from %s (%s): %s/%s%s",
        ticket["id"],
        msg.from_addr,
        msg.message_id,
        found.priority,
        found.category,
        "" if answerable else ", not acknowledged: not an address maild answers",
    )
    return Outcome("created", msg.message_id, number)


def _note_link(
    store: Store, config: Config, link: tuple[int, str], new: dict[str, Any], now: datetime
) -> None:
    """The ticket a mail named but could not join learns which ticket the mail opened instead
    (its customer is told nothing)."""
    linked = store.ticket(link[0])
    if linked is None:
        return
    noted = event(now, "maild", "linked", ticket=new["id"], sender=new["customer"], why=link[1])
    record(store, config, linked, [noted], now)
    log.info("%s names %s (%s): opened as %s", new["first_message_id"], linked["id"], link[1],
             new["id"])  # fmt: skip


def _acknowledge(
    store: Store,
    msg: ParsedMessage,
    *,
    config: Config,
    ticket: dict[str, Any],
    due: datetime,
    now: datetime,
) -> bool:
    """Queue the acknowledgement unless this sender already had its hourly share of robots."""
    if _over_hourly_cap(store, config, msg, now):
        return False
    support = config.support
    language = ticket["language"]
    policy = config.policy_for(ticket["priority"], ticket["category"])
    draft = draft_acknowledgement(
        support=support,
        language=language,
        ticket_id=ticket["id"],
        token=ticket_token(support.ticket_prefix, ticket["number"]),
        priority=ticket["priority"],
        first_response=wording.commitment(policy.first_response, policy.calendar, language),
        first_response_due=wording.moment(due, customer_zone(policy, config)),
        customer=msg.from_addr,
        customer_name=msg.from_name,
        subject=ticket["subject"],
        text=msg.text,
        in_reply_to=msg.message_id,
        references=msg.references,
        now=now,
    )
    queue_mail(store, draft, ticket=ticket["number"], kind="ack", automatic=True, now=now)
    return True


def _over_hourly_cap(store: Store, config: Config, msg: ParsedMessage, now: datetime) -> bool:
    """This sender had its hourly share of automatic answers (a loop, or a forged sender)."""
    limit = config.limits.auto_replies_per_hour
    if store.auto_replies_since(msg.from_addr, now - timedelta(hours=1)) < limit:
        return False
    log.warning("no automatic answer to %s: %d already this hour", msg.from_addr, limit)
    return True


def _store_message(
    store: Store,
    msg: ParsedMessage,
    raw: bytes,
    *,
    ticket: int | None,
    kind: str,
    now: datetime,
    note: str | None,
) -> list[dict[str, Any]]:
    """Store the message (raw bytes, attachments, the parsed record); returns its attachments."""
    attachments: list[dict[str, Any]] = [
        {
            "filename": a.filename,
            "content_type": a.content_type,
            "size": len(a.payload),
            "stored_as": store.put_attachment(a.payload),
            "inline": a.inline,
        }
        for a in msg.attachments
    ]
    store.add_message(
        {
            "message_id": msg.message_id,
            "ticket": ticket,
            "direction": "in",
            "kind": kind,
            "automatic": note,
            "from": msg.from_addr,
            "from_name": msg.from_name,
            "to": list(msg.to),
            "cc": list(msg.cc),
            "subject": msg.subject[:MAX_SUBJECT],
            "date": iso(msg.date) if msg.date else None,
            "received_at": iso(now),
            "in_reply_to": list(msg.in_reply_to),
            "references": list(msg.references),
            "text": msg.text[:MAX_STORED_TEXT],
            "attachments": attachments,
            "raw": store.put_raw(raw),
            "synthetic_id": msg.synthetic_id,
            "notes": list(msg.notes),
            "fingerprint": msg.fingerprint,
        }
    )
    return attachments


def _no_subject(language: str) -> str:
    return "（无主题）" if language == "zh" else "(no subject)"
