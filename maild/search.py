"""Finding tickets by what was written: Chinese or English, Simplified or Traditional.

Query and text are folded the same way as for classification (width, case, Traditional to
Simplified), so "無法登入" finds "无法登入" and "OUTAGE" finds "outage". Every word of the query
must appear in the ticket's subject, customer, id or one of its messages.
"""

from __future__ import annotations

from typing import Any

from maild.classify import normalise
from maild.store import Store


def search(store: Store, text: str) -> list[dict[str, Any]]:
    """Tickets (archived ones included) in which every word of `text` appears, by number."""
    words = normalise(text).split()
    if not words:
        return []
    tickets = {t["number"]: t for t in store.tickets(archived=True)}
    haystacks = {
        number: [
            normalise(f"{t['id']} {t['subject']} {t['customer']} {t.get('customer_name', '')}")
        ]
        for number, t in tickets.items()
    }
    for message in store.iter_messages():
        number = message.get("ticket")
        if number in haystacks:
            haystacks[number].append(normalise(f"{message.get('subject', '')} {message['text']}"))
    return [
        tickets[number]
        for number, texts in sorted(haystacks.items())
        if all(any(word in t for t in texts) for word in words)
    ]
