"""A scripted week of tickets replayed with `maild once --now` every 30 minutes, and every mail
maild sent held against the charter's rules: nothing early, nothing later than one step, nothing
twice, no customer update at night on a business calendar, no notice for a commitment already
kept, and updates never closer together than the interval."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from maild.config import Config, load_config
from maild.sla import CONTACTS, OPEN_STATUSES
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_end_to_end import customer_mail
from tests.test_sla_end_to_end import SLA_TOML, Clockwork, start_clockwork

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI)  # a Monday
STEP = timedelta(minutes=30)
STEPS = 7 * 48
AGENT_TOML = """
[agents.alice]
address = "alice@staff.example"
name = "Alice Wang"
team = "support"

[security]
trust_agent_mail = "always"
"""
SUBJECTS = [
    ("系统崩溃，无法登录", "今天系统崩溃了"),
    ("Outage on the API", "Everything returns 500."),
    ("报错 E42", "导出时报错"),
    ("Export is broken", "The export does not work."),
    ("发票问题", "请问发票什么时候开？"),
    ("Question about my invoice", "When will the invoice come?"),
    ("我要投诉", "服务太差了"),
]


def script(seed: int = 11) -> dict[int, list[tuple[str, str, str, str]]]:
    """Mails by step: (sender, subject, body, kind) — tickets, agent replies, pending
    questions, customer answers, resolutions and confirmations, deterministic per seed."""
    rng = random.Random(seed)
    by_step: dict[int, list[tuple[str, str, str, str]]] = {}

    def at(step: int, *mail: str) -> None:
        if step < STEPS:
            by_step.setdefault(step, []).append(mail)  # type: ignore[arg-type]

    number = 1000
    for step in sorted(rng.sample(range(STEPS - 48), 36)):
        number += 1
        customer = f"c{number}@example.com"
        subject, body = rng.choice(SUBJECTS)
        at(step, customer, subject, body, "customer")
        token = f"[#MD-{number}]"
        behaviour = rng.random()
        if behaviour < 0.25:
            continue  # nobody answers: updates and escalations all week
        reply_at = step + rng.randint(1, 20)
        if behaviour < 0.5:
            at(reply_at, "alice@staff.example", f"Re: {token} x", "我们正在处理。", "agent")
        elif behaviour < 0.75:
            question = "#status pending\nCould you send a screenshot?"
            at(reply_at, "alice@staff.example", f"Re: {token} x", question, "agent")
            at(
                reply_at + rng.randint(2, 60),
                customer,
                f"Re: {token} {subject}",
                "截图见附件",
                "customer",
            )
        else:
            at(reply_at, "alice@staff.example", f"Re: {token} x", "#resolve\nFixed.", "agent")
            if rng.random() < 0.5:
                at(
                    reply_at + rng.randint(1, 10),
                    customer,
                    f"Re: {token} {subject}",
                    "解决了",
                    "customer",
                )
    return by_step


@pytest.fixture
def week(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> Clockwork:
    return start_clockwork(
        dovecot, imap_account, smtp_server, config_file, capsys, SLA_TOML, AGENT_TOML
    )


def test_a_week_of_tickets_keeps_every_rule_hour_by_hour(week: Clockwork) -> None:
    mails = script()
    for step in range(STEPS):
        now = START + step * STEP
        for sender, subject, body, _ in mails.get(step, ()):
            week.loop.deliver(customer_mail(sender, subject, body))
        week.at(now.isoformat())
    config = load_config(Path(week.loop.config))
    end = (START + STEPS * STEP).isoformat()
    tickets = [week.show(t["id"], end) for t in week.loop.tickets(week.capsys)]
    assert len(tickets) == 36
    checked = {"notices": 0, "updates": 0}
    for ticket in tickets:
        check_ticket(ticket, config, checked)
    # The script exercises every rule at least a few times.
    assert checked["notices"] >= 20 and checked["updates"] >= 20


def check_ticket(ticket: dict, config: Config, checked: dict[str, int]) -> None:
    events = ticket["events"]
    moment = {id(e): datetime.fromisoformat(e["at"]) for e in events}
    policy = config.policy_for(ticket["priority"], ticket["category"])
    opened = moment[id(events[0])]
    assert any(e["action"] == "acknowledged" and moment[id(e)] == opened for e in events)

    keys = [e["detail"]["key"] for e in events if e["action"] == "notice"]
    assert len(keys) == len(set(keys)), f"{ticket['id']}: a notice twice: {keys}"
    answered = next((moment[id(e)] for e in events if e["action"] == "agent_reply"), None)
    for e in events:
        if e["action"] != "notice":
            continue
        checked["notices"] += 1
        due = datetime.fromisoformat(e["detail"]["due"])
        sent = moment[id(e)]
        assert due <= sent < due + STEP, f"{ticket['id']}: {e['detail']['key']} early or late"
        if e["detail"]["key"].startswith("first_response") and answered is not None:
            assert sent < answered, f"{ticket['id']}: first-response notice after the answer"
    for commitment in ("first_response", "resolve"):
        order = [k for k in keys if k.startswith(commitment)]
        assert order == sorted(order, key=_rank), f"{ticket['id']}: out of order {order}"

    status, last_contact = "new", None
    every = policy.seconds(policy.update_every)
    calendar = policy.calendar
    for e in events:
        at = moment[id(e)]
        if e["action"] == "update_sent":
            checked["updates"] += 1
            assert status in OPEN_STATUSES, f"{ticket['id']}: an update while {status}"
            open_hour = calendar.is_open(at) or calendar.is_open(at - timedelta(minutes=1))
            assert open_hour, f"{ticket['id']}: an update at {at} outside working hours"
            assert last_contact is not None
            assert calendar.elapsed(last_contact, at) >= every - 1, f"{ticket['id']}: too soon"
        if e["action"] in CONTACTS:
            last_contact = at
        elif e["action"] == "status":
            resumed = status not in OPEN_STATUSES and e["detail"]["to"] in OPEN_STATUSES
            status = e["detail"]["to"]
            if resumed and last_contact is not None:
                last_contact = max(last_contact, at)


def _rank(key: str) -> int:
    """warning < level:1 < level:2 < …"""
    return 0 if key.endswith("warning") else int(key.rpartition(":")[2])
