"""Repeated complaints: a customer who opens many tickets, or complains again, in a short time.

Each new ticket is noted under its customer's key (address, or domain for company customers);
crossing a threshold within the window alerts the team lead once per window. The recent
tickets live in the store's state under the key, so no scan of all tickets is needed.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from maild.calendar import AlwaysOpen
from maild.clock import iso, parse_iso
from maild.config import Config
from maild.notify.notices import draft_complaints
from maild.notify.outbox import queue_mail
from maild.store import Store
from maild.tickets import event

log = logging.getLogger("maild.complaints")

# Mailbox providers: their domain says nothing about which company a customer belongs to.
PUBLIC_MAIL_DOMAINS = frozenset(
    [
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.com.tw",
        "yahoo.com.hk",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "aol.com",
        "zoho.com",
        "hinet.net",
    ]
)


def customer_key(address: str, by: str) -> str:
    """What repeated complaints are counted by: the address, or a company's domain."""
    domain = address.rpartition("@")[2].lower()
    if by == "domain" and domain not in PUBLIC_MAIL_DOMAINS:
        return domain
    return address.lower()


def watch(store: Store, config: Config, ticket: dict[str, Any], now: datetime) -> dict | None:
    """Note a new ticket; alert once per window when its customer crosses a threshold.

    Returns the event to record on the ticket when an alert was raised.
    """
    rules = config.complaints
    window = timedelta(seconds=rules.within.seconds(AlwaysOpen().day_seconds))
    key = customer_key(ticket["customer"], rules.by)
    state_key = f"complaints:{key}"
    since = iso(now - window)
    noted = store.state(state_key) or {"recent": [], "alerted_at": None}
    recent = [r for r in noted["recent"] if r[0] >= since]
    recent.append([iso(now), ticket["number"], bool(ticket.get("complaint"))])
    alerted_at = noted["alerted_at"]
    complaints = sum(1 for r in recent if r[2])
    crossed = len(recent) >= rules.tickets or complaints >= rules.complaints
    quiet = alerted_at is not None and alerted_at > since
    raised = None
    if crossed and not quiet:
        raised = _alert(store, config, ticket, key, recent, complaints, now, window)
        alerted_at = iso(now)
    store.set_state(state_key, {"recent": recent, "alerted_at": alerted_at})
    return raised


def _alert(
    store: Store,
    config: Config,
    ticket: dict[str, Any],
    key: str,
    recent: list[list[Any]],
    complaints: int,
    now: datetime,
    window: timedelta,
) -> dict[str, Any]:
    team = config.team(ticket.get("team"))
    to = list(dict.fromkeys([*([team.lead] if team and team.lead else []), *config.complaints.to]))
    tickets = [store.ticket(number) or ticket for _, number, _ in recent]
    if to:
        draft = draft_complaints(
            config,
            ticket,
            to=to,
            who=key,
            tickets=tickets,
            complaints=complaints,
            quiet_until=parse_iso(iso(now)) + window,
            now=now,
        )
        queue_mail(
            store, draft, ticket=ticket["number"], kind="complaints", automatic=True, now=now
        )
        log.warning("repeated complaints from %s: alert to %s", key, ", ".join(to))
    else:
        log.warning("repeated complaints from %s, and no team lead or [complaints] to", key)
    return event(
        now, "maild", "complaints_alert", who=key, tickets=[t["number"] for t in tickets], to=to
    )
