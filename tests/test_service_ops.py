"""maild run as a service, as a real subprocess: systemd's notify protocol on a socket the test
listens on, SIGTERM in the middle of a large batch, SIGHUP with a good and a broken config, and
an intake outage that must raise one alert and, when over, one recovery mail."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from maild.config import load_config
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_daemon import maild_command, maild_process, stop, wait_until
from tests.test_end_to_end import customer_mail


def start(config: Path, **env: str) -> subprocess.Popen[str]:
    return maild_process(config, "run", **env)


def fill_inbox(dovecot: Dovecot, account: ImapAccount, count: int) -> None:
    for n in range(count):
        mail = customer_mail(f"c{n}@example.com", f"n{n}", "hello")
        dovecot.append(account.username, account.password, mail)


def assert_all_taken_in_once(config: Path, count: int) -> None:
    """After a restart (`maild once`) every message is a ticket, exactly once."""
    done = maild_command("--config", str(config), "once")
    assert done.returncode == 0, done.stderr
    listed = json.loads(maild_command("--config", str(config), "tickets", "list", "--json").stdout)
    customers = sorted(t["customer"] for t in listed)
    assert customers == sorted(f"c{n}@example.com" for n in range(count))


class NotifySocket:
    """What systemd would hear from maild: every datagram, collected in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.lines: list[str] = []

    def wait_for(self, line: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while line not in self.lines:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{line!r} never came; got {self.lines[-10:]}")
            with contextlib.suppress(TimeoutError):
                self.lines.extend(self.sock.recv(4096).decode().splitlines())


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    listening = NotifySocket(tmp_path / "notify.sock")
    yield listening
    listening.sock.close()


def test_ready_status_watchdog_and_stopping_reach_systemd(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list,
    notify: NotifySocket,
) -> None:
    path = config_file(account=imap_account, outgoing=smtp_server)
    proc = start(path, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="2000000")
    daemons.append(proc)
    notify.wait_for("READY=1")
    assert any(line.startswith("STATUS=") for line in notify.lines)
    notify.wait_for("WATCHDOG=1")
    time.sleep(2.5)  # idle in IMAP IDLE: the pings must go on (at most 1 s apart)
    notify.lines.clear()
    notify.wait_for("WATCHDOG=1", timeout=1.5)
    proc.send_signal(signal.SIGTERM)
    notify.wait_for("STOPPING=1")
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out


def test_sigterm_in_a_large_batch_stops_cleanly_and_loses_nothing(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list,
) -> None:
    fill_inbox(dovecot, imap_account, 300)
    path = config_file(account=imap_account, outgoing=smtp_server, imap={"batch_size": 20})
    proc = start(path)
    daemons.append(proc)
    wait_until(lambda: len(smtp_server.messages) >= 5, timeout=30)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert time.monotonic() - started < 15
    assert "finishing the current batch" in out
    assert_all_taken_in_once(path, 300)
    inbox = dovecot.folder_messages(imap_account.username, imap_account.password, "INBOX")
    assert inbox == []


def test_sighup_reloads_a_good_config_and_refuses_a_broken_one(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list,
) -> None:
    path = config_file(account=imap_account, outgoing=smtp_server)
    proc = start(path)
    daemons.append(proc)
    user, password = imap_account.username, imap_account.password
    dovecot.append(user, password, customer_mail("a@example.com", "one", "hello"))
    [first] = smtp_server.wait_for(1, timeout=15)
    assert b"Test Support" in first.raw

    good = path.read_text(encoding="utf-8").replace('"Test Support"', '"Reloaded Desk"')
    path.write_text(good, encoding="utf-8")
    proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    dovecot.append(user, password, customer_mail("b@example.com", "two", "hello"))
    second = smtp_server.wait_for(2, timeout=15)[1]
    assert b"Reloaded Desk" in second.raw

    path.write_text(good + "\n[support\nbroken", encoding="utf-8")
    proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    dovecot.append(user, password, customer_mail("c@example.com", "three", "hello"))
    third = smtp_server.wait_for(3, timeout=15)[2]
    assert b"Reloaded Desk" in third.raw  # still running, on the last good config
    out = stop(proc)
    assert "config reloaded" in out and "intake reconnected" not in out
    assert "reload refused, keeping the running config" in out


class Proxy:
    """A TCP proxy to Dovecot that the test can switch off and on: an IMAP outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = True
        self.links: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.server.accept()
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.links += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.close()

    def down(self) -> None:
        self.up = False
        for s in self.links:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.links.clear()


def test_an_intake_outage_raises_one_alert_and_one_recovery(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list,
) -> None:
    proxy = Proxy((imap_account.host, imap_account.port))
    path = config_file(
        account=imap_account,
        outgoing=smtp_server,
        imap={"port": proxy.port},
        admin={"address": "admin@maild.test", "intake_alert_after": "0.05m"},  # 3 s
    )
    proc = start(path)
    daemons.append(proc)
    time.sleep(1.5)  # connected
    proxy.down()
    [alert] = smtp_server.wait_for(1, timeout=30)
    assert alert.rcpt_tos == ["admin@maild.test"] and b"PROBLEM" in alert.raw
    time.sleep(4)
    assert len(smtp_server.messages) == 1  # once per incident
    proxy.up = True
    [recovery] = smtp_server.wait_for(2, timeout=60)[1:]
    assert recovery.rcpt_tos == ["admin@maild.test"] and b"Recovered" in recovery.raw
    status = maild_command("--config", str(path), "status", "--json")
    assert '"running": true' in status.stdout and '"incidents": {}' in status.stdout
    stop(proc)


def test_backup_while_running_restores_elsewhere_and_care_commands_work(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list,
    tmp_path: Path,
) -> None:
    path = config_file(account=imap_account, outgoing=smtp_server)
    proc = start(path)
    daemons.append(proc)
    user, password = imap_account.username, imap_account.password
    for n in range(5):
        dovecot.append(user, password, customer_mail(f"c{n}@example.com", f"n{n}", "hello"))
    smtp_server.wait_for(5, timeout=20)
    archive = tmp_path / "backup.tar.gz"
    made = maild_command("--config", str(path), "backup", str(archive))
    assert made.returncode == 0, made.stderr
    listed = maild_command("--config", str(path), "outbox", "list", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 5
    quarantined = maild_command("--config", str(path), "quarantine", "list")
    assert quarantined.returncode == 0 and "0 in quarantine" in quarantined.stdout
    stop(proc)

    elsewhere = path.read_text(encoding="utf-8").replace(
        str(load_config(path).store.path), str(tmp_path / "restored")
    )
    other = tmp_path / "other.toml"
    other.write_text(elsewhere, encoding="utf-8")
    restored = maild_command("--config", str(other), "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    tickets = maild_command("--config", str(other), "tickets", "list", "--json")
    assert sorted(t["customer"] for t in json.loads(tickets.stdout)) == [
        f"c{n}@example.com" for n in range(5)
    ]


def test_a_second_sigterm_exits_at_once_and_nothing_committed_is_lost(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list,
) -> None:
    fill_inbox(dovecot, imap_account, 200)
    path = config_file(account=imap_account, outgoing=smtp_server, imap={"batch_size": 10})
    proc = start(path)
    daemons.append(proc)
    wait_until(lambda: len(smtp_server.messages) >= 3, timeout=30)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # two signals at once would arrive as one
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "again: exiting at once" in out, out
    assert_all_taken_in_once(path, 200)
