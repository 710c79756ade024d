"""The outbox against a real SMTP server: delivery, retries, refusals, TLS and AUTH."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.clock import FixedClock
from maild.config import Config, SmtpConfig, SupportConfig, parse_config
from maild.notify.compose import Draft, new_message_id
from maild.notify.outbox import flush, queue_mail, retry_delay
from maild.notify.sender import SmtpTransport
from maild.service import Service
from maild.store import Store
from tests.servers.dovecot import free_port
from tests.servers.smtp_capture import SmtpCapture

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SUPPORT = SupportConfig(address="support@maild.test", name="Support")
# Whom a failed customer mail is told to; these mails' ticket does not exist, so nobody.
CONFIG = parse_config(
    {
        "support": {"address": SUPPORT.address},
        "store": {"path": "/nonexistent/maild"},
        "intake": {"mode": "lmtp"},
        "smtp": {"transport": "folder", "folder": "/nonexistent/outgoing"},
    }
)


def queue(store: Store, to: str = "customer@example.com", now: datetime = NOW) -> str:
    draft = Draft(
        message_id=new_message_id(SUPPORT),
        sender=SUPPORT.address,
        sender_name=SUPPORT.name,
        to=(to,),
        subject="[#MD-1] hello",
        body="你好",
        language="zh",
        ticket_id="MD-1",
        in_reply_to="<c@example.com>",
        references=("<c@example.com>",),
        auto_submitted="auto-replied",
        date=now.isoformat(),
    )
    queue_mail(store, draft, ticket=1, kind="ack", automatic=True, now=now)
    store.commit()
    return draft.message_id


def smtp_config(server: SmtpCapture, **overrides: object) -> SmtpConfig:
    values: dict = {"host": server.host, "port": server.port, "tls": "none", "timeout": 5.0}
    return SmtpConfig(**{**values, **overrides})


def test_delivered_once_and_marked_sent(tmp_path: Path, smtp_server: SmtpCapture) -> None:
    with Store.open(tmp_path) as store:
        message_id = queue(store)
        report = flush(store, SmtpTransport(smtp_config(smtp_server)), NOW, CONFIG)
        assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
        assert flush(store, SmtpTransport(smtp_config(smtp_server)), NOW, CONFIG).sent == 0
    [captured] = smtp_server.messages
    assert captured.mail_from == "support@maild.test"
    assert captured.rcpt_tos == ["customer@example.com"]
    assert email.message_from_bytes(captured.raw)["Message-ID"] == message_id
    with Store.open(tmp_path) as store:  # the journal made "sent" durable without a commit
        [mail] = store.outgoing()
        assert (mail["status"], mail["attempts"], mail["sent_at"]) == ("sent", 1, NOW.isoformat())


def test_temporary_refusal_retries_with_the_same_message_id(
    tmp_path: Path, smtp_server: SmtpCapture
) -> None:
    smtp_server.refuse_next("451 4.3.0 greylisted, try later")
    with Store.open(tmp_path) as store:
        message_id = queue(store)
        transport = SmtpTransport(smtp_config(smtp_server))
        assert flush(store, transport, NOW, CONFIG).deferred == 1
        [mail] = store.outgoing()
        assert mail["next_attempt_at"] == (NOW + retry_delay(1)).isoformat()
        assert "451" in mail["last_error"]
        assert flush(store, transport, NOW + timedelta(seconds=30), CONFIG).sent == 0  # not due yet
        assert flush(store, transport, NOW + timedelta(minutes=2), CONFIG).sent == 1
    [captured] = smtp_server.messages
    assert email.message_from_bytes(captured.raw)["Message-ID"] == message_id


def test_permanent_refusal_fails_the_mail(tmp_path: Path, smtp_server: SmtpCapture) -> None:
    smtp_server.refuse_next("550 5.1.1 no such user")
    with Store.open(tmp_path) as store:
        queue(store)
        report = flush(store, SmtpTransport(smtp_config(smtp_server)), NOW, CONFIG)
        assert report.failed == 1
        assert store.outgoing()[0]["status"] == "failed"


def test_unreachable_server_defers_and_stops_the_round(tmp_path: Path) -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), tls="none", timeout=2.0)
    with Store.open(tmp_path) as store:
        for i in range(3):
            queue(store, to=f"c{i}@example.com")
        report = flush(store, SmtpTransport(config), NOW, CONFIG)
        assert (report.sent, report.deferred) == (0, 1)
        assert sorted(m["attempts"] for m in store.outgoing()) == [0, 0, 1]
        assert "cannot reach" in next(m for m in store.outgoing() if m["attempts"])["last_error"]


def test_gives_up_after_two_days(tmp_path: Path) -> None:
    config = SmtpConfig(host="127.0.0.1", port=free_port(), tls="none", timeout=2.0)
    with Store.open(tmp_path) as store:
        queue(store)
        assert flush(store, SmtpTransport(config), NOW + timedelta(days=2), CONFIG).failed == 1


def test_retry_delay_grows_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert retry_delay(30) == timedelta(hours=1)


def test_starttls_with_auth_and_verified_certificate(
    tmp_path: Path, server_cert: tuple[Path, Path], dovecot_ca: Path
) -> None:
    with SmtpCapture(port=free_port(), cert=server_cert, login=("maild", "s3cret")) as server:
        config = smtp_config(
            server, tls="starttls", ca_file=dovecot_ca, username="maild", password="s3cret"
        )
        with Store.open(tmp_path) as store:
            queue(store)
            assert flush(store, SmtpTransport(config), NOW, CONFIG).sent == 1
        assert len(server.messages) == 1


def test_implicit_tls(tmp_path: Path, server_cert: tuple[Path, Path], dovecot_ca: Path) -> None:
    with SmtpCapture(port=free_port(), cert=server_cert, implicit_tls=True) as server:
        config = smtp_config(server, tls="ssl", ca_file=dovecot_ca)
        with Store.open(tmp_path) as store:
            queue(store)
            assert flush(store, SmtpTransport(config), NOW, CONFIG).sent == 1
        assert len(server.messages) == 1


@pytest.mark.parametrize("problem", ["untrusted certificate", "wrong password"])
def test_tls_and_auth_failures_defer(
    tmp_path: Path, server_cert: tuple[Path, Path], dovecot_ca: Path, problem: str
) -> None:
    with SmtpCapture(port=free_port(), cert=server_cert, login=("maild", "s3cret")) as server:
        ca = None if problem == "untrusted certificate" else dovecot_ca
        password = "wrong" if problem == "wrong password" else "s3cret"
        config = smtp_config(
            server, tls="starttls", ca_file=ca, username="maild", password=password
        )
        with Store.open(tmp_path) as store:
            queue(store)
            assert flush(store, SmtpTransport(config), NOW, CONFIG).deferred == 1
            error = store.outgoing()[0]["last_error"]
        assert ("certificate" in error) if ca is None else ("login refused" in error)
        assert server.messages == []


def test_a_draft_that_cannot_become_mail_fails_alone(
    tmp_path: Path, smtp_server: SmtpCapture
) -> None:
    with Store.open(tmp_path) as store:
        queue(store, to="broken\r\nBcc: victim@example.com")
        queue(store, to="fine@example.com", now=NOW + timedelta(seconds=1))
        report = flush(
            store, SmtpTransport(smtp_config(smtp_server)), NOW + timedelta(seconds=1), CONFIG
        )
        assert (report.sent, report.failed) == (1, 1)
        broken = next(m for m in store.outgoing() if m["status"] == "failed")
        assert "cannot compose" in broken["last_error"]
    assert [c.rcpt_tos for c in smtp_server.messages] == [["fine@example.com"]]


def test_service_backs_off_from_an_unreachable_server(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    """A dead SMTP server is not retried on every cycle: intake shares the thread."""
    config = make_config(smtp={"transport": "smtp", "port": free_port(), "tls": "none"})
    with Store.open(config.store.path) as store:
        queue(store)
        service = Service(config, store, FixedClock(NOW))
        first = service.flush_outbox()
        assert (first.deferred, first.unreachable) == (1, True)
        second = service.flush_outbox()
        assert (second.sent, second.deferred, second.failed) == (0, 0, 0)
        assert store.outgoing()[0]["attempts"] == 1
        service.close()
