"""A small store with a week worth reporting (2026-W47, Shanghai): breaches, a low score with
hostile text, a repeated complainant, two agents, a rising topic reported by several customers,
and quieter weeks before it. Written straight into the store, for the rendering tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from maild.clock import iso
from maild.config import Config, parse_config
from maild.periods import parse_period
from maild.report import Report, build
from maild.store import Store
from maild.tickets import event

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEK_START = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)  # Monday of 2026-W47
REPORTED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
HOSTILE = '<script>alert("x")</script> 太慢了 & <b>bold</b>'


def digest_config(root: Path) -> Config:
    return parse_config(
        {
            "support": {"address": "support@maild.test", "timezone": "Asia/Shanghai"},
            "store": {"path": str(root)},
            "intake": {"mode": "lmtp"},
            "smtp": {"transport": "folder", "folder": str(root / "out")},
            "agents": {
                "alice": {"address": "alice@staff.example", "name": "Alice Wang"},
                "bob": {"address": "bob@staff.example", "name": "Bob Li"},
            },
            "security": {"trust_agent_mail": "always"},
            "digest": {"recipients": ["ceo@maild.test"], "language": "zh"},
        }
    )


class _History:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.number = 1000

    def ticket(
        self,
        opened: datetime,
        customer: str,
        subject: str,
        body: str,
        steps: list[tuple[timedelta, str, str, dict[str, Any]]],
        *,
        priority: str = "urgent",
        category: str = "incident",
    ) -> None:
        """One ticket; `steps` are (after opening, actor, action, detail) in time order."""
        self.number += 1
        number = self.number
        message_id = f"<t{number}@customer.example>"
        events = [event(opened, customer, "opened")]
        status = "new"
        for after, actor, action, detail in steps:
            events.append(event(opened + after, actor, action, **detail))
            if action == "status":
                status = detail["to"]
        self.store.add_ticket(
            {
                "number": number, "id": f"MD-{number}", "status": status, "priority": priority,
                "category": category, "team": "support", "customer": customer,
                "subject": subject, "created_at": iso(opened), "updated_at": iso(opened),
                "first_message_id": message_id, "events": events,
                "assignee": next((e["detail"]["to"] for e in events if e["action"] == "assign"),
                                 None),
            }
        )  # fmt: skip
        self.store.add_message(
            {"message_id": message_id, "ticket": number, "direction": "in", "from": customer,
             "subject": subject, "text": body, "received_at": iso(opened)}
        )  # fmt: skip


def _reply(after: timedelta, agent: str) -> tuple[timedelta, str, str, dict[str, Any]]:
    return (after, f"{agent}@staff.example", "agent_reply", {})


def _status(after: timedelta, to: str, actor: str = "alice@staff.example") -> tuple:
    return (after, actor, "status", {"to": to})


def fill(store: Store) -> None:
    """The sample history; the comments give what the digest must say about W47."""
    history = _History(store)
    hour = timedelta(hours=1)
    # Quiet weeks before: one login question a week, answered in 30 min, resolved in 2 h.
    for weeks_back in range(1, 5):
        opened = WEEK_START - timedelta(weeks=weeks_back)
        history.ticket(opened, f"old{weeks_back}@example.com", "Login question",
                       "How do I change my password?",
                       [_reply(hour / 2, "alice"), _status(hour / 2, "open"),
                        _status(2 * hour, "closed")],
                       priority="general")  # fmt: skip
    # W47: the payment outage, reported by four customers.
    for index, customer in enumerate(("wang@example.cn", "li@example.com", "zhao@example.tw")):
        history.ticket(WEEK_START + index * hour, customer, "支付失败，无法下单",
                       "今天支付失败，页面报错，无法下单。",
                       [_reply(hour / 2, "alice"), _status(hour / 2, "open"),
                        _status(3 * hour, "resolved"), (3 * hour + hour, customer, "confirmed", {}),
                        _status(4 * hour, "closed", customer)])  # fmt: skip
    history.ticket(WEEK_START + 4 * hour, "chen@example.com", "Payment failed 支付失败",
                   "Checkout says payment failed. 支付失败，请尽快处理。",
                   [_reply(5 * hour, "bob"), _status(5 * hour, "open"),
                    (6 * hour, "bob@staff.example", "assign", {"to": "bob"})])  # fmt: skip
    # A rated ticket: score 1 with words that must reach the page as text, not markup.
    history.ticket(WEEK_START + timedelta(days=1), "angry@example.com", "退款太慢",
                   "退款两周还没到账。",
                   [_reply(hour, "bob"), _status(hour, "open"), _status(2 * hour, "closed"),
                    (3 * hour, "angry@example.com", "rated", {"score": 1, "comment": HOSTILE}),
                    (3 * hour, "maild", "complaints_alert",
                     {"who": "angry@example.com", "tickets": [1009]})],
                   priority="general", category="billing")  # fmt: skip


def sample_report(root: Path) -> tuple[Report, Config]:
    config = digest_config(root)
    with Store.open(root) as store:
        fill(store)
        store.commit()
        report = build(store, config, parse_period("2026-W47", SHANGHAI), REPORTED_AT)
    return report, config
