"""Composing maild's mail: language, threading headers, loop protection, header safety."""

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta

import pytest

from maild.config import SupportConfig, parse_config
from maild.notify.compose import Draft, draft_acknowledgement, one_line, to_mime
from maild.notify.notices import draft_update

SUPPORT = SupportConfig(address="support@maild.test", name="客服中心 Support")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def ack(language: str = "en", **overrides: object):
    values: dict = {
        "support": SUPPORT,
        "language": language,
        "ticket_id": "MD-1042",
        "token": "[#MD-1042]",
        "priority": "general",
        "first_response": "8 working hours",
        "first_response_due": "2026-11-23 17:00 (UTC+08:00)",
        "customer": "wang@example.cn",
        "customer_name": "王伟",
        "subject": "系统崩溃",
        "text": "今天系统崩溃了\n> old quoted text",
        "in_reply_to": "<c2@example.cn>",
        "references": ["<c1@example.cn>"],
        "now": NOW,
    }
    draft = draft_acknowledgement(**{**values, **overrides})
    return draft, to_mime(draft)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_ack_headers_thread_and_protect_against_loops() -> None:
    draft, raw = ack()
    parsed = parse(raw)
    assert parsed["Message-ID"] == draft.message_id
    assert draft.message_id.endswith("@maild.test>")
    assert parsed["Date"].datetime == NOW
    assert parsed["In-Reply-To"] == "<c2@example.cn>"
    assert parsed["References"].split() == ["<c1@example.cn>", "<c2@example.cn>"]
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["To"] == "wang@example.cn"
    assert parsed["From"].addresses[0].addr_spec == "support@maild.test"
    assert parsed["From"].addresses[0].display_name == "客服中心 Support"
    assert "[#MD-1042]" in parsed["Subject"]


def test_rendering_is_deterministic_for_retries() -> None:
    draft, raw = ack()
    stored = json.loads(json.dumps(draft.to_stored()))
    assert to_mime(Draft.from_stored(stored)) == raw


def test_chinese_ack() -> None:
    _, raw = ack("zh", first_response="8个工作小时")
    parsed = parse(raw)
    assert parsed["Subject"].strip() == "[#MD-1042] 我们已收到您的问题：系统崩溃"
    body = parsed.get_body().get_content()
    assert (
        "工单 MD-1042" in body
        and "8个工作小时内，2026-11-23 17:00 (UTC+08:00) 前" in body
        and "一般" in body
    )
    assert "> 今天系统崩溃了" in body and "old quoted text" not in body
    assert parsed["Content-Language"] == "zh-CN"


def test_english_ack() -> None:
    parsed = parse(ack("en", subject="Payment failed", customer_name="")[1])
    body = parsed.get_body().get_content()
    assert parsed["Subject"].strip() == "[#MD-1042] We have received your request: Payment failed"
    assert "ticket MD-1042" in body and "within 8 working hours, by 2026-11-23 17:00" in body
    assert body.startswith("Hello,")


@pytest.mark.parametrize(
    "hostile",
    [
        "hello\r\nBcc: victim@example.com",
        "hello\nBcc: victim@example.com",
        "hello\rBcc: victim@example.com",
        "hello\u2028Bcc: victim@example.com",
        "hello\x00\x1b[31m",
    ],
)
def test_hostile_subject_and_name_never_become_headers(hostile: str) -> None:
    _, raw = ack(subject=hostile, customer_name=hostile)
    parsed = parse(raw)
    assert parsed["Bcc"] is None
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in header_block.split(b"\r\n"))
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]


def test_references_are_bounded() -> None:
    refs = [f"<r{i}@x>" for i in range(100)]
    parsed = parse(ack(references=refs)[1])
    chain = parsed["References"].split()
    assert len(chain) == 20 and chain[0] == "<r0@x>" and chain[-1] == "<c2@example.cn>"


def test_one_line_truncates() -> None:
    assert one_line("a\r\nb\tc") == "a b c"
    assert len(one_line("x" * 500, 50)) == 50


def test_update_promises_only_times_ahead_and_apologises_for_broken_ones() -> None:
    config = parse_config(
        {
            "support": {"address": "support@maild.test", "timezone": "Asia/Shanghai"},
            "store": {"path": "/tmp/unused"},
            "intake": {"mode": "smtp"},
            "smtp": {"host": "localhost"},
        }
    )
    ticket = {
        "number": 1042,
        "id": "MD-1042",
        "status": "new",
        "priority": "urgent",
        "category": "incident",
        "subject": "Outage",
        "customer": "alice@example.com",
        "customer_name": "Alice",
        "language": "en",
        "first_message_id": "<c1@example.com>",
        "last_message_id": "<c2@example.com>",
    }
    policy = config.policies["urgent"]
    values = {"resolve_due": None, "next_update": NOW + timedelta(hours=2), "now": NOW}
    ahead = draft_update(
        config, ticket, policy, first_response_due=NOW + timedelta(hours=1), late=False, **values
    )
    assert "will answer you by 2026-11-23 11:00 (UTC+08:00)" in ahead.body
    assert "by 2026-11-23 12:00 (UTC+08:00) at the latest" in ahead.body
    assert ahead.in_reply_to == "<c2@example.com>"
    assert ahead.references == ("<c1@example.com>", "<c2@example.com>")
    late = draft_update(config, ticket, policy, first_response_due=None, late=True, **values)
    assert "We are sorry" in late.body and "will answer you by" not in late.body
