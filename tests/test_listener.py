"""maild's own LMTP/SMTP listener, spoken to over real sockets."""

from __future__ import annotations

import shutil
import smtplib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.intake.listener import Listener
from maild.intake.spool import Spool
from tests.servers.dovecot import free_port

MESSAGE = b"From: a@example.com\r\nSubject: hi\r\nMessage-ID: <1@example.com>\r\n\r\nbody\r\n"


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(tmp_path)


def start(spool: Spool, *, lmtp: bool, max_bytes: int = 10_000) -> Listener:
    listener = Listener(spool, host="127.0.0.1", port=free_port(), lmtp=lmtp, max_bytes=max_bytes)
    listener.start()
    return listener


@pytest.fixture
def smtp_listener(spool: Spool) -> Iterator[Listener]:
    listener = start(spool, lmtp=False)
    yield listener
    listener.stop()


def test_smtp_message_is_spooled_before_250(spool: Spool, smtp_listener: Listener) -> None:
    with smtplib.SMTP("127.0.0.1", smtp_listener.port) as client:
        refused = client.sendmail("a@example.com", ["support@maild.test"], MESSAGE)
    assert refused == {}
    [path] = spool.waiting(10)
    assert path.read_bytes() == b"Return-Path: <a@example.com>\r\n" + MESSAGE
    assert spool.arrived.is_set()
    spool.done([path])
    assert spool.waiting(10) == []


def test_long_lines_are_accepted_not_refused(spool: Spool, smtp_listener: Listener) -> None:
    long_body = MESSAGE + b"x" * 5000 + b"\r\n"
    with smtplib.SMTP("127.0.0.1", smtp_listener.port) as client:
        client.sendmail("a@example.com", ["support@maild.test"], long_body)
    assert spool.waiting(10)[0].read_bytes().endswith(b"x" * 5000 + b"\r\n")


def test_oversized_message_gets_552(spool: Spool) -> None:
    listener = start(spool, lmtp=False, max_bytes=1000)
    try:
        with (
            smtplib.SMTP("127.0.0.1", listener.port) as client,
            pytest.raises(smtplib.SMTPResponseException) as refused,
        ):
            client.sendmail("a@example.com", ["s@maild.test"], MESSAGE + b"x" * 2000)
        assert refused.value.smtp_code == 552
    finally:
        listener.stop()
    assert spool.waiting(10) == []


def test_storage_failure_answers_451_not_5xx(spool: Spool, smtp_listener: Listener) -> None:
    shutil.rmtree(spool.new)
    spool.new.write_text("not a directory any more")
    with (
        smtplib.SMTP("127.0.0.1", smtp_listener.port) as client,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        client.sendmail("a@example.com", ["support@maild.test"], MESSAGE)
    assert refused.value.smtp_code == 451


def _lmtp_dialogue(port: int, recipients: list[str]) -> list[bytes]:
    """Speak LMTP by hand: smtplib cannot read RFC 2033's one reply per recipient."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            while True:
                line = reader.readline()
                if line[3:4] != b"-":
                    return line

        reply()  # greeting
        commands = [b"LHLO client", b"MAIL FROM:<a@example.com>"]
        commands += [f"RCPT TO:<{r}>".encode() for r in recipients] + [b"DATA"]
        for command in commands:
            sock.sendall(command + b"\r\n")
            assert reply()[:1] in (b"2", b"3")
        sock.sendall(MESSAGE + b".\r\n")
        answers = [reply() for _ in recipients]
        sock.sendall(b"QUIT\r\n")
        return answers


def test_lmtp_answers_once_per_recipient(spool: Spool) -> None:
    listener = start(spool, lmtp=True)
    try:
        answers = _lmtp_dialogue(listener.port, ["support@maild.test", "help@maild.test"])
    finally:
        listener.stop()
    assert [a[:3] for a in answers] == [b"250", b"250"]
    assert len(spool.waiting(10)) == 1
