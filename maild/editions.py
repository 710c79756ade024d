"""When the digest goes out: once per period, after the period, at the configured slot.

The last period sent is kept in the store, so a restart never sends an edition twice, and
after downtime only the latest owed edition goes out (once): a digest of a week three weeks
ago, arriving late, would only bury the one that matters. On the very first run nothing is
owed yet: the first edition is the next one due.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from maild.config import Config
from maild.notify.digest import draft_digest, render
from maild.notify.outbox import queue_mail
from maild.periods import Period, reported_at, slot_after, slot_before
from maild.report import build
from maild.store import Store

log = logging.getLogger("maild.digest")


def _state_key(kind: str) -> str:
    return f"digest:{kind}"


def kinds(config: Config) -> tuple[str, ...]:
    """The editions scheduled: weekly when there are recipients, monthly when asked for too."""
    if not config.digest.enabled:
        return ()
    return ("week", "month") if config.digest.monthly else ("week",)


def owed(store: Store, config: Config, now: datetime) -> list[Period]:
    """The editions due by `now` and not yet sent (at most one of each kind). On the first run
    of a kind there are none: the edition due then is recorded as the starting point."""
    digest, tz = config.digest, ZoneInfo(config.digest.timezone)
    due = []
    for kind in kinds(config):
        slot = slot_before(kind, now, digest.weekday, digest.hour, tz)
        period = reported_at(kind, slot, tz)
        sent = store.state(_state_key(kind))
        if sent is None:
            store.set_state(_state_key(kind), period.label)  # first run: start from the next
            log.info("digest: first %s edition due at %s", kind, slot_after(
                kind, now, digest.weekday, digest.hour, tz).isoformat())  # fmt: skip
        elif sent < period.label:
            due.append(period)
    return due


def send(store: Store, config: Config, period: Period, now: datetime) -> list[str]:
    """Queue the digest of `period` to every recipient list; returns the subjects queued."""
    report = build(store, config, period, now)
    subjects = []
    for recipients in config.digest.lists:
        if not recipients.recipients:
            continue
        rendered = render(report, config, recipients.language)
        draft = draft_digest(config, rendered, recipients, now)
        queue_mail(store, draft, ticket=None, kind="digest", automatic=True, now=now)
        subjects.append(rendered.subject)
        log.info("digest %s to %s: %s", period.label, ", ".join(draft.to), rendered.subject)
    return subjects


def send_due(store: Store, config: Config, now: datetime) -> list[str]:
    """Send every owed edition and record it, in one commit per edition."""
    subjects = []
    for period in owed(store, config, now):
        with store.batch():
            subjects += send(store, config, period, now)
            store.set_state(_state_key(period.kind), period.label)
    if store.uncommitted:
        store.commit()  # the first run's starting point
    return subjects


def send_now(store: Store, config: Config, period: Period, now: datetime) -> list[str]:
    """`maild digest --send`: this period's digest now, in the caller's batch. It counts as
    sent: the scheduled edition for the same period does not go out again."""
    if not config.digest.enabled:
        raise ValueError("no [digest] recipients are configured: set [digest] recipients")
    subjects = send(store, config, period, now)
    sent = store.state(_state_key(period.kind))
    if period.end <= now and (sent is None or sent < period.label):
        store.set_state(_state_key(period.kind), period.label)
    return subjects


def next_digest_at(config: Config, now: datetime) -> datetime | None:
    """When the next edition is due; None when no digest is configured."""
    digest, tz = config.digest, ZoneInfo(config.digest.timezone)
    slots = [slot_after(kind, now, digest.weekday, digest.hour, tz) for kind in kinds(config)]
    return min(slots, default=None)
