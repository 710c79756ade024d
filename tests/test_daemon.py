"""`maild run`, `check` and `demo` as processes, and the IMAP intake's crash recovery."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from maild.clock import SystemClock
from maild.config import Config, load_config
from maild.intake.mailbox import MailboxIntake
from maild.intake.parse_pool import ParserPool
from maild.store import Store
from tests.servers.dovecot import Dovecot, ImapAccount
from tests.servers.smtp_capture import SmtpCapture
from tests.test_end_to_end import customer_mail


def maild_process(config: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "maild", "--config", str(config), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1", **env},
    )


def listen_address(config: Path) -> tuple[str, int]:
    intake = load_config(config).intake
    return intake.listen_host, intake.listen_port


def maild_command(*args: str) -> subprocess.CompletedProcess[str]:
    """Run one maild command to its end, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "maild", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUTF8": "1"},
    )


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.05)


def accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, out
    return out


def test_listener_daemon_acknowledges_within_seconds_and_stops_on_sigterm(
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list[subprocess.Popen[str]],
) -> None:
    path = config_file(outgoing=smtp_server)
    host, port = listen_address(path)
    proc = maild_process(path, "run")
    daemons.append(proc)
    wait_until(lambda: accepts(host, port))
    sent_at = time.monotonic()
    with smtplib.SMTP(host, port) as client:
        client.sendmail(
            "wang@example.cn",
            ["support@maild.test"],
            customer_mail("wang@example.cn", "宕机", "宕机了"),
        )
    [ack] = smtp_server.wait_for(1, timeout=10)
    latency = time.monotonic() - sent_at
    assert latency < 5, f"acknowledgement took {latency:.1f} s"
    assert ack.rcpt_tos == ["wang@example.cn"]
    out = stop(proc)
    assert "ticket MD-1001 opened" in out


def test_imap_daemon_with_idle(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list[subprocess.Popen[str]],
) -> None:
    path = config_file(account=imap_account, outgoing=smtp_server)
    proc = maild_process(path, "run")
    daemons.append(proc)
    time.sleep(1.0)  # connected and idling
    sent_at = time.monotonic()
    dovecot.append(
        imap_account.username,
        imap_account.password,
        customer_mail("alice@example.com", "Outage", "All down"),
    )
    smtp_server.wait_for(1, timeout=10)
    latency = time.monotonic() - sent_at
    assert latency < 5, f"acknowledgement took {latency:.1f} s"
    stop(proc)


def test_cli_change_is_handed_to_the_running_daemon(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
    daemons: list[subprocess.Popen[str]],
) -> None:
    """The daemon owns the store: the CLI's change reaches it through the command queue, wakes
    it from IMAP IDLE at once, and takes effect (here: a page for a ticket made urgent)."""
    path = config_file(
        account=imap_account,
        outgoing=smtp_server,
        escalation={"page": ["oncall@maild.test"]},
    )
    proc = maild_process(path, "run")
    daemons.append(proc)
    dovecot.append(
        imap_account.username,
        imap_account.password,
        customer_mail("alice@example.com", "A question", "How do I export my data?"),
    )
    [ack] = smtp_server.wait_for(1, timeout=10)
    assert ack.rcpt_tos == ["alice@example.com"]
    time.sleep(0.5)  # back in IDLE
    started = time.monotonic()
    changed = maild_command("--config", str(path), "tickets", "priority", "MD-1001", "urgent")
    took = time.monotonic() - started
    assert changed.returncode == 0, changed.stderr
    assert "MD-1001: priority general -> urgent; SLA policy urgent" in changed.stdout
    assert took < 5, f"the daemon took {took:.1f} s to answer"
    [page] = smtp_server.wait_for(2, timeout=10)[1:]
    assert page.rcpt_tos == ["oncall@maild.test"]
    shown = maild_command("--config", str(path), "tickets", "show", "MD-1001", "--json")
    assert '"priority": "urgent"' in shown.stdout
    out = stop(proc)
    assert "command" in out and "general -> urgent" in out


def test_second_daemon_on_the_same_data_refuses(
    config_file: Callable[..., Path], smtp_server: SmtpCapture, daemons: list
) -> None:
    path = config_file(outgoing=smtp_server)
    first = maild_process(path, "run")
    daemons.append(first)
    data = load_config(path).store.path
    wait_until(lambda: (data / "maild.lock").exists() and (data / "db.json").exists())
    second = maild_process(path, "once")
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 1
    assert "another maild" in out and str(first.pid) in out
    stop(first)


def test_check_reports_each_failure_on_its_own_line(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
) -> None:
    good = config_file(account=imap_account, outgoing=smtp_server)
    result = maild_command("--config", str(good), "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "imap: ok" in result.stdout and "smtp: ok" in result.stdout
    client = dovecot.client(imap_account.username, imap_account.password)
    assert not client.folder_exists("maild.processed")  # check looks, it does not change
    client.logout()

    bad = good.read_text().replace(imap_account.password, "wrong-password")
    bad = bad.replace(f"port = {smtp_server.port}", "port = 1")
    good.write_text(bad)
    result = maild_command("--config", str(good), "check")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("imap: ") and "ok" not in line for line in lines), lines
    assert any(line.startswith("smtp: cannot reach") for line in lines), lines
    assert "wrong-password" not in result.stdout + result.stderr


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[support]\naddress = "nope"\n[store]\npath = "/tmp/x"\n[smtp]\nhots = "a"\n')
    result = maild_command("--config", str(path), "check")
    assert result.returncode == 2
    assert "support.address" in result.stderr and "did you mean 'host'" in result.stderr


def test_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    result = maild_command("demo", "--exit", "--dir", str(tmp_path), "--port", "0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "我们已收到您的问题：系统崩溃，无法登录" in out
    assert "We have received your request: Payment failed" in out
    assert "MD-1001  open  3 message(s)  urgent/incident  wang.wei@example.cn" in out
    assert "王先生您好，我们已定位到登录服务的故障" in out  # Alice's answer, relayed
    assert "=== sent to alice@demo.example: [#MD-1001] Done" in out  # and her receipt
    assert "not answered: bob@example.org" in out
    assert "=== sent to team@demo.example: [#MD-1002] New urgent ticket: Payment failed" in out
    assert "=== sent to oncall@demo.example: [#MD-1003] PAGE" in out
    # three acknowledgements, three team notices, three pages (all three are urgent), the agent's
    # answer relayed and her receipt
    assert len(list((tmp_path / "outgoing").glob("*.eml"))) == 11


def _intake(config: Config, store: Store) -> MailboxIntake:
    parser = ParserPool(config.limits, workers=0)
    return MailboxIntake(config, store, SystemClock(), threading.Event(), parser)


def test_crash_after_commit_before_move_neither_loses_nor_repeats(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    make_config: Callable[..., Config],
    smtp_server: SmtpCapture,
) -> None:
    config = make_config(account=imap_account, outgoing=smtp_server)
    user, password = imap_account.username, imap_account.password
    dovecot.append(user, password, customer_mail("a@example.com", "one", "first"))
    with Store.open(config.store.path) as store:
        intake = _intake(config, store)
        source, uidvalidity = intake._connect()
        state = intake._load_state(uidvalidity)
        for batch in source.fetch(source.uids()):
            parsing = intake.parser.submit([m.raw for m in batch if m.raw is not None])
            intake._take_batch(batch, parsing, state)  # committed ...
        intake.close()  # ... and the process dies before moving anything
    assert len(dovecot.folder_messages(user, password, "INBOX")) == 1
    with Store.open(config.store.path) as store:
        intake = _intake(config, store)
        assert intake.drain() == 0  # nothing new: only the interrupted move is finished
        intake.close()
        assert len(store.tickets()) == 1
        assert len(store.outgoing()) == 1
    assert dovecot.folder_messages(user, password, "INBOX") == []
    assert len(dovecot.folder_messages(user, password, "maild.processed")) == 1


def test_uidvalidity_change_rereads_and_dedupes(
    dovecot: Dovecot, imap_account: ImapAccount, make_config: Callable[..., Config]
) -> None:
    config = make_config(account=imap_account, imap={"folder": "support", "processed_folder": ""})
    user, password = imap_account.username, imap_account.password
    client = dovecot.client(user, password)
    client.create_folder("support")
    mails = [customer_mail(f"c{i}@example.com", f"s{i}", "text") for i in range(3)]
    for raw in mails:
        client.append("support", raw)
    with Store.open(config.store.path) as store:
        intake = _intake(config, store)
        assert intake.drain() == 3
        assert intake.drain() == 0  # kept in the folder, but not taken in twice
        intake.close()
        client.delete_folder("support")  # the folder is recreated: new UIDVALIDITY
        client.create_folder("support")
        for raw in [*mails, customer_mail("new@example.com", "s9", "text")]:
            client.append("support", raw)
        intake = _intake(config, store)
        assert intake.drain() == 4
        intake.close()
        assert len(store.tickets()) == 4
    client.logout()


def test_a_message_the_server_cannot_send_does_not_stall_intake(
    dovecot: Dovecot, imap_account: ImapAccount, make_config: Callable[..., Config]
) -> None:
    """Dovecot drops the session when a message file is unreadable: maild finds that message,
    records it with the server's error, leaves it in the inbox and takes in the rest."""
    config = make_config(account=imap_account)
    user, password = imap_account.username, imap_account.password
    for i in range(5):
        dovecot.append(user, password, customer_mail(f"c{i}@example.com", f"s{i}", "text"))
    maildir = dovecot.maildir_path(user)
    [third] = [
        path
        for path in [*(maildir / "new").iterdir(), *(maildir / "cur").iterdir()]
        if b"Subject: s2" in path.read_bytes()
    ]
    third.chmod(0)  # the third message can no longer be read by the server
    with Store.open(config.store.path) as store:
        intake = _intake(config, store)
        for _ in range(6):
            intake._retry_at = 0.0  # no back-off waits in a test
            intake.drain()
        intake.close()
        customers = sorted(t["customer"] for t in store.tickets())
        assert customers == ["c0@example.com", "c1@example.com", "c3@example.com", "c4@example.com"]
        [record] = store.quarantined()
        assert "fails to send it" in record["reason"] and record["raw"] is None
    assert len(dovecot.folder_messages(user, password, "maild.processed")) == 4
    client = dovecot.client(user, password)
    assert client.select_folder("INBOX")[b"EXISTS"] == 1  # the unreadable one, left in place
    client.logout()


def test_once_as_a_process_parses_a_backlog_in_worker_processes(
    dovecot: Dovecot,
    imap_account: ImapAccount,
    config_file: Callable[..., Path],
    smtp_server: SmtpCapture,
) -> None:
    """A backlog goes through the parser's worker processes from the real entry point."""
    path = config_file(account=imap_account, outgoing=smtp_server)
    for i in range(30):
        dovecot.append(
            imap_account.username,
            imap_account.password,
            customer_mail(f"c{i}@example.cn", f"问题 {i}", "系统崩溃了", charset="gbk"),
        )
    result = maild_command("--config", str(path), "once")
    assert result.returncode == 0, result.stderr
    assert "taken in: 30; sent: 30" in result.stdout
    assert len(smtp_server.messages) == 30


def test_busy_listener_port_is_a_clear_error(config_file: Callable[..., Path]) -> None:
    path = config_file()
    host, port = listen_address(path)
    with socket.create_server((host, port)):
        result = maild_command("--config", str(path), "run")
    assert result.returncode == 1
    assert f"cannot listen on {host}:{port}" in result.stderr
    assert "Traceback" not in result.stderr
