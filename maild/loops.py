"""Mail loops: a robot that answers every acknowledgement with a fresh, unthreaded mail.

A naive autoresponder sends no Auto-Submitted or Precedence header and keeps no In-Reply-To,
so each of its answers opens a new ticket and earns a new acknowledgement, which it answers
again; the hourly cap on automatic answers only slows that down. What gives it away is the
content: the same words ticket after ticket, and nobody at the desk ever answering. A person
who writes twice has two different things to say.

Pure: the caller keeps each sender's `History` in the store and asks these functions what it
means. Only the sender's own tickets of the last window are kept, so a check costs a few
comparisons, not a scan of the store.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from maild.clock import iso, parse_iso

# Tickets remembered per sender: enough for any threshold, bounded against a flood of
# different mails from one address (each would otherwise make the state longer).
MAX_REMEMBERED = 100

_TICKET_TOKEN = re.compile(r"[\[［【]\s*[#＃]?\s*[A-Za-z]+\s*[-－_]?\s*\d+\s*[\]］】]")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def body_print(words: str) -> str:
    """What stays the same between a robot's answers: the text without quoted lines, ticket
    tokens, digits (dates, counters), whitespace and case, hashed; "" when nothing is left,
    because an empty mail (a file sent alone) says nothing about who wrote it."""
    own = "\n".join(line for line in words.splitlines() if not line.lstrip().startswith(">"))
    kept = _SPACE.sub("", _DIGITS.sub("", _TICKET_TOKEN.sub("", own))).casefold()
    return hashlib.sha256(kept.encode()).hexdigest()[:32] if kept else ""


@dataclass(frozen=True)
class Opened:
    """One ticket the sender's mail opened."""

    at: datetime
    ticket: int
    body: str  # its body_print


@dataclass(frozen=True)
class Loop:
    """A loop in progress; it ends when the sender has been quiet for a whole window."""

    body: str
    ticket: int  # the latest ticket of the loop: later loop mail is kept on it
    since: datetime
    last_at: datetime  # the latest mail of the loop


@dataclass(frozen=True)
class History:
    """One sender's new tickets of the last window, and the loop they are in, if any."""

    opened: tuple[Opened, ...] = ()
    loop: Loop | None = None

    def to_state(self) -> dict[str, Any]:
        """Plain JSON data for the store."""
        loop = self.loop
        return {
            "opened": [[iso(o.at), o.ticket, o.body] for o in self.opened],
            "loop": None
            if loop is None
            else [loop.body, loop.ticket, iso(loop.since), iso(loop.last_at)],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> History:
        if state is None:
            return cls()
        opened = tuple(Opened(parse_iso(at), n, body) for at, n, body in state["opened"])
        kept = state["loop"]
        if kept is None:
            return cls(opened)
        body, ticket, since, last_at = kept
        return cls(opened, Loop(body, ticket, parse_iso(since), parse_iso(last_at)))


def ongoing(history: History, body: str, now: datetime, window: timedelta) -> Loop | None:
    """The loop this mail continues: same text, and the loop not quiet for a window yet."""
    loop = history.loop
    if loop is None or not body or loop.body != body or now - loop.last_at >= window:
        return None
    return loop


def unanswered_alike(
    history: History,
    body: str,
    now: datetime,
    window: timedelta,
    answered: Callable[[int], bool],
) -> list[int]:
    """The sender's tickets of the window with this same text that no agent has answered."""
    if not body:
        return []
    return [
        o.ticket
        for o in history.opened
        if o.body == body and now - o.at < window and not answered(o.ticket)
    ]


def starts_loop(alike: list[int], threshold: int) -> bool:
    """Whether a new ticket with the text of `alike` makes `threshold` of them: a loop."""
    return len(alike) + 1 >= threshold


def after_opening(
    history: History,
    ticket: int,
    body: str,
    now: datetime,
    window: timedelta,
    *,
    loop: bool,
) -> History:
    """The history once this ticket is opened (starting a loop on it if `loop`)."""
    recent = [o for o in history.opened if now - o.at < window]
    opened = (*recent, Opened(now, ticket, body))[-MAX_REMEMBERED:]
    kept = history.loop
    if kept is not None and now - kept.last_at >= window:
        kept = None
    if loop:
        kept = Loop(body, ticket, now, now)
    return History(opened, kept)


def after_loop_mail(history: History, now: datetime) -> History:
    """The history once one more mail of its loop came in: the loop stays alive."""
    assert history.loop is not None
    return replace(history, loop=replace(history.loop, last_at=now))
