"""A customer's mail refused for good is told to the people who work the ticket.

Against a real aiosmtpd server that refuses chosen recipients at RCPT, as a mail provider does
for an address that does not exist, and keeps what it accepts.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from maild.cli import main
from maild.config import Config, parse_config
from maild.datacare import outbox_retry
from maild.ingest import ingest
from maild.intake.parse_pool import parse_or_error
from maild.notify.outbox import DELIVERY_FAILED, flush
from maild.notify.sender import SmtpTransport
from maild.store import Store
from tests.mail_fixtures import toml_text
from tests.servers.dovecot import free_port
from tests.servers.smtp_capture import Captured

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
GONE = "gone@customer.example"
NO_SUCH_USER = "550 5.1.1 <gone@customer.example>: Recipient address rejected: no such user"
TEAM = "billing-team@maild.test"


class _Refusing:
    """aiosmtpd hooks: refuse the addresses in `refused` at RCPT with their reply, keep the rest."""

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = refused
        self.messages: list[Captured] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.lower() in self.refused:
            return self.refused[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.messages.append(Captured(envelope.mail_from or "", list(envelope.rcpt_tos), raw))
        return "250 2.0.0 OK kept"


class RefusingServer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.handler = _Refusing({GONE: NO_SUCH_USER})
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)

    def refuse(self, address: str, reply: str) -> None:
        self.handler.refused[address] = reply

    def received(self, to: str) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(m.raw, policy=email.policy.default)
            for m in self.handler.messages
            if to in m.rcpt_tos
        ]


@pytest.fixture
def server() -> Iterator[RefusingServer]:
    refusing = RefusingServer()
    refusing.controller.start()
    yield refusing
    refusing.controller.stop()


@pytest.fixture
def settings(
    server: RefusingServer, config_data: Callable[..., dict[str, Any]]
) -> Callable[..., dict[str, Any]]:
    """Config data sending through the refusing server, with one team taking every ticket."""

    def make(**tables: dict[str, Any]) -> dict[str, Any]:
        data = config_data(outgoing=server, **tables)
        data.setdefault("teams", {"billing": {"address": TEAM}})
        return data

    return make


def customer_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Gao Ming <{GONE}>"
    msg["To"] = "support@maild.test"
    msg["Subject"] = "Invoice missing"
    msg["Message-ID"] = "<invoice-1@customer.example>"
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0800"
    msg.set_content("Where is my invoice for October?")
    return msg.as_bytes()


def take_in(store: Store, config: Config, raw: bytes) -> int:
    with store.batch():
        outcome = ingest(store, raw, parse_or_error(raw, config.limits), config=config, now=NOW,
                         source="test")  # fmt: skip
    assert outcome.result == "created" and outcome.ticket is not None
    return outcome.ticket


def deliver(store: Store, config: Config, now: datetime = NOW) -> None:
    """Two rounds: the failing mail first, then the notice its failure queued."""
    for _ in range(2):
        flush(store, SmtpTransport(config.smtp), now, config)


def failures(store: Store, number: int) -> list[dict[str, Any]]:
    ticket = store.ticket(number)
    assert ticket is not None
    return [e for e in ticket["events"] if e["action"] == DELIVERY_FAILED]


def kinds(store: Store, status: str) -> list[str]:
    return sorted(m["kind"] for m in store.outgoing(status))


def test_refused_ack_is_told_to_the_team_and_kept_on_the_ticket(
    server: RefusingServer, settings: Callable[..., dict[str, Any]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = parse_config(settings())
    with Store.open(config.store.path) as store:
        number = take_in(store, config, customer_mail())
        deliver(store, config)
        assert kinds(store, "failed") == ["ack"]
        assert kinds(store, "sent") == [DELIVERY_FAILED, "new_ticket"]
        assert kinds(store, "pending") == []
        [event] = failures(store, number)
        assert event["detail"]["to"] == GONE
        assert event["detail"]["reply"] == f"all recipients refused: {GONE}: {NO_SUCH_USER}"
        deliver(store, config, NOW + timedelta(hours=1))  # nothing more: no second notice
        assert len(failures(store, number)) == 1 and kinds(store, "pending") == []

    [new_ticket, notice] = server.received(TEAM)
    assert new_ticket["Subject"].strip() == "[#MD-1001] New general ticket: Invoice missing"
    assert notice["Subject"].strip() == (
        "[#MD-1001] Mail to the customer could not be delivered: Invoice missing"
    )
    text = notice.get_content()
    for words in ("acknowledgement", GONE, NO_SUCH_USER, "Attempts:     1", "#comment",
                  "maild outbox retry"):  # fmt: skip
        assert words in text, text
    assert server.received(GONE) == []

    data = settings()
    config_path = tmp_path / "maild.toml"
    config_path.write_text(toml_text({k: v for k, v in data.items() if k != "teams"}) +
                           f'[teams.billing]\naddress = "{TEAM}"\n', encoding="utf-8")  # fmt: skip
    assert main(["--config", str(config_path), "tickets", "show", "MD-1001"]) == 0
    shown = capsys.readouterr().out
    assert "delivery_failed" in shown and f"to={GONE}" in shown and "550 5.1.1" in shown


def test_the_assignee_hears_rather_than_the_team(
    server: RefusingServer, settings: Callable[..., dict[str, Any]]
) -> None:
    config = parse_config(
        settings(
            agents={"li": {"address": "li.na@maild.test", "name": "Li Na"}},
            security={"authserv_id": "mx.maild.test"},
        )
    )
    with Store.open(config.store.path) as store:
        number = take_in(store, config, customer_mail())
        store.update_ticket(number, {"assignee": "li"})
        store.commit()
        deliver(store, config)
    [notice] = server.received("li.na@maild.test")
    assert "could not be delivered" in notice["Subject"]
    assert [m["Subject"].strip() for m in server.received(TEAM)] == [
        "[#MD-1001] New general ticket: Invoice missing"
    ]


ADMIN_ONLY = {"teams": {}, "admin": {"address": "it@maild.test"}}


def test_the_admin_hears_when_no_team_works_the_ticket_in_chinese(
    server: RefusingServer, settings: Callable[..., dict[str, Any]]
) -> None:
    config = parse_config(settings(**ADMIN_ONLY, support={"language": "zh"}))
    with Store.open(config.store.path) as store:
        take_in(store, config, customer_mail())
        deliver(store, config)
    [notice] = server.received("it@maild.test")
    assert "发给客户的邮件无法送达" in notice["Subject"]
    assert "受理确认" in notice.get_content() and NO_SUCH_USER in notice.get_content()


def test_a_refused_notice_is_never_told_about(
    server: RefusingServer, settings: Callable[..., dict[str, Any]]
) -> None:
    """The team's address refuses too: the notice fails and nothing more is queued."""
    server.refuse(TEAM, "550 5.1.1 no such team")
    config = parse_config(settings())
    with Store.open(config.store.path) as store:
        number = take_in(store, config, customer_mail())
        deliver(store, config)
        deliver(store, config, NOW + timedelta(hours=1))
        assert kinds(store, "failed") == ["ack", DELIVERY_FAILED, "new_ticket"]
        assert kinds(store, "pending") == []
        assert len(failures(store, number)) == 1
    assert server.handler.messages == []


def test_a_crash_before_the_failure_is_journalled_repeats_the_try_not_the_notice(
    server: RefusingServer, settings: Callable[..., dict[str, Any]]
) -> None:
    """SIGKILL after the notice is committed, before the failed mark is durable."""
    config = parse_config(settings(**ADMIN_ONLY))  # the ack is the only mail: no team notice
    with Store.open(config.store.path) as store:
        number = take_in(store, config, customer_mail())
        flush(store, SmtpTransport(config.smtp), NOW, config)
        root = store.root
    (root / "outbox.journal").write_bytes(b"")  # the journal line the kill took
    with Store.open(root) as store:
        assert kinds(store, "pending") == ["ack", DELIVERY_FAILED]  # tried again …
        deliver(store, config)
        assert kinds(store, "failed") == ["ack"]
        assert len(failures(store, number)) == 1  # … but told once
    assert len(server.received("it@maild.test")) == 1


def test_a_retry_that_fails_again_is_told_again(
    server: RefusingServer, settings: Callable[..., dict[str, Any]]
) -> None:
    config = parse_config(settings())
    with Store.open(config.store.path) as store:
        number = take_in(store, config, customer_mail())
        deliver(store, config)
        ack = next(m for m in store.outgoing("failed") if m["kind"] == "ack")
        assert outbox_retry(store, ack["id"], NOW + timedelta(hours=2)) == 1
        deliver(store, config, NOW + timedelta(hours=2))
        assert [e["detail"]["attempt"] for e in failures(store, number)] == [1, 2]
    assert len(server.received(TEAM)) == 3


def test_mail_given_up_after_days_of_deferrals_is_told_too(
    server: RefusingServer, settings: Callable[..., dict[str, Any]]
) -> None:
    server.refuse(GONE, "452 4.2.2 Mailbox full")
    config = parse_config(settings())
    with Store.open(config.store.path) as store:
        number = take_in(store, config, customer_mail())
        deliver(store, config)
        assert failures(store, number) == [] and kinds(store, "pending") == ["ack"]
        deliver(store, config, NOW + timedelta(days=2))
        [event] = failures(store, number)
    assert "452 4.2.2 Mailbox full" in event["detail"]["reply"]
    assert "452 4.2.2 Mailbox full" in server.received(TEAM)[-1].get_content()
