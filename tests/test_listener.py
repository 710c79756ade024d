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


def _dialogue(
    port: int, recipients: list[str], message: bytes = MESSAGE, *, lmtp: bool = True
) -> list[bytes]:
    """Speak LMTP (or SMTP) by hand: smtplib cannot read RFC 2033's one reply per recipient,
    and it announces SIZE, which would refuse big mail before DATA."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply() -> bytes:
            while True:
                line = reader.readline()
                if line[3:4] != b"-":
                    return line

        reply()  # greeting
        commands = [b"LHLO client" if lmtp else b"EHLO client", b"MAIL FROM:<a@example.com>"]
        commands += [f"RCPT TO:<{r}>".encode() for r in recipients] + [b"DATA"]
        for command in commands:
            sock.sendall(command + b"\r\n")
            assert reply()[:1] in (b"2", b"3")
        sock.sendall(message + b".\r\n")
        answers = [reply() for _ in (recipients if lmtp else [""])]
        sock.sendall(b"QUIT\r\n")
        return answers


def test_lmtp_answers_once_per_recipient(spool: Spool) -> None:
    listener = start(spool, lmtp=True)
    try:
        answers = _dialogue(listener.port, ["support@maild.test", "help@maild.test"])
    finally:
        listener.stop()
    assert [a[:3] for a in answers] == [b"250", b"250"]
    assert len(spool.waiting(10)) == 1


@pytest.mark.parametrize("lmtp", [True, False])
def test_lines_of_megabytes_are_taken_as_imap_takes_them(spool: Spool, lmtp: bool) -> None:
    header = b"X-Tracking: " + b"h" * (3 * 2**19) + b"\r\n"  # a 1.5 MiB header line
    body = b"b" * 2**21 + b"\r\n"  # one 2 MiB line
    message = MESSAGE.replace(b"\r\n\r\n", b"\r\n" + header + b"\r\n", 1) + body
    listener = start(spool, lmtp=lmtp, max_bytes=8 * 2**20)
    client_class = smtplib.LMTP if lmtp else smtplib.SMTP
    try:
        with client_class("127.0.0.1", listener.port) as client:
            refused = client.sendmail("a@example.com", ["support@maild.test"], message)
    finally:
        listener.stop()
    assert refused == {}
    [path] = spool.waiting(10)
    assert path.read_bytes() == b"Return-Path: <a@example.com>\r\n" + message


@pytest.mark.parametrize("lmtp", [True, False])
def test_a_line_longer_than_the_size_limit_gets_552_not_500(spool: Spool, lmtp: bool) -> None:
    listener = start(spool, lmtp=lmtp, max_bytes=100_000)
    try:
        [answer] = _dialogue(listener.port, ["s@maild.test"], MESSAGE + b"x" * 150_000 + b"\r\n",
                             lmtp=lmtp)  # fmt: skip
        [normal] = _dialogue(listener.port, ["s@maild.test"], lmtp=lmtp)  # the session goes on
    finally:
        listener.stop()
    assert answer.startswith(b"552 5.3.4")
    assert normal.startswith(b"250")
    assert len(spool.waiting(10)) == 1


def test_lmtp_refuses_oversized_mail_once_per_recipient(spool: Spool) -> None:
    listener = start(spool, lmtp=True, max_bytes=1000)
    try:
        answers = _dialogue(listener.port, ["a@maild.test", "b@maild.test"], MESSAGE * 50)
    finally:
        listener.stop()
    assert [a[:3] for a in answers] == [b"552", b"552"]
    assert spool.waiting(10) == []


def test_lmtp_says_try_later_to_every_recipient_when_the_spool_fails(spool: Spool) -> None:
    shutil.rmtree(spool.new)
    spool.new.write_text("not a directory any more")
    listener = start(spool, lmtp=True)
    try:
        answers = _dialogue(listener.port, ["a@maild.test", "b@maild.test", "c@maild.test"])
    finally:
        listener.stop()
    assert [a[:9] for a in answers] == [b"451 4.3.0"] * 3


class ExhaustedSpool(Spool):
    """A spool that fails the way a machine out of memory does: not with an OSError."""

    def put(self, raw: bytes) -> Path:
        raise MemoryError


def test_any_failure_while_storing_answers_451(tmp_path: Path) -> None:
    listener = start(ExhaustedSpool(tmp_path), lmtp=False)
    try:
        with (
            smtplib.SMTP("127.0.0.1", listener.port) as client,
            pytest.raises(smtplib.SMTPDataError) as refused,
        ):
            client.sendmail("a@example.com", ["support@maild.test"], MESSAGE)
    finally:
        listener.stop()
    assert refused.value.smtp_code == 451


def test_internationalised_sender_and_8bit_mail_are_taken(spool: Spool) -> None:
    """A customer at 张三@例子.中国 (SMTPUTF8) must not be refused as 'strict ASCII'."""
    message = "From: 张三@例子.中国\r\nSubject: 发票\r\n\r\n请开发票\r\n".encode()
    listener = start(spool, lmtp=True)
    try:
        with smtplib.LMTP("127.0.0.1", listener.port) as client:
            client.sendmail("张三@例子.中国", ["support@maild.test"], message,
                            mail_options=["SMTPUTF8", "BODY=8BITMIME"])  # fmt: skip
    finally:
        listener.stop()
    [path] = spool.waiting(10)
    assert path.read_bytes() == "Return-Path: <张三@例子.中国>\r\n".encode() + message
