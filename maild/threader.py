"""Which ticket a message belongs to: pure functions over subjects and Message-IDs.

Order, as in RT and Zammad: the ticket token in the subject, then In-Reply-To, then References
(newest first). Subject similarity alone never joins a ticket: two customers may write "help".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Reply and forward markers of the mail clients our customers use, in English, Chinese
# (simplified and traditional), German, Nordic and Dutch, optionally numbered ("Re[2]:").
_REPLY_PREFIX = re.compile(
    r"^\s*(?:re|fwd?|aw|wg|sv|vs|antw|回复|回覆|答复|答覆|转发|轉寄|转寄|转|轉)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


def ticket_token(prefix: str, number: int) -> str:
    """The token maild puts in subjects, e.g. [#MD-1042]."""
    return f"[#{prefix}-{number}]"


def ticket_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number}"


def _token_pattern(prefix: str) -> re.Pattern[str]:
    # Tolerates what mail clients and people do to a token: full-width brackets, missing '#',
    # spaces inside, full-width or missing dash, lower case.
    return re.compile(
        r"[\[［【]\s*[#＃]?\s*" + re.escape(prefix) + r"\s*[-－_]?\s*(\d{1,9})\s*[\]］】]",
        re.IGNORECASE,
    )


def ticket_numbers_in(subject: str, prefix: str) -> list[int]:
    """Every ticket number whose token appears in a subject, in order of appearance."""
    return [int(m.group(1)) for m in _token_pattern(prefix).finditer(subject)]


def strip_reply_prefixes(subject: str) -> str:
    """'RE: 回复: Fwd: x' → 'x'; also folds runs of whitespace."""
    subject = _SPACE.sub(" ", subject).strip()
    while True:
        shorter = _REPLY_PREFIX.sub("", subject, count=1)
        if shorter == subject:
            return subject
        subject = shorter


def clean_subject(subject: str, prefix: str) -> str:
    """The subject a ticket is filed under: no reply markers, no ticket tokens."""
    without_tokens = _token_pattern(prefix).sub(" ", subject)
    return strip_reply_prefixes(without_tokens)


@dataclass(frozen=True)
class ThreadMatch:
    ticket: int | None
    how: str  # "token", "in-reply-to", "references" or "new"


def find_ticket(
    subject: str,
    in_reply_to: Sequence[str],
    references: Sequence[str],
    *,
    prefix: str,
    ticket_exists: Callable[[int], bool],
    ticket_of_message: Callable[[str], int | None],
) -> ThreadMatch:
    """The ticket a message continues, or ThreadMatch(None, "new")."""
    for number in ticket_numbers_in(subject, prefix):
        if ticket_exists(number):
            return ThreadMatch(number, "token")
    for message_id in in_reply_to:
        number = ticket_of_message(message_id)
        if number is not None:
            return ThreadMatch(number, "in-reply-to")
    for message_id in reversed(references):
        number = ticket_of_message(message_id)
        if number is not None:
            return ThreadMatch(number, "references")
    return ThreadMatch(None, "new")
