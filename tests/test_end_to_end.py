"""The first loop end to end on real servers: Dovecot in, maild, aiosmtpd out."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

import maild.ingest
from maild.cli import main
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import Captured, SmtpCapture

SUPPORT = "support@maild.test"


def customer_mail(
    sender: str,
    subject: str,
    body: str,
    *,
    charset: str = "utf-8",
    message_id: str | None = None,
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or email.utils.make_msgid(domain="customer.example")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body, charset=charset)
    return msg.as_bytes()


def parsed(captured: Captured) -> email.message.EmailMessage:
    return email.message_from_bytes(captured.raw, policy=email.policy.default)


class Loop:
    """One maild configuration against one Dovecot mailbox and one capturing SMTP server."""

    def __init__(self, dovecot: Dovecot, account: ImapAccount, config: Path) -> None:
        self.dovecot = dovecot
        self.account = account
        self.config = str(config)

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        self.dovecot.append(self.account.username, self.account.password, raw, folder)

    def folder(self, name: str) -> list[bytes]:
        """A folder's messages; config names use "/", the test Dovecot's maildir uses "."."""
        mailbox = name.replace("/", ".")
        return self.dovecot.folder_messages(self.account.username, self.account.password, mailbox)

    def maild(self, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["--config", self.config, *args])
        return code, capsys.readouterr().out

    def once(self, capsys: pytest.CaptureFixture[str]) -> str:
        code, out = self.maild("once", capsys=capsys)
        assert code == 0, out
        return out

    def tickets(self, capsys: pytest.CaptureFixture[str]) -> list[dict]:
        code, out = self.maild("tickets", "list", "--json", capsys=capsys)
        assert code == 0
        return json.loads(out)

    def show(self, ticket: str, capsys: pytest.CaptureFixture[str]) -> dict:
        code, out = self.maild("tickets", "show", ticket, "--json", capsys=capsys)
        assert code == 0
        return json.loads(out)


@pytest.fixture
def loop(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
) -> Loop:
    return Loop(dovecot, imap_account, config_file(account=imap_account, outgoing=smtp_server))


def test_customer_mail_becomes_ticket_and_ack_and_replies_thread(
    loop: Loop, smtp_server: SmtpCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    chinese = customer_mail(
        "王伟 <wang.wei@example.cn>",
        "系统崩溃，无法登录",
        "你好，今天上午系统崩溃，所有人都无法登录。",
        charset="gbk",
    )
    english = customer_mail("Alice <alice@example.com>", "Payment failed", "My card failed.")
    loop.deliver(chinese)
    loop.deliver(english)

    assert "taken in: 2; sent: 2" in loop.once(capsys)

    tickets = {t["customer"]: t for t in loop.tickets(capsys)}
    wang, alice = tickets["wang.wei@example.cn"], tickets["alice@example.com"]
    assert wang["subject"] == "系统崩溃，无法登录"
    assert (wang["status"], wang["priority"], wang["message_count"]) == ("new", "urgent", 1)
    assert (wang["category"], alice["priority"], alice["category"]) == (
        "incident",
        "urgent",
        "billing",
    )
    assert set(wang) >= {"id", "status", "priority", "category", "customer", "subject"}
    assert set(wang) >= {"created_at", "updated_at", "message_count"}
    assert wang["created_at"].endswith("+00:00")

    acks = {parsed(c)["To"]: parsed(c) for c in smtp_server.wait_for(2)}
    zh_ack, en_ack = acks["wang.wei@example.cn"], acks["alice@example.com"]
    assert f"[#{wang['id']}]" in zh_ack["Subject"] and "我们已收到" in zh_ack["Subject"]
    assert zh_ack["In-Reply-To"] == email.message_from_bytes(chinese)["Message-ID"]
    assert zh_ack["Auto-Submitted"] == "auto-replied"
    assert "We have received" in en_ack["Subject"] and f"[#{alice['id']}]" in en_ack["Subject"]

    assert loop.folder("INBOX") == []
    assert len(loop.folder("maild/processed")) == 2

    # Wang answers the ack from a client that keeps only the threading headers.
    loop.deliver(
        customer_mail(
            "wang.wei@example.cn",
            "补充截图",
            "补充：错误代码 500",
            In_Reply_To=zh_ack["Message-ID"],
            References=zh_ack["Message-ID"],
        )
    )
    # Alice writes again with the token in an Outlook-style subject and no headers at all.
    loop.deliver(
        customer_mail("alice@example.com", f"RE: [#{alice['id']}] more", "It failed again.")
    )
    # Wang's colleague only keeps References naming his first mail.
    loop.deliver(
        customer_mail(
            "li@example.cn",
            "同样的问题",
            "我们这边也一样",
            References=email.message_from_bytes(chinese)["Message-ID"],
        )
    )
    assert "taken in: 3; sent: 0" in loop.once(capsys)

    counts = {t["id"]: t["message_count"] for t in loop.tickets(capsys)}
    assert counts == {wang["id"]: 3, alice["id"]: 2}
    assert len(smtp_server.messages) == 2  # follow-ups are not acknowledged again

    shown = loop.show(wang["id"], capsys)
    assert [m["direction"] for m in shown["messages"]] == ["in", "out", "in", "in"]
    assert "所有人都无法登录" in shown["messages"][0]["text"]
    assert shown["messages"][1]["kind"] == "ack"
    assert shown["messages"][1]["message_id"] == zh_ack["Message-ID"]
    assert {"message_id", "from", "to", "subject", "date", "text", "kind"} <= set(
        shown["messages"][0]
    )
    assert shown["attachments"] == []


def test_redelivery_robots_and_garbage(
    loop: Loop, smtp_server: SmtpCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    first = customer_mail("bob@example.com", "Outage", "Everything is down")
    loop.deliver(first)
    loop.once(capsys)
    loop.deliver(first)  # IMAP redelivery of the same message
    loop.deliver(
        customer_mail(
            "bob@example.com",
            "Automatic reply: Outage",
            "I am out of office",
            Auto_Submitted="auto-replied",
        )
    )
    loop.deliver(customer_mail("noreply@shop.example", "Your order", "Thanks", Precedence="bulk"))
    loop.deliver(b"\x00\x01\x02 this is not mail \xff\xfe")
    out = loop.once(capsys)
    assert "taken in: 4; sent: 0" in out
    assert len(loop.tickets(capsys)) == 1
    assert len(smtp_server.messages) == 1
    assert loop.folder("INBOX") == []
    assert len(loop.folder("maild/quarantine")) == 1
    assert len(loop.folder("maild/processed")) == 4


def test_oversized_mail_is_quarantined_without_download(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    smtp_server: SmtpCapture,
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = config_file(account=imap_account, outgoing=smtp_server, limits={"message_size": 5000})
    loop = Loop(dovecot, imap_account, config)
    loop.deliver(customer_mail("big@example.com", "huge", "x" * 20000))
    loop.deliver(customer_mail("small@example.com", "small", "fine"))
    loop.once(capsys)
    assert [t["customer"] for t in loop.tickets(capsys)] == ["small@example.com"]
    assert len(loop.folder("maild/quarantine")) == 1


def test_tickets_show_unknown_and_text_output(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    loop.deliver(customer_mail("陈 <chen@example.tw>", "帳號無法登入", "請協助", charset="big5"))
    loop.once(capsys)
    code, out = loop.maild("tickets", "list", capsys=capsys)
    assert code == 0 and "帳號無法登入" in out and "chen@example.tw" in out
    code, out = loop.maild("tickets", "show", "MD-1001", capsys=capsys)
    assert code == 0 and "請協助" in out
    code, _ = loop.maild("tickets", "show", "MD-9999", capsys=capsys)
    assert code == 1


def test_customer_text_cannot_drive_the_agents_terminal(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    loop.deliver(customer_mail("x@example.com", "hi \x1b]0;pwned\x07", "a\x1b[2J\x9b31mb\x07"))
    loop.once(capsys)
    for args in (("list",), ("show", "MD-1001")):
        code, out = loop.maild("tickets", *args, capsys=capsys)
        assert code == 0
        assert not any(ch in out for ch in "\x1b\x07\x9b"), out


CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.eml"))


def test_whole_corpus_through_imap_twice_loses_nothing_and_acks_once(
    loop: Loop, smtp_server: SmtpCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every awkward message becomes a ticket, is filtered or is quarantined; a redelivery of
    all of them changes nothing."""
    for path in CORPUS:
        loop.deliver(path.read_bytes())
    assert f"taken in: {len(CORPUS)}" in loop.once(capsys)
    tickets = loop.tickets(capsys)
    acks = len(smtp_server.messages)
    processed, quarantined = loop.folder("maild/processed"), loop.folder("maild/quarantine")
    assert loop.folder("INBOX") == []
    assert len(processed) + len(quarantined) == len(CORPUS)
    assert 0 < len(quarantined) < 5  # random bytes and the 200-level nesting, not real mail
    assert 0 < acks <= len(tickets)
    for ticket in tickets:
        shown = loop.show(ticket["id"], capsys)
        first = shown["messages"][0]
        assert "\ufffd" not in first["subject"] + first["text"], ticket["id"]
    for raw in acks_of(smtp_server):
        assert raw["Auto-Submitted"] == "auto-replied"
        assert raw["Bcc"] is None

    for path in CORPUS:
        loop.deliver(path.read_bytes())
    loop.once(capsys)
    assert loop.tickets(capsys) == tickets
    assert len(smtp_server.messages) == acks
    assert loop.folder("INBOX") == []


def acks_of(server: SmtpCapture) -> list[email.message.EmailMessage]:
    return [parsed(c) for c in server.messages]


def test_a_bug_on_one_message_quarantines_only_it_and_leaves_no_half_ticket(
    loop: Loop,
    smtp_server: SmtpCapture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug half-way through a new ticket (here planted in classification) must not leave the
    ticket number, the stored message or a queued acknowledgement behind."""
    real = maild.ingest.classify

    def buggy(*args: object, subject: str, **kwargs: object) -> object:
        if "trigger" in subject:
            raise RuntimeError("planted bug")
        return real(*args, subject=subject, **kwargs)

    monkeypatch.setattr(maild.ingest, "classify", buggy)
    for sender, subject in (("a@example.com", "first"), ("b@example.com", "trigger the bug")):
        loop.deliver(customer_mail(sender, subject, "text"))
    loop.deliver(customer_mail("c@example.com", "third", "text"))

    assert "taken in: 3; sent: 2" in loop.once(capsys)
    assert sorted(c.rcpt_tos[0] for c in smtp_server.wait_for(2)) == [
        "a@example.com",
        "c@example.com",
    ]
    tickets = loop.tickets(capsys)
    assert [(t["id"], t["customer"]) for t in tickets] == [
        ("MD-1001", "a@example.com"),
        ("MD-1002", "c@example.com"),
    ]
    [kept] = loop.folder("maild/quarantine")
    assert b"trigger the bug" in kept
    assert len(loop.folder("maild/processed")) == 2
