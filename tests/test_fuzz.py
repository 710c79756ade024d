"""Fuzzing intake (issue 11): hostile mail through the real parse and ingest into a real store.

Every input must end as a ticket, a recorded automatic message, a duplicate or a quarantine
record, the store must agree when reopened, and nothing may raise. A quarantine whose reason
is the parser's or ingest's safety net counts as a failure too: the mail was kept, but an
exception nobody foresaw was raised on it. The seed is fixed and no example database is kept,
so CI runs the same inputs every time; bench/fuzz.py runs the same strategies for longer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from maild.store import Store
from tests.fuzz_mail import (
    CI,
    CRLF,
    SUPPORT,
    Batch,
    describe,
    hostile_mail,
    mail_batches,
    take_in,
    verdict,
)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

ORDINARY = (
    b"From: Alice Smith <alice@example.com>\r\nTo: " + SUPPORT.encode() + b"\r\n"
    b"Subject: Cannot log in\r\nMessage-ID: <after-the-poison@example.com>\r\n\r\n"
    b"Hello, I cannot log in since this morning.\r\n"
)


def _headers(*lines: bytes) -> bytes:
    return CRLF.join([b"From: wang.wei@example.cn", b"To: " + SUPPORT.encode(), *lines]) + CRLF


# The poison kinds issue 11 found on main, and its slow ones.
DEEP_ATTACHED = (
    _headers(b"Subject: nested", b"Message-ID: <deep@example.cn>")
    + b"Content-Type: message/rfc822\r\n\r\n" * 400
    + b"Subject: bottom\r\n\r\nhello\r\n"
)
CAFE = _headers(b"Subject: =?utf-8?q?caf\xe9?=", b"Message-ID: <cafe@example.cn>") + b"\r\nhi\r\n"
RAW_GBK_WORD = (
    _headers(b"Subject: =?gbk?q?" + "中文客服".encode("gbk") + b"?=", b"Message-ID: <gbk@x.cn>")
    + b"\r\n"
    + "你好".encode("gbk")
    + b"\r\n"
)
AT_SIGNS_ID = _headers(b"Subject: ids", b"Message-ID: <" + b"@" * 60_000 + b">") + b"\r\nhi\r\n"
FOLDED_HEADER = _headers(b"Subject: folded" + b"\r\n x" * 50_000) + b"\r\nhi\r\n"
POISONS = {
    "message/rfc822 nested 400 deep": DEEP_ATTACHED,
    "raw 0xE9 in a utf-8 Q word": CAFE,
    "raw GBK in a gbk Q word": RAW_GBK_WORD,
    "Message-ID of 60,000 @": AT_SIGNS_ID,
    "50,000 folded lines in one header": FOLDED_HEADER,
}


def _assert_all_accounted_for(batch: Batch) -> None:
    outcomes, problems = verdict(batch)
    shown = [raw[:300] for raw in batch.mails]
    assert not problems, f"{problems}\noutcomes: {describe(outcomes)}\nmail: {shown}"


@settings(FUZZ, max_examples=500)
@given(mail_batches(CI))
@example(Batch((DEEP_ATTACHED, ORDINARY)))
@example(Batch((CAFE, ORDINARY)))
@example(Batch((RAW_GBK_WORD, ORDINARY)))
@example(Batch((CAFE, ORDINARY, CAFE), {2: 0}))
def test_hostile_batches_end_as_tickets_duplicates_or_quarantine(batch: Batch) -> None:
    """Batches as IMAP takes them in: Message-IDs reused by other mail, redeliveries."""
    _assert_all_accounted_for(batch)


@settings(FUZZ, max_examples=1200)
@given(hostile_mail(CI, tricks=1))
def test_mail_with_tricks_taken_in_alone_ends_in_a_ticket_or_the_quarantine(raw: bytes) -> None:
    """One mail at a time, as the LMTP listener takes it in, always with a trick or more."""
    _assert_all_accounted_for(Batch((raw,)))


@pytest.mark.parametrize("poison", POISONS.values(), ids=POISONS.keys())
def test_known_poison_does_not_stop_the_mail_after_it(poison: bytes) -> None:
    outcomes, problems = verdict(Batch((poison, ORDINARY)))
    assert not problems, problems
    assert [o.result for o in outcomes][1:] == ["created"]


def test_attached_messages_nested_hundreds_deep_are_quarantined_over_the_depth_budget() -> None:
    (outcome,), _ = verdict(Batch((DEEP_ATTACHED,)))
    assert outcome.result == "quarantined"
    assert "mime_depth" in outcome.reason


@pytest.mark.parametrize(
    ("poison", "subject"), [(CAFE, "café"), (RAW_GBK_WORD, "中文客服")], ids=["utf-8", "gbk"]
)
def test_eight_bit_bytes_in_an_encoded_word_are_read_in_the_word_charset(
    poison: bytes, subject: str, tmp_path: Path
) -> None:
    (outcome,) = take_in(tmp_path / "data", [poison])
    assert outcome.result == "created"
    with Store.open(tmp_path / "data") as store:
        ticket = store.ticket(outcome.ticket or 0)
    assert ticket is not None
    assert ticket["subject"] == subject
