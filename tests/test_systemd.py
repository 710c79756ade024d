"""sd_notify spoken to real AF_UNIX datagram sockets, as systemd would listen on them."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from maild.systemd import STATUS_MAX_CHARS, Notifier, socket_address, status_line

PID = os.getpid()


class Receiver:
    """The service manager's end: a bound datagram socket and the NOTIFY_SOCKET naming it."""

    def __init__(self, sock: socket.socket, notify_socket: str) -> None:
        self.sock = sock
        self.notify_socket = notify_socket

    def notifier(self, **env: str) -> Notifier:
        return Notifier({"NOTIFY_SOCKET": self.notify_socket, **env})

    def take(self) -> str:
        self.sock.settimeout(2.0)
        return self.sock.recv(65536).decode()

    def nothing_waiting(self) -> bool:
        """sendto() on AF_UNIX queues before returning, so an empty queue means none was sent."""
        self.sock.setblocking(False)
        try:
            self.sock.recv(65536)
        except BlockingIOError:
            return True
        return False


@pytest.fixture
def path_receiver(tmp_path: Path) -> Iterator[Receiver]:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        yield Receiver(sock, str(path))


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"maild-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        yield Receiver(sock, "@" + name)


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Receiver:
    """Every protocol test runs against both kinds of NOTIFY_SOCKET."""
    return request.getfixturevalue(f"{request.param}_receiver")  # type: ignore[no-any-return]


def test_ready(receiver: Receiver) -> None:
    notifier = receiver.notifier()
    assert notifier.enabled
    notifier.ready()
    assert receiver.take() == f"READY=1\nMAINPID={PID}"


def test_ready_with_status(receiver: Receiver) -> None:
    receiver.notifier().ready("taking mail in")
    assert receiver.take() == f"READY=1\nSTATUS=taking mail in\nMAINPID={PID}"


def test_status(receiver: Receiver) -> None:
    notifier = receiver.notifier()
    notifier.status("3 taken in, 2 sent")
    notifier.status("")
    assert receiver.take() == "STATUS=3 taken in, 2 sent"
    assert receiver.take() == "STATUS="


def test_stopping(receiver: Receiver) -> None:
    notifier = receiver.notifier()
    notifier.stopping()
    notifier.stopping("finishing the current batch")
    assert receiver.take() == "STOPPING=1"
    assert receiver.take() == "STOPPING=1\nSTATUS=finishing the current batch"


def test_reloading_carries_the_monotonic_clock_in_microseconds(receiver: Receiver) -> None:
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    receiver.notifier().reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    first, second = receiver.take().split("\n")
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_watchdog(receiver: Receiver) -> None:
    notifier = receiver.notifier(WATCHDOG_USEC="60000000")
    assert notifier.watchdog_interval == 30.0
    notifier.watchdog()
    assert receiver.take() == "WATCHDOG=1"


def test_watchdog_pings_at_most_once_per_half_interval(path_receiver: Receiver) -> None:
    now = [100.0]
    notifier = Notifier(
        {"NOTIFY_SOCKET": path_receiver.notify_socket, "WATCHDOG_USEC": "4000000"},
        clock=lambda: now[0],
    )
    assert notifier.watchdog_interval == 2.0  # so at most one ping a second
    sent = []
    for t in (100.0, 100.5, 100.99, 101.0, 101.5, 102.1, 102.2):
        now[0] = t
        notifier.watchdog()
        if not path_receiver.nothing_waiting():
            sent.append(t)
    assert sent == [100.0, 101.0, 102.1]


def test_watchdog_pid_of_another_process_disables_the_watchdog(path_receiver: Receiver) -> None:
    notifier = path_receiver.notifier(WATCHDOG_USEC="60000000", WATCHDOG_PID=str(PID + 1))
    assert notifier.watchdog_interval is None
    notifier.watchdog()
    assert path_receiver.nothing_waiting()


def test_watchdog_pid_of_ours_keeps_it(path_receiver: Receiver) -> None:
    notifier = path_receiver.notifier(WATCHDOG_USEC="60000000", WATCHDOG_PID=str(PID))
    assert notifier.watchdog_interval == 30.0


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"WATCHDOG_USEC": "0"},
        {"WATCHDOG_USEC": "-5"},
        {"WATCHDOG_USEC": "soon"},
        {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "not-a-pid"},
    ],
)
def test_no_usable_watchdog_setting_means_no_pings(
    path_receiver: Receiver, env: dict[str, str]
) -> None:
    notifier = path_receiver.notifier(**env)
    assert notifier.watchdog_interval is None
    notifier.watchdog()
    assert path_receiver.nothing_waiting()


def test_without_notify_socket_everything_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "60000000")
    for notifier in (Notifier(), Notifier({}), Notifier({"NOTIFY_SOCKET": ""})):
        assert not notifier.enabled
        assert notifier.watchdog_interval is None
        notifier.ready("up")
        notifier.status("busy")
        notifier.reloading()
        notifier.watchdog()
        notifier.stopping("bye")


def test_reads_os_environ_by_default(
    path_receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", path_receiver.notify_socket)
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = Notifier()
    assert notifier.enabled
    assert notifier.watchdog_interval == 5.0
    notifier.status("from the environment")
    assert path_receiver.take() == "STATUS=from the environment"


@pytest.mark.parametrize(
    "notify_socket",
    ["/nonexistent/maild/notify", f"@maild-test-nobody-{uuid.uuid4().hex}"],
)
def test_a_socket_nobody_listens_on_does_not_raise(
    notify_socket: str, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket, "WATCHDOG_USEC": "1000000"})
    assert notifier.enabled
    with caplog.at_level(logging.DEBUG, logger="maild.systemd"):
        notifier.ready("up")
        notifier.status("busy")
        notifier.reloading()
        notifier.watchdog()
        notifier.stopping()
    failures = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(failures) == 5
    assert all("sd_notify" in r.getMessage() for r in failures)


def test_a_regular_file_as_socket_does_not_raise(tmp_path: Path) -> None:
    not_a_socket = tmp_path / "notify"
    not_a_socket.write_text("")
    Notifier({"NOTIFY_SOCKET": str(not_a_socket)}).ready()


@pytest.mark.parametrize("value", ["relative/notify", "vsock:2:1234", "@"])
def test_unsupported_addresses_disable_notifications(value: str) -> None:
    assert socket_address(value) is None
    assert not Notifier({"NOTIFY_SOCKET": value}).enabled


def test_abstract_address_starts_with_nul() -> None:
    assert socket_address("@/org/freedesktop/systemd1/notify") == (
        "\0/org/freedesktop/systemd1/notify"
    )
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"


def test_status_cannot_inject_assignments(receiver: Receiver) -> None:
    receiver.notifier().status("bad mail\nREADY=1\r\nWATCHDOG=trigger")
    assert receiver.take() == "STATUS=bad mail READY=1 WATCHDOG=trigger"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("plain", "plain"),
        ("  two\n\nlines\t tabbed  ", "two lines tabbed"),
        ("bell\x07 nul\x00 esc\x1b[31m del\x7f", "bell nul esc[31m del"),
        ("next\x85line sep\u2028para\u2029end", "next line sep para end"),
        ("客户来信：发票\n已处理", "客户来信：发票 已处理"),
        ("\n\x00\t", ""),
    ],
)
def test_status_line(text: str, line: str) -> None:
    assert status_line(text) == line


def test_status_line_is_cut_to_200_chars() -> None:
    assert status_line("x" * STATUS_MAX_CHARS) == "x" * STATUS_MAX_CHARS
    cut = status_line("工单" * 150)
    assert len(cut) == STATUS_MAX_CHARS
    assert cut.endswith("…")
